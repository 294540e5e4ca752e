import ArgumentParser
import CurriculumKit

struct Next: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The tasks you can start now, most pressing first.",
        discussion: "Order: overdue first, then by due date, then by how many open tasks each would unblock (transitively), then plan order.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .short, help: "How many to show (0 for all).")
    var n = 10

    @Option(help: "Only this phase (id or number).")
    var phase: String?

    @Flag(help: "Say why each task is where it is.")
    var explain = false

    func validate() throws {
        guard n >= 0 else { throw ValidationError("-n takes 0 (all) or a positive count") }
    }

    /// The command's own options as plain values (the fast path builds these by hand).
    struct Values: Equatable {
        var n: Int
        var phase: String?
        var explain: Bool
    }

    var values: Values { Values(n: n, phase: phase, explain: explain) }

    func run() throws {
        try Self.perform(global.values, values)
    }

    /// The command on plain values, so the fast path runs it without the parser's types.
    static func perform(_ global: GlobalValues, _ options: Values) throws {
        try Context.run(global) { c in
            let state = try c.state()
            let phaseIndex = try options.phase.map { try c.tracker.phase(named: $0) }
            var entries = state.next(today: c.tracker.today, limit: options.n == 0 ? nil : options.n, phase: phaseIndex)
            if options.explain {
                let missing = entries.indices.filter { entries[$0].unblocks == nil }
                let counts = state.unblockCounts(of: missing.map { entries[$0].task })
                for (k, cnt) in zip(missing, counts) { entries[k].unblocks = cnt }
            }
            if c.json {
                struct Out: Encodable {
                    var task: TaskJSON
                    var unblocks: Int?
                    var reason: String?
                }
                let progress = try c.tracker.progress()
                c.emitJSON(
                    entries.map { e in
                        Out(
                            task: TaskJSON(e.task, state: state, progress: progress, today: c.tracker.today),
                            unblocks: e.unblocks, reason: options.explain ? NextLine.reason(e, c) : nil)
                    })
                return
            }
            if entries.isEmpty {
                c.line(
                    state.doneCount == c.plan.tasks.count ? "Everything is done." : "Nothing is ready: every open task is blocked (see `curriculum blocked`).")
                return
            }
            for (k, e) in entries.enumerated() {
                c.line(NextLine.render(e, c))
                if options.explain { c.line(c.paint("     #\(k + 1): " + NextLine.reason(e, c), .dim)) }
            }
        }
    }
}

/// One line of `next` (also used by `status`).
enum NextLine {
    static func render(_ e: NextEntry, _ c: Context) -> String {
        let plan = c.plan
        let t = plan.tasks[e.task]
        let due = e.due.map { e.overdue ? c.paint("\($0) overdue", .red, .bold) : $0.description } ?? c.paint("no due date", .dim)
        let labs = t.labs.isEmpty ? "" : c.paint("  lab: " + t.labs.joined(separator: ", "), .magenta)
        return "\(c.paint(t.id, .cyan, .bold))  \(c.number(e.task))  \(due)  \(t.title)\(labs)"
    }

    static func reason(_ e: NextEntry, _ c: Context) -> String {
        var parts: [String] = ["ready: every requirement is done"]
        if let d = e.due {
            let days = d.ordinal - c.tracker.today.ordinal
            parts.append(e.overdue ? "overdue by \(-days) day\(days == -1 ? "" : "s")" : "due \(d) (in \(days) day\(days == 1 ? "" : "s"))")
        } else {
            parts.append("no due date, so after every dated task")
        }
        if let u = e.unblocks { parts.append("unblocks \(u) open task\(u == 1 ? "" : "s") down the line") }
        parts.append("plan position \(c.number(e.task))")
        return parts.joined(separator: "; ")
    }
}
