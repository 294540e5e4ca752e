import ArgumentParser
import CurriculumKit

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "History, newest first.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .short, help: "How many events (0 for all).")
    var n = 20

    func run() throws {
        try Context.run(global.values) { c in
            let events: [Event]
            let undone: Set<Int64>
            do {
                let store = try c.tracker.store()
                events = try store.log(limit: n == 0 ? nil : n)
                undone = try store.undoneEventIDs()
            } catch let e as StoreError { throw CurriculumError.store(e) }
            if c.json { c.emitJSON(events); return }
            if events.isEmpty { c.line("No history yet: check a task off with `curriculum done TASK`."); return }
            for e in events { c.line(LogLine.render(e, c, undone: undone)) }
        }
    }
}

enum LogLine {
    static func render(_ e: Event, _ c: Context, undone: Set<Int64>) -> String {
        let when = e.at.prefix(16).replacingOccurrences(of: "T", with: " ")
        let task = c.paint(e.task ?? "", .cyan)
        var text: String
        switch e.kind {
        case .checked:
            text =
                "checked off \(task)" + (e.verified ? (e.subject.map { " (verified against \($0.description))" } ?? " (verified)") : "")
                + (e.day != String(e.at.prefix(10)) ? " for \(e.day)" : "")
        case .reopened: text = "reopened \(task)"
        case .labRun: text = "ran lab \(e.note ?? "") for \(task): " + (e.passed == true ? c.paint("passed", .green) : c.paint("did not pass", .red))
        case .rechecked: text = "rechecked \(task): " + (e.passed == true ? c.paint("still passes", .green) : c.paint("regressed", .red))
        case .undo: text = "undid event #\(e.target ?? 0) (\(task))"
        case .started: text = "set your start to \(e.day)"
        }
        if e.kind != .labRun && e.kind != .started, let note = e.note { text += " — \(note)" }
        if let id = e.id, undone.contains(id) { text = c.paint(text + " [undone]", .dim) }
        return "#\(e.id ?? 0)".padded(6) + " \(when)  \(text)"
    }
}
