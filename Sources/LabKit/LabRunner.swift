import Foundation
import LabCatalog

/// Runs one lab: checks what it needs, gives it a scratch folder, parameters and a clock,
/// catches whatever it throws, runs its clean-ups and removes the scratch folder, and
/// returns the settled report. A lab never takes its caller down: every error becomes a
/// failed (or unavailable) report.
public enum LabRunner {
    public static func run(
        _ type: any Lab.Type,
        info: LabInfo,
        quick: Bool,
        parameters: [String: String],
        subject: LabSubject = .reference,
        clock: LabClock = .system(),
        scratchRoot: URL? = nil,
        sink: @escaping @Sendable (LabEvent) -> Void = { _ in }
    ) async -> LabReport {
        let started = ContinuousClock.now
        let root = scratchRoot ?? FileManager.default.temporaryDirectory
        let scratch = root.appendingPathComponent("lab-\(info.id)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        let context = LabContext(info: info, quick: quick, parameters: parameters, subject: subject, scratch: scratch, clock: clock, sink: sink)
        var outcome: LabReport.Outcome?
        var failure: String?

        if let refusal = info.refusal(of: subject) {
            failure = refusal
        } else if let missing = ProgramFinder.missing(info.needs).first {
            outcome = .unavailable
            failure = LabUnavailable(missing).description
        } else {
            do {
                try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
                try await AnswerLimit.$current.withValue(subject.kind == .reference ? AnswerLimit.reference : AnswerLimit.yourServer) {
                    try await type.init().run(context)
                }
                if _Concurrency.Task.isCancelled { failure = "interrupted" }
            } catch let u as LabUnavailable {
                outcome = .unavailable
                failure = u.description
            } catch is CancellationError {
                failure = "interrupted"
            } catch let subjectFailure as SubjectFailure {
                // The learner's server could not be judged (it never listened, is not HTTP):
                // its sentence is the whole story, so it stands as the run's error word for word.
                failure = _Concurrency.Task.isCancelled ? "interrupted" : subjectFailure.description
            } catch {
                // Once cancelled, whatever a lab throws (a closed connection, a killed
                // child) is a consequence of the interruption, not a finding.
                failure = _Concurrency.Task.isCancelled ? "interrupted" : "the lab stopped with an error: \(error)"
            }
        }
        for cleanup in context.takeCleanups().reversed() { await cleanup() }
        try? FileManager.default.removeItem(at: scratch)

        var report = context.report
        report.error = failure
        if let outcome { report.outcome = outcome }
        report.settle()
        let elapsed = ContinuousClock.now - started
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return report
    }
}
