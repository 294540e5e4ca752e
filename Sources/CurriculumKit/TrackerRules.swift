import Foundation
import LabCatalog

/// The tracker's rules apart from any command: a check-off's refusals (a parent is done by
/// its parts, a blocked task needs `force`), and how a lab run is recorded.
extension Tracker {
    /// The state once `tasks` (indices) are checked off, or the refusal of the first that
    /// cannot be: nothing is recorded when any named task is refused. A requirement counts
    /// as met when it is done once the whole batch is (named in it, or a parent whose open
    /// parts are all named in it).
    public func stateAfterCheckOff(_ tasks: [Int], force: Bool) throws(CurriculumError) -> PlanState {
        let state = try state()
        let plan = state.plan
        var checkedAfter = state.done
        for i in tasks { checkedAfter[i] = true }
        let after = PlanState(plan: plan, checked: checkedAfter)
        let doneAfter = after.done
        for i in tasks {
            let t = plan.tasks[i]
            if !plan.parts[i].isEmpty {
                let open = plan.parts[i].filter { !state.done[$0] }.map { plan.tasks[$0].id }
                throw .refused(
                    "\(t.id) is done when its parts are done, so it cannot be checked off by hand"
                        + (open.isEmpty ? "." : "; still open: \(open.joined(separator: ", ")).")
                        + (open.isEmpty ? "" : " Check those off instead."))
            }
            let open = state.blockers(of: i).requirements.filter { !doneAfter[$0] }
            if !open.isEmpty && !force && !state.done[i] {
                throw .refused(
                    "\(t.id) is blocked by \(open.map { plan.tasks[$0].id }.joined(separator: ", ")); finish those first, or pass --force to check it off anyway."
                )
            }
        }
        return after
    }

    /// Records one lab run for `task` (a run is history even when it failed).
    public func recordLabRun(_ r: LabReport, task: String?) throws(CurriculumError) {
        let figures = (try? JSONEncoder().encode(r.figures)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        let record = LabRun(
            lab: r.lab, task: task, at: "", seconds: r.seconds, outcome: r.outcome.rawValue, quick: r.quick,
            checksPassed: r.checks.filter(\.passed).count, checksTotal: r.checks.count, figures: figures, error: r.error,
            subject: r.subject)
        let db = try store()
        do { try db.recordLabRun(record, day: today) } catch { throw .store(error) }
    }
}
