import ArgumentParser
import CurriculumKit
import LabCatalog

struct Review: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Spaced re-runs of labs: the done tasks whose labs are due to be run again.",
        discussion: """
            A task verified by its labs (done --verify, or a passing recheck) comes back for a \
            re-run 3 days after it was verified, then 7, 21 and 60 days after each further pass \
            (60 from then on). A failing re-run flags the task regressed (it stays done), makes it \
            due at once, and the intervals start again from 3 days at its next pass. \
            `review --run` re-runs what is due and records each verdict, as `recheck` does.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("run"), help: "Run the labs of the tasks due for review and record the outcome.")
    var runDue = false

    @Flag(help: "List every scheduled task, not only those due.")
    var all = false

    @OptionGroup(title: "Lab runs (with --run)")
    var labRun: LabRunOptions

    @OptionGroup(title: "Your own work (exercise mode, with --run)")
    var subject: LabSubjectOptions

    func validate() throws {
        if !runDue, let flag = subject.chosen.kind.flag {
            throw ValidationError("\(flag) names your own work for --run to judge; add --run")
        }
    }

    /// A lab run's options as plain values.
    struct LabRunValues: Equatable {
        var quick: Bool
        var timeout: Int
    }

    /// The command's own options as plain values (the fast path builds these by hand).
    struct Values: Equatable {
        var runDue: Bool
        var all: Bool
        var labRun: LabRunValues
        var subject: LabSubject
    }

    var values: Values {
        Values(runDue: runDue, all: all, labRun: LabRunValues(quick: labRun.quick, timeout: labRun.timeout), subject: subject.chosen)
    }

    func run() throws {
        try Self.perform(global.values, values)
    }

    /// The command on plain values, so the fast path runs it without the parser's types.
    static func perform(_ global: GlobalValues, _ options: Values) throws {
        let judged = options.subject
        let (running, all, quick, timeout) = (options.runDue, options.all, options.labRun.quick, options.labRun.timeout)
        try Context.run(global) { c in
            let today = c.tracker.today
            let items = try c.tracker.reviews()
            let due = items.filter { $0.due <= today }
            let plan = c.plan
            if running {
                if due.isEmpty {
                    c.line("Nothing is due for review" + (items.first.map { "; the next is \(plan.tasks[$0.task].id) on \($0.due)." } ?? "."))
                    return
                }
                let (regressed, interrupted) = try Recheck.rerun(due.map(\.task), quick: quick, timeout: timeout, subject: judged, context: &c)
                if !c.json {
                    c.line()
                    c.line(
                        regressed.isEmpty
                            ? c.paint("Every reviewed task still passes.", .green)
                            : c.paint("Regressed: \(regressed.joined(separator: ", "))", .red, .bold) + " (still done; fix and recheck)")
                }
                if interrupted { throw ExitCode(ExitStatus.interrupted) }
                if !regressed.isEmpty { throw ExitCode(ExitStatus.failure) }
                return
            }
            let shown = all ? items : due
            if c.json {
                c.emitJSON(
                    ReviewJSON(
                        today: today.description, due: due.count, scheduled: items.count,
                        tasks: shown.map { ReviewJSON.Item($0, plan: plan, today: today) }))
                return
            }
            if shown.isEmpty {
                if items.isEmpty {
                    c.line("Nothing to review yet: a task verified by its labs (done --verify) comes back for a re-run after 3, 7, 21 and 60 days.")
                } else {
                    let next = items[0]
                    c.line("Nothing is due for review; the next is \(c.paint(plan.tasks[next.task].id, .cyan)) on \(next.due).")
                }
                return
            }
            c.line(c.paint("\(due.count) review\(due.count == 1 ? "" : "s") due", .bold) + (all ? " of \(items.count) scheduled" : ""))
            for item in shown {
                let t = plan.tasks[item.task]
                let delta = today.ordinal - item.due.ordinal
                let when =
                    item.regressed
                    ? c.paint("regressed", .red, .bold)
                    : delta > 0 ? c.paint("\(delta)d late", .yellow) : delta == 0 ? "today" : "in \(-delta)d"
                let passes = item.regressed ? "failed on \(item.last)" : "passed \(item.streak)× in a row, last \(item.last)"
                c.line("\(item.due)  \(when.padded(10))  \(c.paint(t.id, .cyan))  \(t.labs.joined(separator: ", "))  " + c.paint("(\(passes))", .dim))
            }
            if !due.isEmpty { c.line(c.paint("Run them: curriculum review --run", .dim)) }
        }
    }
}

struct ReviewJSON: Encodable {
    var jsonSchema = JSONSchema.version
    var today: String
    var due: Int
    var scheduled: Int
    var tasks: [Item]
    enum CodingKeys: String, CodingKey { case jsonSchema = "json_schema", today, due, scheduled, tasks }

    struct Item: Encodable {
        var id: String
        var labs: [String]
        var due: String
        var isDue: Bool
        var last: String
        var streak: Int
        var interval: Int
        var regressed: Bool

        init(_ item: ReviewSchedule.Item, plan: Plan, today: Day) {
            id = plan.tasks[item.task].id; labs = plan.tasks[item.task].labs
            due = item.due.description; isDue = item.due <= today; last = item.last.description
            streak = item.streak; interval = item.interval; regressed = item.regressed
        }

        enum CodingKeys: String, CodingKey { case id, labs, due, isDue = "is_due", last, streak, interval, regressed }
    }
}
