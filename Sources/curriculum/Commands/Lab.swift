import ArgumentParser
import CurriculumKit
import Foundation
import LabCatalog

struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Runnable, self-checking labs: list them, read about one, run them, start your own.",
        subcommands: [LabListCommand.self, LabShowCommand.self, LabRunCommand.self, LabInitCommand.self]
    )
}

struct LabListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every lab, with its task and what it needs.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only this phase (number).")
    var phase: Int?

    func run() throws {
        let labs = LabCatalog.all.filter { phase == nil || $0.phase == phase }
        var out = Terminal(noColor: global.noColor)
        defer { out.flush() }
        if global.json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            out.line(String(decoding: (try? enc.encode(labs)) ?? Data(), as: UTF8.self))
            return
        }
        var lastPhase = 0
        for lab in labs {
            if lab.phase != lastPhase {
                lastPhase = lab.phase
                out.line(out.paint("Phase \(lab.phase)", .bold))
            }
            let needs = lab.needs.isEmpty ? "" : out.paint("  needs " + lab.needs.map(\.name).joined(separator: ", "), .dim)
            let yours = lab.subjects.isEmpty ? "" : out.paint("  judges yours: " + lab.subjects.compactMap(\.flag).joined(separator: " "), .cyan)
            out.line("  \(out.paint(lab.id.padded(24), .magenta)) \(lab.title)\(needs)\(yours)")
        }
        if labs.isEmpty { out.line("No labs\(phase.map { " in phase \($0)" } ?? "").") }
    }
}

struct LabShowCommand: ParsableCommand {
    /// The lab of that id, else a usage error that suggests the closest ids.
    static func named(_ id: String) throws -> LabInfo {
        if let info = LabCatalog.lab(id) { return info }
        let near = Suggest.closest(to: id, in: LabCatalog.all.map(\.id), limit: 3)
        Terminal.error("no lab is named \(id)" + (near.isEmpty ? "; `curriculum lab list` shows them." : "; did you mean \(near.joined(separator: ", "))?"))
        throw ExitCode(ExitStatus.usage)
    }

    static let configuration = CommandConfiguration(commandName: "show", abstract: "A lab's goal, what it teaches, its knobs, what it needs, and its source.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A lab id.")
    var lab: String

    func run() throws {
        var out = Terminal(noColor: global.noColor)
        defer { out.flush() }
        let info = try LabShowCommand.named(lab)
        if global.json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            out.line(String(decoding: (try? enc.encode(info)) ?? Data(), as: UTF8.self))
            return
        }
        out.line(out.paint("\(info.title)", .bold) + "  (\(info.id), phase \(info.phase))")
        out.line("For task\(info.tasks.count == 1 ? "" : "s"): \(info.tasks.joined(separator: ", "))")
        out.line()
        out.line(info.teaches)
        out.line()
        if info.parameters.isEmpty {
            out.line("Parameters: none")
        } else {
            out.line(out.paint("Parameters", .bold) + " (--param NAME=VALUE)")
            for p in info.parameters {
                let quick = p.quickValue.map { ", --quick: \($0)" } ?? ""
                out.line("  \(p.name.padded(18)) default \(p.defaultValue)\(quick); allowed \(p.allowed)")
                out.line(out.paint("  \(String(repeating: " ", count: 18)) \(p.help)", .dim))
            }
        }
        if !info.needs.isEmpty {
            out.line()
            out.line(out.paint("Needs", .bold))
            for n in info.needs {
                let have = ProgramFinder.missing([n]).isEmpty
                out.line("  \(n.name): " + (have ? out.paint("installed", .green) : out.paint("missing; install with: \(n.installCommand)", .yellow)))
            }
        }
        out.line()
        out.line(out.paint("Judges", .bold) + " " + info.subjectsSentence)
        if !info.subjects.isEmpty {
            out.line("  Start your own with: curriculum lab init \(info.id) [DIR]   (a README with the task and how it is judged, and the contract)")
        }
        out.line()
        out.line("Source: \(info.source)  (its opening comment explains the concept)")
        out.line("Run it: curriculum lab run \(info.id)   (add --quick for a short run)")
    }
}

struct LabRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run labs (by lab id or task id); each checks itself. Exit 0 only when every run passed.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Lab ids or task ids (a task runs its labs).")
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
                        guard !t.labs.isEmpty else { throw CurriculumError.usage("task \(t.id) has no lab yet; `curriculum lab list` shows the labs there are.") }
                        runs += t.labs.map { ($0, t.id) }
                    } else {
                        let near = Suggest.closest(to: name, in: LabCatalog.all.map(\.id) + c.plan.tasks.map(\.id), limit: 3)
                        throw CurriculumError.usage("no lab or task is named \(name)" + (near.isEmpty ? "; `curriculum lab list` shows the labs." : "; did you mean \(near.joined(separator: ", "))?"))
                    }
                }
            }
            // Every --param must belong to a lab being run; each lab gets the ones it has.
            var perLab: [String: [String: String]] = [:]
            for (name, _) in given where !runs.contains(where: { LabCatalog.lab($0.lab)?.parameter(name) != nil }) {
                let known = Set(runs.flatMap { LabCatalog.lab($0.lab)?.parameters.map(\.name) ?? [] }).sorted()
                throw CurriculumError.usage("no lab being run has a parameter \(name); " + (known.isEmpty ? "they have none." : "allowed: \(known.joined(separator: ", "))."))
            }
            for r in runs {
                guard let info = LabCatalog.lab(r.lab) else { continue }
                let mine = given.filter { info.parameter($0.key) != nil }
                do { _ = try info.resolve(parameters: mine, quick: quick) } catch let e as LabParameterError { throw CurriculumError.usage(e.description) }
                perLab[r.lab] = mine
            }
            let outcome = try LabHost.runAndRecord(labs: runs, quick: quick, params: perLab.mapValues { $0 }, subject: judged,
                                                   timeout: timeout, context: &c)
            if runs.count > 1 && !c.json {
                c.line()
                c.line(c.paint("\(outcome.passed) passed, \(outcome.failed) failed", .bold) + (outcome.unavailable > 0 ? ", \(outcome.unavailable) unavailable" : ""))
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
        return LabInfo(id: name, title: "Test fixture \(name)", phase: 0, tasks: [], teaches: "A misbehaving lab for the tracker's own tests.",
                       source: "Sources/curriculum-labs/Fixtures.swift")
    }
}
