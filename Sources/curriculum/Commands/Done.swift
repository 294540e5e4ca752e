import ArgumentParser
import CurriculumKit
import Foundation
import LabCatalog

struct Done: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check tasks off; prints what they unblocked.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Task ids, unique prefixes, or PHASE.N.", completion: Completions.tasks)
    var tasks: [String] = []

    @Option(help: "Read more task names from this file, one per line (- for standard input).")
    var from: String?

    @Option(help: "A note to keep with the check-off.")
    var note: String?

    @Option(help: "The day it was done, YYYY-MM-DD (default: today).")
    var on: String?

    @Flag(help: "Check off even when requirements are not done.")
    var force = false

    @Flag(help: "Run the task's labs first; check it off (as verified) only if they pass.")
    var verify = false

    @Flag(help: "With --verify: run the labs with shrunk workloads.")
    var quick = false

    @Option(help: "With --verify: the labs' time limit in seconds.")
    var timeout: Int = LabRunOptions.defaultTimeout

    @OptionGroup(title: "With --verify, your own work (exercise mode)")
    var subject: LabSubjectOptions

    /// The command's own options as plain values (the fast path builds these by hand).
    struct Values: Equatable {
        var tasks: [String]
        var from: String?
        var note: String?
        var on: String?
        var force: Bool
        var verify: Bool
        var quick: Bool
        var timeout: Int
        /// What `--verify`'s labs judge: the reference, or the learner's own work.
        var subject: LabSubject = .reference
    }

    var values: Values {
        Values(
            tasks: tasks, from: from, note: note, on: on, force: force, verify: verify, quick: quick, timeout: timeout,
            subject: subject.chosen)
    }

    func validate() throws {
        if !verify, let flag = subject.chosen.kind.flag {
            throw ValidationError("\(flag) names your own work for --verify to judge; add --verify")
        }
    }

    func run() throws {
        try Self.perform(global.values, values)
    }

    /// The command on plain values, so the fast path runs it without the parser's types.
    static func perform(_ global: GlobalValues, _ options: Values) throws {
        var names = options.tasks
        if let from = options.from {
            let text: String
            if from == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                guard let t = try? String(contentsOfFile: from, encoding: .utf8) else {
                    Terminal.error("cannot read \(from)")
                    throw ExitCode(ExitStatus.missingFile)
                }
                text = t
            }
            names += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        guard !names.isEmpty else { throw ValidationError("name at least one task to check off") }
        let day = try options.on.map { text -> Day in
            guard let d = Day(iso: text) else { throw ValidationError("--on takes a date as YYYY-MM-DD, not \(text)") }
            return d
        }
        try Context.run(global) { c in
            let plan = c.plan
            let state = try c.state()
            var indices: [Int] = []
            var seen = Set<Int>()
            for name in names {
                let i = try c.tracker.task(named: name)
                if seen.insert(i).inserted { indices.append(i) }
            }
            // Refusals first (CurriculumKit's rules), so nothing is recorded when any named
            // task cannot be checked off.
            let hypothetical = try c.tracker.stateAfterCheckOff(indices, force: options.force)
            var verifiedSet = Set<Int>()
            if options.verify {
                for i in indices {
                    let t = plan.tasks[i]
                    guard !t.labs.isEmpty else { throw CurriculumError.refused("\(t.id) has no lab, so it cannot be verified; check it off without --verify.") }
                    let outcome = try LabHost.runAndRecord(
                        labs: t.labs.map { ($0, t.id) }, quick: options.quick, params: [:],
                        subject: options.subject, timeout: options.timeout, context: &c)
                    guard outcome.allPassed else {
                        throw CurriculumError.refused("\(t.id) was not checked off: \(outcome.summary).")
                    }
                    verifiedSet.insert(i)
                }
            }
            let store = try c.tracker.store()
            let written: [Event]
            do {
                written = try store.checkOff(
                    indices.map {
                        Store.CheckOff(
                            task: plan.tasks[$0].id, verified: verifiedSet.contains($0),
                            subject: options.subject)
                    },
                    day: day ?? c.tracker.today, note: options.note)
            } catch let e as StoreError { throw CurriculumError.store(e) }
            let writtenIDs = Set(written.compactMap(\.task))
            // The state after the write is the one already built for the refusals: reading
            // the database again would only repeat it.
            let after = hypothetical
            let newly = plan.tasks.indices.filter { state.status[$0] == .blocked && after.status[$0] == .ready }
            if c.json {
                struct Out: Encodable {
                    var checked: [String]; var alreadyDone: [String]; var unblocked: [String]; var done: Int; var total: Int
                    var jsonSchema = JSONSchema.version
                    enum CodingKeys: String, CodingKey { case checked, alreadyDone = "already_done", unblocked, done, total, jsonSchema = "json_schema" }
                }
                c.emitJSON(
                    Out(
                        checked: indices.map { plan.tasks[$0].id }.filter { writtenIDs.contains($0) },
                        alreadyDone: indices.map { plan.tasks[$0].id }.filter { !writtenIDs.contains($0) },
                        unblocked: newly.map { plan.tasks[$0].id },
                        done: after.doneCount, total: plan.tasks.count))
                return
            }
            let shown = indices.count > 20 ? Array(indices.prefix(20)) : indices
            for i in shown {
                let t = plan.tasks[i]
                if writtenIDs.contains(t.id) {
                    c.line(
                        "\(c.statusMark(.done, verified: verifiedSet.contains(i), ownWork: options.subject.isOwnWork)) \(c.paint(t.id, .cyan)) done\(verifiedSet.contains(i) ? (options.subject.isOwnWork ? " (verified against your own work)" : " (verified)") : ""): \(t.title)"
                    )
                } else {
                    c.line(c.paint("  \(t.id) was already done.", .dim))
                }
            }
            if indices.count > shown.count { c.line("  … and \(indices.count - shown.count) more (\(written.count) newly recorded in all)") }
            for p in Set(indices.compactMap { plan.parent[$0] }).sorted() where after.done[p] && !state.done[p] {
                c.line(c.paint("✓ \(plan.tasks[p].id) is done: all its parts are done.", .green))
            }
            let unblocked = newly
            if !unblocked.isEmpty {
                c.line(c.paint("Unblocked:", .bold))
                for k in unblocked.prefix(20) { c.line("  \(c.paint(plan.tasks[k].id, .cyan))  \(c.number(k))  \(plan.tasks[k].title)") }
                if unblocked.count > 20 { c.line("  … and \(unblocked.count - 20) more") }
            }
            c.line(c.paint("\(after.doneCount)/\(plan.tasks.count) done.", .dim))
        }
    }
}
