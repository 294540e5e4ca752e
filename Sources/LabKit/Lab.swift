import Foundation
import LabCatalog
import Synchronization

/// A runnable, self-checking exercise. A lab performs a real experiment in `run`, records
/// what it did with `lab.step`, what it measured with `lab.figure`, and asserts what
/// happened with `lab.expect`.
///
/// Its metadata (`info`: id, title, phase, what it teaches, its knobs, what it needs, the
/// subjects it accepts) is declared in the same file; `scripts/generate-labs.sh` copies it
/// into the light `LabCatalog` the tracker links, and a test fails when the two differ.
public protocol Lab: Sendable {
    static var info: LabInfo { get }
    init()
    func run(_ lab: LabContext) async throws
    /// The starter folder `lab init` writes for the learner (README, contract, a stub for source labs), as
    /// paths relative to the folder and their contents. Empty for labs with no exercise.
    static func starter() -> [StarterFile]
}

extension Lab {
    public static var id: String { info.id }
    public static func starter() -> [StarterFile] { [] }
}

/// One file of a `lab init` starter folder.
public struct StarterFile: Sendable, Equatable {
    public var path: String
    public var contents: String
    /// Written with the executable bit (a script the learner runs).
    public var executable: Bool
    public init(_ path: String, _ contents: String, executable: Bool = false) {
        self.path = path; self.contents = contents; self.executable = executable
    }
}

/// Thrown by a lab (or the kit) when something it needs is not installed.
public struct LabUnavailable: Error, CustomStringConvertible, Sendable {
    public var need: LabNeed
    public var detail: String?
    public init(_ need: LabNeed, detail: String? = nil) { self.need = need; self.detail = detail }
    public var description: String {
        "\(need.name) is not installed\(detail.map { " (\($0))" } ?? ""); install it with: \(need.installCommand)"
    }
}

/// A lab's own mistake (an undeclared parameter, a broken set-up), reported as a failure.
public struct LabError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Everything a lab gets for one run, and the report it fills in.
public final class LabContext: Sendable {
    public let info: LabInfo
    /// `--quick`: shrink workloads so the whole catalogue runs in CI.
    public let quick: Bool
    /// Every parameter's value, defaults applied (see `LabInfo.resolve`).
    public let parameters: [String: String]
    /// What the run judges: the reference, or the learner's own work (`--url`, `--against`,
    /// `--source`, `--answers`). The runner has already refused a subject the lab does not accept.
    public let subject: LabSubject
    /// A folder of the lab's own; the runner removes it after the run, whatever happens.
    public let scratch: URL
    public let clock: LabClock

    private let state: Mutex<State>
    private let sink: @Sendable (LabEvent) -> Void

    struct State {
        var report: LabReport
        var cleanups: [@Sendable () async -> Void] = []
    }

    init(
        info: LabInfo, quick: Bool, parameters: [String: String], subject: LabSubject = .reference, scratch: URL,
        clock: LabClock, sink: @escaping @Sendable (LabEvent) -> Void
    ) {
        self.info = info; self.quick = quick; self.parameters = parameters; self.subject = subject
        self.scratch = scratch; self.clock = clock; self.sink = sink
        var report = LabReport(lab: info.id, title: info.title, quick: quick, parameters: parameters)
        report.subject = subject.isOwnWork ? subject : nil
        state = Mutex(State(report: report))
    }

    // MARK: Parameters

    /// A knob's value for this run, typed (see `Knob`).
    public subscript<Value>(_ knob: Knob<Value>) -> Value {
        knob.value(from: parameters[knob.name], quick: quick)
    }

    public func string(_ name: String) throws -> String {
        guard let v = parameters[name] else { throw LabError("lab \(info.id) reads parameter \(name), which its catalogue entry does not declare") }
        return v
    }

    public func int(_ name: String) throws -> Int {
        let v = try string(name)
        guard let i = Int(v) else { throw LabError("parameter \(name)=\(v) is not a whole number") }
        return i
    }

    public func double(_ name: String) throws -> Double {
        let v = try string(name)
        guard let d = Double(v) else { throw LabError("parameter \(name)=\(v) is not a number") }
        return d
    }

    public func bool(_ name: String) throws -> Bool { try string(name) == "true" }

    // MARK: Recording

