import ArgumentParser
import CurriculumKit
import Foundation

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn a markdown checklist note into a plan file; optionally record its ticked boxes as progress.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The markdown note.")
    var note: String

    @Option(name: .shortAndLong, help: "Write the plan here (default: standard output).")
    var output: String?

    @Flag(
        name: .customLong("with-progress"), help: "Record each ticked box ([x]) as done in the progress database, on its Obsidian Tasks ✅ date when it has one."
    )
    var withProgress = false

    func run() throws {
        var out = Terminal(noColor: global.noColor)
        defer { out.flush() }
        func fail(_ message: String, _ status: Int32) -> ExitCode {
            out.flush()
            Terminal.error(message)
            return ExitCode(status)
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: note, isDirectory: &isDir) else { throw fail("no note at \(note).", ExitStatus.missingFile) }
        guard !isDir.boolValue else { throw fail("\(note) is a folder, not a note.", ExitStatus.missingFile) }
        guard let data = FileManager.default.contents(atPath: note) else { throw fail("cannot read \(note).", ExitStatus.missingFile) }
        let imported: ImportedNote
        do {
            imported = try NoteImporter.importNote(data: data, file: (note as NSString).lastPathComponent)
        } catch {
            throw fail("\(note): \(error.description)", ExitStatus.badPlan)
        }
        let yaml = PlanWriter.yaml(imported.plan)
        // What we write must load: check it before anything touches the disk.
        let check = PlanLoader.load(text: yaml, file: output ?? "(imported plan)", knownLabs: Tracker.knownLabs)
        guard check.errors.isEmpty, let plan = check.plan else {
            throw fail("the plan made from \(note) does not validate:\n" + check.errors.map(\.description).joined(separator: "\n"), ExitStatus.badPlan)
        }
        for w in imported.warnings { Terminal.warn(w.description) }
        if let output {
            do { try AtomicFile.write(yaml, to: output) } catch { throw fail("cannot write \(output): \(error)", ExitStatus.cannotCreate) }
            Terminal.warn("Wrote \(output): \(plan.phases.count) phases, \(plan.tasks.count) tasks.")
        } else {
            out.line(yaml.hasSuffix("\n") ? String(yaml.dropLast()) : yaml)
        }
        if withProgress {
            var options = global.values.trackerOptions
            options.planFile = nil
            let path = Tracker.databasePath(for: plan.id, options: options)
            do {
                let store = try Store(path: path)
                let day =
                    try options.today.map { t -> Day in
                        guard let d = Day(iso: t) else { throw ValidationError("--today takes a date as YYYY-MM-DD") }
                        return d
                    } ?? Day.today()
                let leaves = imported.ticked.filter { id in plan.taskIndex[id].map { plan.parts[$0].isEmpty } ?? false }
                // A `✅ YYYY-MM-DD` (Obsidian Tasks) is the check-off's day; else today.
                var byDay: [Day: [String]] = [:]
                for id in leaves { byDay[imported.doneOn[id] ?? day, default: []].append(id) }
                var written: [Event] = []
                for d in byDay.keys.sorted() {
                    written += try store.checkOff(
                        byDay[d]!.map { Store.CheckOff(task: $0) }, day: d,
                        note: "imported from \((note as NSString).lastPathComponent)")
                }
                Terminal.warn("Recorded \(written.count) ticked task\(written.count == 1 ? "" : "s") as done in \(path).")
            } catch let e as StoreError {
                throw fail(e.description, e.exitStatus)
            }
        }
    }
}
