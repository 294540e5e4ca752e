import ArgumentParser
import CurriculumKit
import LabCatalog

struct Recheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-run the labs of done tasks; a task whose lab now fails is flagged regressed (it stays done).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Done tasks to recheck (default: every done task that has a lab).", completion: Completions.tasks)
    var tasks: [String] = []

    @OptionGroup(title: "Lab runs")
    var labRun: LabRunOptions

    @OptionGroup(title: "Your own work (exercise mode)")
    var subject: LabSubjectOptions

    func run() throws {
        let judged = subject.chosen
        try Context.run(global.values) { c in
            let state = try c.state()
            let plan = c.plan
            var chosen: [Int] = []
            if tasks.isEmpty {
                chosen = plan.tasks.indices.filter { state.done[$0] && !plan.tasks[$0].labs.isEmpty && plan.parts[$0].isEmpty }
            } else {
                for name in tasks {
                    let i = try c.tracker.task(named: name)
                    guard state.done[i] else {
                        throw CurriculumError.usage(
                            "\(plan.tasks[i].id) is not done; recheck is for done tasks (run its labs with `curriculum lab run \(plan.tasks[i].id)`).")
                    }
                    guard !plan.tasks[i].labs.isEmpty else { throw CurriculumError.usage("\(plan.tasks[i].id) has no lab to recheck.") }
                    chosen.append(i)
                }
            }
            if chosen.isEmpty { c.line("No done task has a lab to recheck."); return }
            let (regressed, interrupted) = try Recheck.rerun(chosen, quick: labRun.quick, timeout: labRun.timeout, subject: judged, context: &c)
            if !c.json {
                c.line()
                c.line(
                    regressed.isEmpty
                        ? c.paint("Every rechecked task still passes.", .green)
                        : c.paint("Regressed: \(regressed.joined(separator: ", "))", .red, .bold) + " (still done; fix and recheck)")
            }
            if interrupted { throw ExitCode(ExitStatus.interrupted) }
            if !regressed.isEmpty { throw ExitCode(ExitStatus.failure) }
        }
    }

    /// Re-runs the labs of done tasks and records each verdict (a fail flags the task
    /// regressed); `recheck` and `review --run` share it.
    static func rerun(
        _ chosen: [Int], quick: Bool, timeout: Int, subject judged: LabSubject,
        context c: inout Context
    ) throws -> (regressed: [String], interrupted: Bool) {
        let plan = c.plan
        var regressed: [String] = []
        for i in chosen {
            let t = plan.tasks[i]
            let outcome = try LabHost.runAndRecord(
                labs: t.labs.map { ($0, t.id) }, quick: quick, params: [:], subject: judged,
                timeout: timeout, context: &c)
            if outcome.interrupted { return (regressed, true) }
            // "Unavailable" judges nothing: the task keeps its standing.
            if outcome.unavailable > 0 && outcome.failed == 0 { continue }
            do {
                for id in [t.id] + t.renamedFrom {
                    try c.tracker.store().recordRecheck(task: id, passed: outcome.allPassed, subject: judged, day: c.tracker.today)
                }
            } catch let e as StoreError { throw CurriculumError.store(e) }
            if !outcome.allPassed { regressed.append(t.id) }
        }
        return (regressed, false)
    }
}
