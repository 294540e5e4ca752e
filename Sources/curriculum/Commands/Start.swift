import ArgumentParser
import CurriculumKit

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Your own start: the plan's due dates keep their shape and follow it.",
        discussion: """
            A plan with `start:` paces its due dates from that day; the tracker moves every due \
            date by the days between it and your own start. The first use of the tracker records \
            today (and says so); `start --on DATE` moves it, e.g. later after a pause. A plan \
            without `start:` keeps its dates as written.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Your start, YYYY-MM-DD (default: today when none is recorded yet).")
    var on: String?

    func run() throws {
        let on = self.on
        try Context.run(global.values, recordsStart: false) { c in
            let written = c.tracker.writtenPlan
            guard let planStart = written.start else {
                if c.json { c.emitJSON(StartJSON(start: nil, planStart: nil, shift: 0, recorded: false)); return }
                c.line("This plan has no `start:`, so its due dates stay as written; nothing was recorded.")
                return
            }
            let recorded: Day?
            do { recorded = try c.tracker.store().learnerStart() } catch let e as StoreError { throw CurriculumError.store(e) }
            var start = recorded
            var changed = false
            if let on {
                guard let d = Day(iso: on) else { throw CurriculumError.usage("--on takes a date as YYYY-MM-DD, not \(on).") }
                if d != recorded { try c.tracker.recordStart(d); changed = true }
                start = d
            } else if recorded == nil {
                try c.tracker.recordStart(c.tracker.today)
                start = c.tracker.today
                changed = true
            }
            let s = start ?? planStart
            let shift = s.ordinal - planStart.ordinal
            if c.json { c.emitJSON(StartJSON(start: s.description, planStart: planStart.description, shift: shift, recorded: changed)); return }
            let first = c.plan.tasks.indices.compactMap { c.plan.due(of: $0) }.min()
            c.line(
                (changed ? "Your start is now " : "You started on ") + c.paint(s.description, .bold)
                    + " (the plan's own is \(planStart)): due dates move by \(shift) day\(abs(shift) == 1 ? "" : "s")"
                    + (first.map { ", the first is \($0)." } ?? "."))
            if !changed { c.line(c.paint("`curriculum start --on DATE` moves it.", .dim)) }
        }
    }
}

struct StartJSON: Encodable {
    var start: String?
    var planStart: String?
    var shift: Int
    var recorded: Bool
    var jsonSchema = JSONSchema.version
    enum CodingKeys: String, CodingKey { case start, planStart = "plan_start", shift, recorded, jsonSchema = "json_schema" }
}
