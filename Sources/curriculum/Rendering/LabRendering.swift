import ArgumentParser
import CurriculumKit
import Foundation
import LabCatalog

extension LabHost {
    struct Summary {
        var passed = 0, failed = 0, unavailable = 0
        var interrupted = false
        var reports: [LabReport] = []
        var allPassed: Bool { failed == 0 && unavailable == 0 && !interrupted && passed > 0 }
        var summary: String {
            reports.filter { $0.outcome != .passed }.map { r in
                "lab \(r.lab) \(r.outcome == .unavailable ? "could not run" : "did not pass")" + (r.error.map { " (\($0))" } ?? "")
            }.joined(separator: "; ")
        }
    }

    /// Runs labs one after another, shows their progress and reports, and records each run.
    static func runAndRecord(
        labs: [(lab: String, task: String?)], quick: Bool, params: [String: [String: String]],
        subject: LabSubject = .reference, timeout: Int, context c: inout Context
    ) throws -> Summary {
        try subject.check(for: labs.map(\.lab))
        // Servers and scratch folders of runs whose tracker was killed go first.
        LabHost.sweepAbandoned()
        guard let binary = locateLabsBinary() else {
            throw CurriculumError.unavailable("the labs are not built yet; build them with: \(buildCommand)  (then run this again)")
        }
        var summary = Summary()
        let live = c.out.isTTY && !c.json
        // Several queue labs judging their references share one broker (see SharedBroker).
        let queueLabs = SharedBroker.sharers(of: labs.map(\.lab), subject: subject)
        var shared: SharedBroker?
        if !queueLabs.isEmpty {
            if live { Terminal.write(c.paint("▶ starting one RabbitMQ broker for \(queueLabs.count) queue labs…", .dim), to: STDOUT_FILENO) }
            shared = SharedBroker.start(binary: binary)
            if live { Terminal.write("\r\u{1B}[K", to: STDOUT_FILENO) }
            if let shared, let seconds = shared.startupSeconds, !c.json {
                c.line(
                    c.paint(
                        "One RabbitMQ broker for the \(queueLabs.count) queue labs (\(queueLabs.joined(separator: ", "))), started in "
                            + String(format: "%.1f s.", seconds), .dim))
            }
        }
        defer { shared?.stop() }
        for (k, run) in labs.enumerated() {
            // On a terminal one live line shows what the lab is doing, rewritten at each
            // step and check, then cleared for the report; piped output gets the report only.
            let prefix = "▶ \(run.lab)" + (labs.count > 1 ? " (\(k + 1)/\(labs.count))" : "")
            let width = Terminal.width()
            func status(_ text: String) {
                guard live else { return }
                let line = (prefix + "  " + text).truncated(width - 1)
                Terminal.write("\r\u{1B}[K" + c.paint(line, .dim), to: STDOUT_FILENO)
            }
            c.out.flush()
            status("starting…")
            var checks = 0, failedChecks = 0
            let outcome = LabHost.run(
                binary: binary, lab: run.lab, quick: quick, parameters: params[run.lab] ?? [:],
                subject: subject, timeLimit: TimeInterval(timeout)
            ) { event in
                switch event {
                case let .step(s): status("· " + s.title)
                case let .check(ch):
                    checks += 1
                    if !ch.passed { failedChecks += 1 }
                    status("\(checks) checks, \(failedChecks) failed · " + ch.name)
                default: return
                }
            }
            if live { Terminal.write("\r\u{1B}[K", to: STDOUT_FILENO) }
            let r = outcome.report
            summary.reports.append(r)
            switch r.outcome {
            case .passed: summary.passed += 1
            case .failed: summary.failed += 1
            case .unavailable: summary.unavailable += 1
            }
            if outcome.interrupted { summary.interrupted = true }
            try c.tracker.recordLabRun(r, task: run.task)
            if c.json { c.emitJSON(r) } else { render(r, &c) }
            if outcome.interrupted { break }
        }
        return summary
    }

    static func render(_ r: LabReport, _ c: inout Context) {
        c.line(c.paint(r.title, .bold) + c.paint("  (\(r.lab)\(r.quick ? ", quick" : ""))", .dim))
        if let engine = r.engine { c.line(c.paint("  engine: \(engine)", .dim)) }
        if let subject = r.subject, subject.isOwnWork { c.line("  judging " + c.paint(subject.description, .cyan)) }
        for s in r.steps {
            c.line("  · \(s.title)")
            if let d = s.detail { for l in d.split(separator: "\n") { c.line(c.paint("      \(l)", .dim)) } }
        }
        if !r.figures.isEmpty {
            c.line("  " + c.paint("Figures", .bold))
            let w = min(44, r.figures.map { $0.name.displayWidth }.max() ?? 10)
            for f in r.figures { c.line("    \(f.name.padded(w))  \(format(f.value)) \(f.unit)") }
        }
        if !r.checks.isEmpty {
            c.line("  " + c.paint("Checks", .bold))
            for ch in r.checks {
                c.line("    " + (ch.passed ? c.paint("✓", .green) : c.paint("✗", .red, .bold)) + " \(ch.name)")
                if !ch.passed {
                    c.line(c.paint("        expected: \(ch.expected)", .dim))
                    c.line(c.paint("        observed: \(ch.observed)", .red))
                }
            }
        }
        let secs = String(format: "%.2f s", r.seconds)
        switch r.outcome {
        case .passed:
            c.line("  " + c.paint("PASSED", .green, .bold) + " \(r.checks.count)/\(r.checks.count) checks in \(secs)")
        case .failed:
            c.line(
                "  " + c.paint("FAILED", .red, .bold) + " \(r.checks.filter(\.passed).count)/\(r.checks.count) checks in \(secs)"
                    + (r.error.map { " — \($0)" } ?? ""))
        case .unavailable:
            c.line("  " + c.paint("UNAVAILABLE", .yellow, .bold) + " — " + (r.error ?? "something it needs is not installed"))
        }
    }

    static func format(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e12 { return String(Int(v)) }
        if abs(v) >= 100 { return String(format: "%.1f", v) }
        if abs(v) >= 1 { return String(format: "%.3f", v) }
        return String(format: "%.4g", v)
    }
}
