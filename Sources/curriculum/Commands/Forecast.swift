import ArgumentParser
import CurriculumKit
import Foundation

struct ForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "When you should finish each open phase and the plan, at your own pace; which due dates are at risk.",
        discussion: """
            Method: your pace is check-offs per week over the last \(Forecast.windowWeeks) weeks (none \
            before your first check-off), each week weighted by how recent it is: the week ending \
            today counts N times, the one before N−1, … the oldest once. Likely is that weighted \
            mean; optimistic and pessimistic are one weighted standard deviation either side of \
            it (at least a quarter of it). The open tasks are taken in plan order, each after the \
            open tasks it requires and its parts, one check-off each: a phase finishes with its \
            last task in that order, the plan with the last of all. The critical path is the \
            longest chain of open tasks through `requires` and parts. A due date is at risk when \
            the likely finish of its task is later; the most late come first. Everything is \
            evaluated as of today (--today).
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "How many due dates at risk to list (all with --json).")
    var limit: Int = 10

    /// The command's own options as plain values (the fast path builds these by hand).
    struct Values: Equatable {
        var limit: Int
    }

    var values: Values { Values(limit: limit) }

    func run() throws {
        try Self.perform(global.values, values)
    }

    /// The command on plain values, so the fast path runs it without the parser's types.
    static func perform(_ global: GlobalValues, _ options: Values) throws {
        let limit = options.limit
        try Context.run(global) { c in
            let state = try c.state()
            let progress = try c.tracker.progress()
            let plan = state.plan
            var doneDays: [Int: Day] = [:]
            doneDays.reserveCapacity(progress.byTask.count)
            for (i, p) in progress.byTask { if let d = Day(iso: p.doneOn) { doneDays[i] = d } }
            let f = Forecast(state: state, doneDays: doneDays, today: c.tracker.today)
            if c.json { c.emitJSON(ForecastJSON(f, plan: plan)); return }
            if f.open == 0 && state.doneCount == plan.tasks.count {
                c.line(c.paint("Everything is done. 🎉", .green))
                return
            }
            guard let pace = f.pace else {
                c.line(
                    "No check-offs yet: the forecast measures your pace from them. Check off what you finish (curriculum done TASK) and ask again after a few.")
                c.line()
                renderPath(f, &c)
                return
            }
            func rate(_ x: Double) -> String { String(format: "%.1f", x) }
            c.line(
                c.paint("Pace", .bold)
                    + ": \(rate(pace.likely)) check-offs a week (range \(rate(pace.pessimistic))–\(rate(pace.optimistic))), from \(f.checkOffs) check-off\(f.checkOffs == 1 ? "" : "s") over the last \(f.weekly.count) week\(f.weekly.count == 1 ? "" : "s")"
            )
            if pace.likely == 0 {
                c.line(
                    c.paint("At this pace nothing finishes: no check-off in the last \(f.weekly.count) weeks", .yellow)
                        + (f.lastCheckOff.map { " (the last was on \($0))." } ?? "."))
            }
            c.line()
            func show(_ d: Day?) -> String { d?.description ?? "never" }
            c.line(c.paint("Expected finish", .bold) + "  (optimistic · likely · pessimistic)")
            let width = min(40, plan.phases.map { $0.title.displayWidth }.max() ?? 20)
            for ph in f.phases {
                let phase = plan.phases[ph.phase]
                let late = ph.due.flatMap { due in ph.finish.likely.map { $0 > due } ?? true } == true
                let due = ph.due.map { late ? c.paint("due \($0)", .red) : "due \($0)" } ?? ""
                c.line(
                    "\(String(phase.number).leftPadded(2)) \(phase.title.truncated(width).padded(width))  \(show(ph.finish.optimistic)) · \(c.paint(show(ph.finish.likely), .bold)) · \(show(ph.finish.pessimistic))  \(due)"
                )
            }
            c.line(
                "   \("The whole plan".padded(width))  \(show(f.finish.optimistic)) · \(c.paint(show(f.finish.likely), .bold)) · \(show(f.finish.pessimistic))  (\(f.open) check-offs left)"
            )
            c.line()
            renderPath(f, &c)
            c.line()
            if f.atRisk.isEmpty {
                c.line(c.paint("No due date is at risk at your likely pace.", .green))
            } else {
                c.line(c.paint("Due dates at risk: \(f.atRisk.count)", .red, .bold) + c.paint("  (most late first)", .dim))
                for r in f.atRisk.prefix(max(0, limit)) {
                    let late = r.daysLate.map { "\($0)d late" } ?? "never at this pace"
                    c.line("  \(r.due)  \(c.paint(late.padded(18), .red))  \(c.paint(plan.tasks[r.task].id, .cyan))  \(plan.tasks[r.task].title)")
                }
                if f.atRisk.count > limit { c.line(c.paint("  … \(f.atRisk.count - limit) more (--limit N, or --json)", .dim)) }
            }
        }
    }

    private static func renderPath(_ f: Forecast, _ c: inout Context) {
        let plan = c.plan
        guard !f.criticalPath.isEmpty else { return }
        let leaves = f.criticalPath.filter { plan.parts[$0].isEmpty }.count
        c.line(c.paint("Critical path", .bold) + ": \(leaves) check-off\(leaves == 1 ? "" : "s") in a row, through requires and parts")
        let ids = f.criticalPath.map { plan.tasks[$0].id }
        if ids.count <= 12 {
            c.line("  " + ids.joined(separator: " → "))
        } else {
            c.line("  " + (ids.prefix(5) + ["… \(ids.count - 10) more …"] + ids.suffix(5)).joined(separator: " → "))
        }
    }
}

struct ForecastJSON: Encodable {
    struct RangeJSON: Encodable {
        var optimistic: String?; var likely: String?; var pessimistic: String?
        init(_ r: Forecast.Range) {
            optimistic = r.optimistic?.description; likely = r.likely?.description; pessimistic = r.pessimistic?.description
        }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(optimistic, forKey: .optimistic); try c.encode(likely, forKey: .likely)
            try c.encode(pessimistic, forKey: .pessimistic)
        }
        enum CodingKeys: String, CodingKey { case optimistic, likely, pessimistic }
    }
    struct PaceJSON: Encodable { var optimistic: Double; var likely: Double; var pessimistic: Double }
    struct PhaseJSON: Encodable {
        var id: String; var number: Int; var open: Int; var due: String?; var finish: RangeJSON; var atRisk: Bool
        enum CodingKeys: String, CodingKey { case id, number, open, due, finish, atRisk = "at_risk" }
    }
    struct RiskJSON: Encodable {
        var id: String; var due: String; var expected: String?; var daysLate: Int?
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id); try c.encode(due, forKey: .due)
            try c.encode(expected, forKey: .expected); try c.encode(daysLate, forKey: .daysLate)
        }
        enum CodingKeys: String, CodingKey { case id, due, expected, daysLate = "days_late" }
    }

    var today: String
    var checkOffs: Int
    var firstCheckOff: String?
    var lastCheckOff: String?
    var weekly: [Int]
    var pace: PaceJSON?
    var open: Int
    var finish: RangeJSON
    var phases: [PhaseJSON]
    var criticalPath: [String]
    var atRisk: [RiskJSON]

    enum CodingKeys: String, CodingKey {
        case today, checkOffs = "check_offs", firstCheckOff = "first_check_off", lastCheckOff = "last_check_off", weekly, pace
        case open, finish, phases, criticalPath = "critical_path", atRisk = "at_risk", jsonSchema = "json_schema"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(today, forKey: .today); try c.encode(checkOffs, forKey: .checkOffs)
        try c.encode(firstCheckOff, forKey: .firstCheckOff); try c.encode(lastCheckOff, forKey: .lastCheckOff)
        try c.encode(weekly, forKey: .weekly); try c.encode(pace, forKey: .pace); try c.encode(open, forKey: .open)
        try c.encode(finish, forKey: .finish); try c.encode(phases, forKey: .phases)
        try c.encode(criticalPath, forKey: .criticalPath); try c.encode(atRisk, forKey: .atRisk)
        try c.encode(JSONSchema.version, forKey: .jsonSchema)
    }

    init(_ f: Forecast, plan: Plan) {
        today = f.today.description; checkOffs = f.checkOffs
        firstCheckOff = f.firstCheckOff?.description; lastCheckOff = f.lastCheckOff?.description
        weekly = f.weekly
        pace = f.pace.map { p in
            func r(_ x: Double) -> Double { (x * 100).rounded() / 100 }
            return PaceJSON(optimistic: r(p.optimistic), likely: r(p.likely), pessimistic: r(p.pessimistic))
        }
        open = f.open; finish = RangeJSON(f.finish)
        phases = f.phases.map { ph in
            let late = ph.due.map { due in ph.finish.likely.map { $0 > due } ?? true } ?? false
            return PhaseJSON(
                id: plan.phases[ph.phase].id, number: plan.phases[ph.phase].number, open: ph.open,
                due: ph.due?.description, finish: RangeJSON(ph.finish), atRisk: late)
        }
        criticalPath = f.criticalPath.map { plan.tasks[$0].id }
        atRisk = f.atRisk.map { RiskJSON(id: plan.tasks[$0.task].id, due: $0.due.description, expected: $0.expected?.description, daysLate: $0.daysLate) }
    }
}