    /// Something the lab did, and what to observe about it.
    public func step(_ title: String, _ detail: String? = nil) {
        let s = LabReport.Step(title: title, detail: detail)
        state.withLock { $0.report.steps.append(s) }
        sink(.step(s))
    }

    /// A measured number.
    public func figure(_ name: String, _ value: Double, _ unit: String) {
        let f = LabReport.Figure(name: name, value: value, unit: unit)
        state.withLock { $0.report.figures.append(f) }
        sink(.figure(f))
    }

    /// Records a check; returns whether it passed so a lab can branch on it.
    @discardableResult
    public func check(_ name: String, _ passed: Bool, expected: String, observed: String) -> Bool {
        let c = LabReport.Check(name: name, passed: passed, expected: expected, observed: observed)
        state.withLock { $0.report.checks.append(c) }
        sink(.check(c))
        return passed
    }

    /// Checks that what happened equals what was expected.
    @discardableResult
    public func expect<T: Equatable>(_ name: String, _ observed: T, equals expected: T) -> Bool {
        check(name, observed == expected, expected: "\(expected)", observed: "\(observed)")
    }

    /// Checks a condition, with the words to show either way.
    @discardableResult
    public func expect(_ name: String, _ condition: Bool, expected: String, observed: String) -> Bool {
        check(name, condition, expected: expected, observed: observed)
    }

    /// Which engine ran, where a lab can run on more than one.
    public func engine(_ name: String) {
        state.withLock { $0.report.engine = name }
    }

    /// Runs after the lab, in reverse order of registration, whether it passed, failed,
    /// threw or was interrupted: stop servers, kill children.
    public func onCleanup(_ body: @escaping @Sendable () async -> Void) {
        state.withLock { $0.cleanups.append(body) }
    }

    var report: LabReport { state.withLock { $0.report } }

    func takeCleanups() -> [@Sendable () async -> Void] {
        state.withLock { s in
            let c = s.cleanups
            s.cleanups = []
            return c
        }
    }
}

/// Time as a lab sees it: the system clock, or a manual one that a lab (or its test)
/// advances by hand so that expiry and refill can be shown without waiting. Time is kept
/// as an integer `Duration` since the clock started, so `ttl / 2 + ttl / 2` is exactly
/// `ttl` and an expiry check never drifts at knob values like 0.1 or 0.3 s.
public final class LabClock: Sendable {
    /// Elapsed time of a manual clock; nil for the system clock.
    private let manual: Mutex<Duration?>
    private let startedAt: ContinuousClock.Instant
    private let startDate: Date

    /// A manual clock's wall-clock origin (2027-01-15T08:00:00Z): fixed, so runs repeat.
    public static let manualOrigin = Date(timeIntervalSince1970: 1_800_000_000)

    public static func system() -> LabClock { LabClock(manual: nil, startDate: Date()) }
    public static func manual(at start: Date = manualOrigin) -> LabClock { LabClock(manual: .zero, startDate: start) }

    private init(manual: Duration?, startDate: Date) {
        self.manual = Mutex(manual)
        self.startedAt = ContinuousClock.now
        self.startDate = startDate
    }

    public var isManual: Bool { manual.withLock { $0 != nil } }

    /// Time since the clock started, exactly (integer attoseconds).
    public var elapsed: Duration { manual.withLock { $0 } ?? (ContinuousClock.now - startedAt) }

    /// The wall-clock time: for display and for formats that carry dates (a JWT's `exp`).
    /// Compare `elapsed` values, not dates, wherever exactness matters.
    public func now() -> Date {
        startDate.addingTimeInterval(Measure.seconds(elapsed))
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    public func advance(by d: Duration) {
        manual.withLock { if let e = $0 { $0 = e + d } }
    }

    /// Waits `d`: really on the system clock, instantly (by advancing) on a manual one.
    public func sleep(for d: Duration) async throws {
        if isManual { advance(by: d); return }
        if d > .zero { try await _Concurrency.Task.sleep(for: d) }
    }
}

extension Duration {
    /// A knob's seconds as an exact duration, rounded to the nanosecond (0.1 → 100 ms).
    public static func seconds(rounding s: Double) -> Duration {
        .nanoseconds(Int64((s * 1e9).rounded()))
    }

}
