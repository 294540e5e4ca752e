import ArgumentParser
import CurriculumKit

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Where you are: progress per phase, overdue tasks, what's next.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Self.perform(global.values)
    }

    /// The command on plain values, so the fast path runs it without the parser's types.
    static func perform(_ global: GlobalValues) throws {
        try Context.run(global) { c in
            let state = try c.state()
            let progress = try c.tracker.progress()
            let plan = c.plan
            let today = c.tracker.today
            let overdue = plan.tasks.indices.filter { !state.done[$0] && (plan.due(of: $0).map { $0 < today } ?? false) }
            let next = state.next(today: today, limit: 3)
            let verifiedTasks = progress.byTask.filter { state.done[$0.key] && $0.value.verified && !$0.value.regressed }
            let verified = verifiedTasks.count
            let ownWork = verifiedTasks.filter { $0.value.verifiedOwnWork }.count
            let reviewsDue = try c.tracker.reviewsDue()
            let regressed = progress.byTask.filter { state.done[$0.key] && $0.value.regressed }.map { plan.tasks[$0.key].id }.sorted()
            if c.json {
                struct Out: Encodable {
                    var title: String; var today: String; var done: Int; var total: Int; var verified: Int
                    var verifiedOwnWork: Int
                    var regressed: [String]; var overdue: [String]; var next: [String]; var orphaned: [String]
                    var phases: [PhaseJSON]
                    var learnerStart: String?; var reviewsDue: Int; var jsonSchema = JSONSchema.version
                    enum CodingKeys: String, CodingKey {
                        case jsonSchema = "json_schema"
                        case title, today, done, total, verified, verifiedOwnWork = "verified_own_work", regressed, overdue, next, orphaned, phases
                        case learnerStart = "learner_start", reviewsDue = "reviews_due"
                    }
                }
                let phases = PlanJSON(state: state, progress: progress, today: today).phases
                c.emitJSON(
                    Out(
                        title: plan.title, today: today.description, done: state.doneCount, total: plan.tasks.count,
                        verified: verified, verifiedOwnWork: ownWork, regressed: regressed, overdue: overdue.map { plan.tasks[$0].id },
                        next: next.map { plan.tasks[$0.task].id }, orphaned: progress.orphans.map(\.task).sorted(),
                        phases: phases, learnerStart: plan.learnerStart?.description, reviewsDue: reviewsDue))
                return
            }
            let total = plan.tasks.count
            let pct = total == 0 ? 0 : state.doneCount * 100 / total
            c.line(
                c.paint(plan.title, .bold) + "  \(state.doneCount)/\(total) done (\(pct)%)"
                    + (verified > 0 ? ", \(verified) verified by their labs" + (ownWork > 0 ? " (\(ownWork) against your own work)" : "") : "")
                    + c.paint("  · \(today)", .dim))
            c.line()
            let titleWidth = min(48, plan.phases.map { $0.title.displayWidth }.max() ?? 20)
            for (p, phase) in plan.phases.enumerated() {
                let pr = state.progress(ofPhase: p)
                let icon = (phase.icon ?? " ").padded(2)
                let num = String(phase.number).leftPadded(2)
                let pc = pr.total == 0 ? 0 : pr.done * 100 / pr.total
                c.line(
                    "\(num) \(icon) \(phase.title.truncated(titleWidth).padded(titleWidth))  \(c.out.bar(pr.done, pr.total)) \("\(pr.done)/\(pr.total)".leftPadded(5)) \("\(pc)%".leftPadded(4))"
                )
            }
            c.line()
            if !overdue.isEmpty {
                c.line(c.paint("Overdue: \(overdue.count) task\(overdue.count == 1 ? "" : "s")", .red, .bold) + c.paint("  (curriculum due --overdue)", .dim))
            }
            if !regressed.isEmpty {
                c.line(
                    c.paint("Regressed: \(regressed.joined(separator: ", "))", .red) + c.paint("  (done, but their labs now fail; curriculum recheck)", .dim))
            }
            if reviewsDue > 0 {
                c.line(
                    c.paint("Reviews due: \(reviewsDue)", .yellow) + c.paint("  (labs to run again so what was learned stays learned; curriculum review)", .dim)
                )
            }
            if !progress.orphans.isEmpty {
                c.line(
                    c.paint("Orphaned progress: \(progress.orphans.map(\.task).sorted().joined(separator: ", "))", .yellow)
                        + c.paint("  (recorded for tasks no longer in the plan; add renamed-from, or see curriculum doctor)", .dim))
            }
            if next.isEmpty {
                c.line(
                    state.doneCount == total ? c.paint("Everything is done. 🎉", .green) : "Nothing is ready: every open task is blocked (curriculum blocked).")
            } else {
                c.line(c.paint("Next:", .bold))
                for e in next { c.line("  " + NextLine.render(e, c)) }
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        let w = displayWidth
        return w >= width ? self : String(repeating: " ", count: width - w) + self
    }
}
