import ArgumentParser
import CurriculumKit

struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Share progress across machines through a folder you keep in git.",
        discussion: """
            Each machine appends its own events to DIR/<machine>.jsonl (one JSON object a line; \
            never another machine's file, so git never conflicts) and takes in the events of every \
            other file there. The state is a replay of the whole log in one order (time, then \
            event id), so every machine that has the same files reaches the same state; an undo \
            is an event like any other. Nothing from either side is lost. A file with a bad or cut \
            short line is left out whole (exit 65) until it is fixed. Typical use: \
            `git pull && curriculum sync progress/ && git add progress && git commit -m progress && git push`.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The folder of event files (created when missing).", completion: .directory)
    var folder: String

    func run() throws {
        let folder = self.folder
        try Context.run(global.values) { c in
            let report: Sync.Report
            do { report = try c.tracker.store().sync(folder: folder) } catch let e as StoreError { throw CurriculumError.store(e) }
            if c.json {
                c.emitJSON(
                    SyncJSON(
                        machine: report.machine, exported: report.exported, imported: report.imported, files: report.files,
                        problems: report.problems.map(\.description)))
            } else {
                c.line(
                    "Synced with \(folder): \(report.imported) event\(report.imported == 1 ? "" : "s") taken in, \(report.exported) written to \(report.machine).jsonl."
                )
            }
            if !report.problems.isEmpty {
                c.out.flush()
                for p in report.problems { Terminal.error(p.description) }
                throw ExitCode(ExitStatus.badPlan)
            }
        }
    }
}

struct SyncJSON: Encodable {
    var machine: String
    var exported: Int
    var imported: Int
    var files: Int
    var problems: [String]
    var jsonSchema = JSONSchema.version
    enum CodingKeys: String, CodingKey { case machine, exported, imported, files, problems, jsonSchema = "json_schema" }
}
