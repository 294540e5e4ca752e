import ArgumentParser
import CurriculumKit

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Tasks with their state.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only this phase (id or number).")
    var phase: String?

    @Flag(help: "Only tasks you can start now.") var ready = false
    @Flag(help: "Only blocked tasks.") var blocked = false
    @Flag(help: "Only done tasks.") var done = false
    @Flag(help: "Only tasks not done.") var open = false
    @Flag(help: "Nest parts under their parent.") var tree = false

    /// The command's own options as plain values (the fast path builds these by hand).
    struct Values: Equatable {
        var phase: String?
        var ready: Bool
        var blocked: Bool
        var done: Bool
        var open: Bool
        var tree: Bool
    }

    var values: Values { Values(phase: phase, ready: ready, blocked: blocked, done: done, open: open, tree: tree) }

    func run() throws {
        try Self.perform(global.values, values)
    }

    /// The command on plain values, so the fast path runs it without the parser's types.
    static func perform(_ global: GlobalValues, _ options: Values) throws {
        try Context.run(global) { c in
            let state = try c.state()
            let progress = try c.tracker.progress()
            let plan = c.plan
            let phaseIndex = try options.phase.map { try c.tracker.phase(named: $0) }
            func keep(_ i: Int) -> Bool {
                if let phaseIndex, plan.tasks[i].phase != phaseIndex { return false }
                let s = state.status[i]
                if options.ready && s != .ready { return false }
                if options.blocked && s != .blocked { return false }
                if options.done && s != .done { return false }
                if options.open && s == .done { return false }
                return true
            }
            let shown = plan.tasks.indices.filter(keep)
            if c.json {
                c.emitJSON(shown.map { TaskJSON($0, state: state, progress: progress, today: c.tracker.today) })
                return
            }
            let shownSet = Set(shown)
            var lastPhase = -1
            func row(_ i: Int, depth: Int) {
                let t = plan.tasks[i]
                let p = progress.byTask[i]
                let mark = c.statusMark(
                    state.status[i], verified: p?.verified ?? false, ownWork: p?.verifiedOwnWork ?? false,
                    regressed: p?.regressed ?? false)
                let indent = String(repeating: "    ", count: depth)
                let due = c.dueText(i, today: c.tracker.today)
                c.line("\(indent)\(mark) \(c.number(i).padded(5)) \(c.paint(t.id, .cyan).padded(0)) \(t.title)\(due.isEmpty ? "" : c.paint("  ", .dim) + due)")
            }
            for i in shown {
                if options.tree && plan.parent[i] != nil && shownSet.contains(plan.parent[i] ?? -1) { continue }
                if plan.tasks[i].phase != lastPhase {
                    lastPhase = plan.tasks[i].phase
                    let ph = plan.phases[lastPhase]
                    c.line(c.paint("\(ph.icon.map { $0 + " " } ?? "")Phase \(ph.number): \(ph.title)", .bold))
                }
                row(i, depth: 0)
                if options.tree {
                    var stack = plan.parts[i].reversed().map { ($0, 1) }
                    while let (k, d) = stack.popLast() {
                        if shownSet.contains(k) { row(k, depth: d) }
                        stack.append(contentsOf: plan.parts[k].reversed().map { ($0, d + 1) })
                    }
                }
            }
            if shown.isEmpty { c.line("No task matches.") }
        }
    }
}
