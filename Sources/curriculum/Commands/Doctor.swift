import ArgumentParser
import CurriculumKit
import Foundation
import LabCatalog

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the database's integrity, orphaned progress, and plan/database mismatches.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var out = Terminal(noColor: global.noColor)
        defer { out.flush() }
        var problems = 0
        func ok(_ s: String) { out.line(out.paint("✓ ", .green) + s) }
        func bad(_ s: String) { problems += 1; out.line(out.paint("✗ ", .red) + s) }
        func note(_ s: String) { out.line(out.paint("! ", .yellow) + s) }

        let tracker: Tracker
        do { tracker = try Tracker(global.values.trackerOptions) } catch {
            bad(error.description)
            out.flush()
            throw ExitCode(error.exitStatus)
        }
        ok("plan: \(tracker.planSource), \(tracker.plan.phases.count) phases, \(tracker.plan.tasks.count) tasks")
        for w in tracker.warnings.prefix(10) { note(w.description) }
        if tracker.warnings.count > 10 { note("… and \(tracker.warnings.count - 10) more warnings (curriculum validate)") }

        let path = tracker.databasePath
        if !FileManager.default.fileExists(atPath: path) {
            ok("database: \(path) does not exist yet; it is created on the first check-off")
        } else {
            do {
                let store = try tracker.store()
                let health = try store.health()
                if health.integrity == ["ok"] {
                    ok("database: \(path), integrity ok, \(health.events) events" + (store.readOnly ? " (read-only)" : ""))
                } else {
                    bad("database: \(path) fails its integrity check: \(health.integrity.prefix(3).joined(separator: "; "))")
                }
                if health.driftedTasks.isEmpty {
                    ok("the event log replays to exactly the current state")
                } else {
                    bad("the current state differs from the event log for: \(health.driftedTasks.joined(separator: ", "))")
                }
                let progress = try tracker.progress()
                if progress.orphans.isEmpty {
                    ok("no orphaned progress")
                } else {
                    bad(
                        "progress recorded for tasks no longer in the plan: \(progress.orphans.map { "\($0.task) (done \($0.doneOn))" }.joined(separator: ", ")); it is kept — add `renamed-from: [old-id]` to the task it became"
                    )
                }
                if !progress.onParents.isEmpty {
                    note(
                        "tasks that now have parts had been checked off by hand: \(progress.onParents.map { tracker.plan.tasks[$0].id }.joined(separator: ", ")); they count as done only when all their parts are"
                    )
                }
            } catch let e as CurriculumError {
                bad(e.description)
            } catch let e as StoreError {
                bad(e.description)
            }
        }
        if let labs = LabHost.locateLabsBinary() { ok("labs: \(labs)") } else { note("labs are not built: \(LabHost.buildCommand)") }
        let swept = LabHost.sweepAbandoned()
        if !swept.isEmpty {
            note(
                "stopped what \(swept.count) killed lab run\(swept.count == 1 ? "" : "s") left running and removed \(swept.count == 1 ? "its scratch folder" : "their scratch folders"): \(swept.joined(separator: ", "))"
            )
        }
        let missing = Set(ProgramFinder.missing(LabCatalog.all.flatMap(\.needs)))
        for m in missing.sorted(by: { $0.name < $1.name }) { note("\(m.name) is not installed, so its labs cannot run: \(m.installCommand)") }
        if problems > 0 {
            out.line(out.paint("\(problems) problem\(problems == 1 ? "" : "s") found.", .red, .bold))
            out.flush()
            throw ExitCode(ExitStatus.failure)
        }
    }
}
