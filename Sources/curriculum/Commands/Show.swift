import ArgumentParser
import CurriculumKit
import LabCatalog

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Everything about one task: state, dates, every relation both ways, labs, history.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A task id, a unique prefix of one, or PHASE.N.", completion: Completions.tasks)
    var task: String

    func run() throws {
        try Context.run(global.values) { c in
            let i = try c.tracker.task(named: task)
            let state = try c.state()
            let progress = try c.tracker.progress()
            let store = try c.tracker.store()
            let plan = c.plan
            let t = plan.tasks[i]
            let history: [Event]
            let runs: [LabRun]
            do {
                history = try t.renamedFrom.reduce(try store.log(limit: 50, task: t.id)) { $0 + (try store.log(limit: 50, task: $1)) }
                    .sorted { ($0.id ?? 0) > ($1.id ?? 0) }
                runs = try store.lastLabRuns(labs: t.labs, perLab: 3)
            } catch let e as StoreError { throw CurriculumError.store(e) }
            if c.json {
                struct Out: Encodable {
                    var task: TaskJSON
                    var unblocks: [String]
                    var generated: [String]
                    var notes: String?
                    var labRuns: [LabRun]
                    var history: [Event]
                    var jsonSchema = JSONSchema.version
                    enum CodingKeys: String, CodingKey { case task, unblocks, generated, notes, labRuns = "lab_runs", history, jsonSchema = "json_schema" }
                }
                c.emitJSON(
                    Out(
                        task: TaskJSON(i, state: state, progress: progress, today: c.tracker.today),
                        unblocks: state.dependents[i].map { plan.tasks[$0].id },
                        generated: plan.tasks.filter { $0.generatedFrom == t.id }.map(\.id),
                        notes: t.notes, labRuns: runs, history: history))
                return
            }
            let p = progress.byTask[i]
            let phase = plan.phases[t.phase]
            c.line(c.paint(t.title, .bold))
            c.line("\(c.paint(t.id, .cyan))  \(c.number(i))  in \(phase.icon.map { $0 + " " } ?? "")Phase \(phase.number): \(phase.title)")
            var stateText: String
            switch state.status[i] {
            case .done:
                stateText = c.paint("done", .green)
                if let p {
                    stateText +=
                        " on \(p.doneOn)"
                        + (p.verified
                            ? (p.subject.map { ", verified by its labs against your own work (\($0.description))" }
                                ?? ", verified by its labs (on their reference)") : "") + (p.regressed ? c.paint(", REGRESSED: its labs now fail", .red) : "")
                } else if !plan.parts[i].isEmpty {
                    stateText += " (all its parts are done)"
                }
            case .ready: stateText = c.paint("ready", .cyan) + ": every requirement is done"
            case .blocked: stateText = c.paint("blocked", .yellow)
            }
            c.line("State:          \(stateText)")
            if let d = plan.due(of: i) {
                let own: String
                if t.due != nil {
                    own = ""
                } else if let par = plan.parent[i], plan.due(of: par) == d {
                    own = " (from its parent)"
                } else {
                    own = " (from its phase)"
                }
                c.line("Due:            \(c.dueText(i, today: c.tracker.today))\(own)")
            }
            if let note = p?.note { c.line("Note:           \(note)") }
            func names(_ list: [Int]) -> String {
                list.map { k in "\(c.statusMark(state.status[k])) \(plan.tasks[k].id)" }.joined(separator: ", ")
            }
            let b = state.blockers(of: i)
            if !t.requires.isEmpty { c.line("Requires:       \(t.requires.joined(separator: ", "))") }
            if state.effectiveRequires[i] != plan.requires[i] {
                c.line("  with its parent's: \(names(state.effectiveRequires[i]))")
            }
            if !state.done[i], !(b.requirements + b.parts).isEmpty { c.line("Blocked by:     \(names(b.requirements + b.parts))") }
            if !state.dependents[i].isEmpty { c.line("Unblocks:       \(names(state.dependents[i]))") }
            if let par = plan.parent[i] { c.line("Part of:        \(names([par]))") }
            if !plan.parts[i].isEmpty { c.line("Parts:          \(names(plan.parts[i]))  (done when all are done)") }
            if let g = t.generatedFrom { c.line("Generated from: \(g)") }
            let generated = plan.tasks.indices.filter { plan.tasks[$0].generatedFrom == t.id }
            if !generated.isEmpty { c.line("Generated:      \(names(generated))") }
            if !t.renamedFrom.isEmpty { c.line("Renamed from:   \(t.renamedFrom.joined(separator: ", "))") }
            if let notes = t.notes { c.line(); c.line(notes) }
            if !t.labs.isEmpty {
                c.line()
                c.line(c.paint("Labs", .bold))
                for lab in t.labs {
                    let info = LabCatalog.lab(lab)
                    c.line("  \(c.paint(lab, .magenta))  \(info?.title ?? "")   curriculum lab run \(lab)")
                    for r in runs where r.lab == lab {
                        let mark =
                            r.outcome == "passed"
                            ? c.paint("passed", .green) : r.outcome == "unavailable" ? c.paint("unavailable", .yellow) : c.paint("failed", .red)
                        c.line(
                            "    \(r.at.prefix(16).replacingOccurrences(of: "T", with: " "))  \(mark)  \(r.checksPassed)/\(r.checksTotal) checks  \(String(format: "%.1f s", r.seconds))\(r.quick ? " (quick)" : "")"
                                + (r.subject.map { "  " + c.paint("judged \($0.description)", .cyan) } ?? ""))
                    }
                }
            }
            if !history.isEmpty {
                c.line()
                c.line(c.paint("History", .bold))
                for e in history.prefix(10) { c.line("  " + LogLine.render(e, c, undone: [])) }
            }
        }
    }
}
