import ArgumentParser
import CurriculumKit
import Foundation
import LabCatalog

struct LabRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run labs (by lab id or task id); each checks itself. Exit 0 only when every run passed.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Lab ids or task ids (a task runs its labs).", completion: Completions.labsAndTasks)
    var targets: [String] = []

    @Flag(help: "Run every lab.")
    var all = false

    @OptionGroup(title: "Lab runs")
    var labRun: LabRunOptions

    @Option(name: .customLong("param"), help: "Set a lab's knob, NAME=VALUE (repeatable; `lab show` lists them).")
    var params: [String] = []

    @OptionGroup(title: "Your own work (exercise mode)")
    var subject: LabSubjectOptions

    var quick: Bool { labRun.quick }
    var timeout: Int { labRun.timeout }

    func validate() throws {
        if targets.isEmpty && !all { throw ValidationError("name a lab or a task, or pass --all") }
        if all && subject.given {
            throw ValidationError("--all runs every lab on its reference; name the lab that should judge your work")
        }
        if !targets.isEmpty && all { throw ValidationError("--all runs every lab; do not name labs with it") }
    }

    func run() throws {
        var given: [String: String] = [:]
        for p in params {
            guard let eq = p.firstIndex(of: "="), eq != p.startIndex else { throw ValidationError("--param takes NAME=VALUE, not \(p)") }
            given[String(p[..<eq])] = String(p[p.index(after: eq)...])
        }
        let judged = subject.chosen
        try Context.run(global.values) { c in
            // Resolve targets to (lab, task) pairs.
            var runs: [(lab: String, task: String?)] = []
            if all {
                let labTasks = Dictionary(c.plan.tasks.flatMap { t in t.labs.map { ($0, t.id) } }, uniquingKeysWith: { a, _ in a })
                runs = LabCatalog.all.map { ($0.id, labTasks[$0.id]) }
            } else {
                for name in targets {
                    if let info = LabCatalog.lab(name) ?? Self.testFixture(name) {
                        let task = c.plan.tasks.first { $0.labs.contains(info.id) }?.id
                        runs.append((info.id, task))
                    } else if let i = try? c.tracker.task(named: name) {
                        let t = c.plan.tasks[i]
                        guard !t.labs.isEmpty else {
                            throw CurriculumError.usage("task \(t.id) has no lab yet; `curriculum lab list` shows the labs there are.")
                        }
                        runs += t.labs.map { ($0, t.id) }
                    } else {
                        let near = Suggest.closest(to: name, in: LabCatalog.all.map(\.id) + c.plan.tasks.map(\.id), limit: 3)
                        throw CurriculumError.usage(
                            "no lab or task is named \(name)"
                                + (near.isEmpty ? "; `curriculum lab list` shows the labs." : "; did you mean \(near.joined(separator: ", "))?"))
                    }
                }
            }
            // Every --param must belong to a lab being run; each lab gets the ones it has.
            var perLab: [String: [String: String]] = [:]
            for (name, _) in given where !runs.contains(where: { LabCatalog.lab($0.lab)?.parameter(name) != nil }) {
                let known = Set(runs.flatMap { LabCatalog.lab($0.lab)?.parameters.map(\.name) ?? [] }).sorted()
                throw CurriculumError.usage(
                    "no lab being run has a parameter \(name); " + (known.isEmpty ? "they have none." : "allowed: \(known.joined(separator: ", "))."))
            }
            for r in runs {
                guard let info = LabCatalog.lab(r.lab) else { continue }
                let mine = given.filter { info.parameter($0.key) != nil }
                do { _ = try info.resolve(parameters: mine, quick: quick) } catch let e as LabParameterError { throw CurriculumError.usage(e.description) }
                perLab[r.lab] = mine
            }
            let outcome = try LabHost.runAndRecord(
                labs: runs, quick: quick, params: perLab.mapValues { $0 }, subject: judged,
                timeout: timeout, context: &c)
            if runs.count > 1 && !c.json {
                c.line()
                c.line(
                    c.paint("\(outcome.passed) passed, \(outcome.failed) failed", .bold)
                        + (outcome.unavailable > 0 ? ", \(outcome.unavailable) unavailable" : ""))
            }
            if outcome.interrupted { throw ExitCode(ExitStatus.interrupted) }
            if outcome.failed > 0 { throw ExitCode(ExitStatus.failure) }
            if outcome.unavailable > 0 { throw ExitCode(ExitStatus.unavailable) }
        }
    }
}

extension LabRunCommand {
    /// The hidden labs of curriculum-labs/Fixtures.swift, for the tracker's own tests; they
    /// exist only when CURRICULUM_LABS_FIXTURES=1 and are in no catalogue or listing.
    static func testFixture(_ name: String) -> LabInfo? {
        let ids = ["fixture-pass", "fixture-hang", "fixture-stubborn", "fixture-crash", "fixture-listen", "fixture-postgres"]
        guard ProcessInfo.processInfo.environment["CURRICULUM_LABS_FIXTURES"] == "1", ids.contains(name) else { return nil }
        return LabInfo(
            id: name, title: "Test fixture \(name)", phase: 0, tasks: [], teaches: "A misbehaving lab for the tracker's own tests.",
            source: "Sources/curriculum-labs/Fixtures.swift")
    }
}
