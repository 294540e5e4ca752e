import ArgumentParser
import CurriculumKit

struct Blocked: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open tasks that are blocked, each with what blocks it.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print only how many tasks are blocked.")
    var count = false

    /// The command's own options as plain values (the fast path builds these by hand).
    struct Values: Equatable {
        var count: Bool
    }

    var values: Values { Values(count: count) }

    func run() throws {
        try Self.perform(global.values, values)
    }

    /// The command on plain values, so the fast path runs it without the parser's types.
    static func perform(_ global: GlobalValues, _ options: Values) throws {
        try Context.run(global) { c in
            let state = try c.state()
            let plan = c.plan
            let blocked = plan.tasks.indices.filter { state.status[$0] == .blocked }
            if options.count {
                if c.json { c.emitJSON(["blocked": blocked.count]) } else { c.line(String(blocked.count)) }
                return
            }
            if c.json {
                let progress = try c.tracker.progress()
                c.emitJSON(blocked.map { TaskJSON($0, state: state, progress: progress, today: c.tracker.today) })
                return
            }
            for i in blocked {
                let b = state.blockers(of: i)
                var why: [String] = []
                if !b.requirements.isEmpty { why.append("waits for " + b.requirements.map { plan.tasks[$0].id }.joined(separator: ", ")) }
                if !b.parts.isEmpty { why.append("open parts " + b.parts.map { plan.tasks[$0].id }.joined(separator: ", ")) }
                c.line("\(c.paint(plan.tasks[i].id, .cyan))  \(c.number(i))  \(plan.tasks[i].title)")
                c.line(c.paint("    " + why.joined(separator: "; "), .dim))
            }
            if blocked.isEmpty { c.line("Nothing is blocked.") }
        }
    }
}
