import ArgumentParser
import CurriculumKit

struct Due: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open tasks by due date.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only tasks due within this many days, e.g. 14d or 2w (overdue ones included).")
    var within: String?

    @Flag(help: "Only overdue tasks.")
    var overdue = false

    func run() throws {
        let days = try within.map(Due.parseSpan)
        try Context.run(global.values) { c in
            let state = try c.state()
            let plan = c.plan
            let today = c.tracker.today
            var rows: [(Int, Day)] = []
            for i in plan.tasks.indices where !state.done[i] {
                guard let d = plan.due(of: i) else { continue }
                if overdue && !(d < today) { continue }
                if let days, d.ordinal - today.ordinal > days { continue }
                rows.append((i, d))
            }
            rows.sort { ($0.1, $0.0) < ($1.1, $1.0) }
            if c.json {
                let progress = try c.tracker.progress()
                c.emitJSON(rows.map { TaskJSON($0.0, state: state, progress: progress, today: today) })
                return
            }
            for (i, d) in rows {
                let delta = d.ordinal - today.ordinal
                let when = delta < 0 ? c.paint("\(-delta)d overdue", .red, .bold) : delta == 0 ? c.paint("today", .yellow, .bold) : "in \(delta)d"
                c.line("\(d)  \(when.padded(12))  \(c.statusMark(state.status[i])) \(c.paint(plan.tasks[i].id, .cyan))  \(plan.tasks[i].title)")
            }
            if rows.isEmpty { c.line(overdue ? "Nothing is overdue." : "Nothing is due in that window.") }
        }
    }

    /// `14d`, `2w`, `14` → days.
    static func parseSpan(_ text: String) throws -> Int {
        var digits = text
        var unit = 1
        if text.hasSuffix("d") { digits = String(text.dropLast()) } else if text.hasSuffix("w") { digits = String(text.dropLast()); unit = 7 }
        guard let n = Int(digits), n >= 0 else { throw ValidationError("--within takes a span like 14d or 2w, not \(text)") }
        return n * unit
    }
}
