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
        clock: LabClock = .system(),
        scratchRoot: URL? = nil,
        sink: @escaping @Sendable (LabEvent) -> Void = { _ in }
    ) async -> LabReport {
        let started = ContinuousClock.now
        let root = scratchRoot ?? FileManager.default.temporaryDirectory
        let scratch = root.appendingPathComponent("lab-\(info.id)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        let context = LabContext(info: info, quick: quick, parameters: parameters, scratch: scratch, clock: clock, sink: sink)
        var outcome: LabReport.Outcome?
        var failure: String?

        if let missing = ProgramFinder.missing(info.needs).first {
            outcome = .unavailable
            failure = LabUnavailable(missing).description
        } else {
            do {
                try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
                try await type.init().run(context)
                if _Concurrency.Task.isCancelled { failure = "interrupted" }
            } catch let u as LabUnavailable {
                outcome = .unavailable
                failure = u.description
            } catch is CancellationError {
                failure = "interrupted"
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

/// Finds the programs labs need: on PATH, and in the folders Debian installs server
/// binaries to that are not on PATH (PostgreSQL's `/usr/lib/postgresql/<version>/bin`,
/// or `$PG_BIN`).
public enum ProgramFinder {
    public static func missing(_ needs: [LabNeed]) -> [LabNeed] {
        needs.filter { need in !need.programs.allSatisfy { locate($0) != nil } }
    }

    public static func locate(_ program: String) -> String? {
        let fm = FileManager.default
        var dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
            .split(separator: ":").map(String.init)
        if let pg = postgresBin() { dirs.insert(pg, at: 0) }
        for dir in dirs {
            let path = dir + "/" + program
            if fm.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// `$PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
    public static func postgresBin() -> String? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["PG_BIN"], !env.isEmpty { return env }
        let base = "/usr/lib/postgresql"
        guard let versions = try? fm.contentsOfDirectory(atPath: base) else { return nil }
        let sorted = versions.compactMap { v in Int(v).map { ($0, v) } }.sorted { $0.0 > $1.0 }
        for (_, v) in sorted where fm.isExecutableFile(atPath: "\(base)/\(v)/bin/initdb") {
            return "\(base)/\(v)/bin"
        }
        return nil
    }
}
