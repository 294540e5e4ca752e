import ArgumentParser
import CurriculumKit
import Foundation

/// The one shared context every command runs through: it opens the tracker once, turns
/// every failure into one sentence on stderr and its exit status, and flushes output.
struct Context {
    let tracker: Tracker
    var out: Terminal
    let json: Bool

    /// Runs a command body with a tracker opened from the global options.
    /// `recordsStart: false` keeps first use from recording today as the learner's start
    /// (`start` records its own).
    static func run(
        _ options: GlobalValues, showWarnings: Bool = false, recordsStart: Bool = true,
        _ body: (inout Context) throws -> Void
    ) throws {
        var out = Terminal(noColor: options.noColor)
        var opened: Tracker?
        defer {
            if let tracker = opened, tracker.recordedStartToday, let start = tracker.plan.learnerStart {
                Terminal.note("Your start is recorded as \(start) (today): the plan's due dates follow it; `curriculum start --on DATE` moves it.")
            }
        }
        do {
            var trackerOptions = options.trackerOptions
            trackerOptions.recordsStart = recordsStart
            let tracker = try Tracker(trackerOptions)
            opened = tracker
            // The process ends with the command: never free the plan and its state object by
            // object (a tenth of a 100,000-task command went to that). The database is still
            // closed properly, so its write-ahead log is checkpointed as before.
            _ = Unmanaged.passRetained(tracker)
            defer { tracker.closeStore() }
            if showWarnings { for w in tracker.warnings { Terminal.warn(w.description) } }
            var context = Context(tracker: tracker, out: out, json: options.json)
            defer { context.out.flush() }
            try body(&context)
        } catch let e as CurriculumError {
            out.flush()
            Terminal.error(e.description)
            throw ExitCode(e.exitStatus)
        }
    }

    var plan: Plan { tracker.plan }

    func state() throws -> PlanState { try tracker.state() }

    mutating func line(_ text: String = "") { out.line(text) }

    func paint(_ text: String, _ styles: Terminal.Style...) -> String {
        guard out.color else { return text }
        return styles.reduce(text) { out.paint($0, $1) }
    }

    /// Writes a value as pretty, key-sorted JSON.
    mutating func emitJSON<T: Encodable>(_ value: T) {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? enc.encode(value) { out.line(String(decoding: data, as: UTF8.self)) }
    }

    /// Tasks as JSON, hand-written (the same bytes as `emitJSON` through JSONEncoder).
    mutating func emitJSON(_ tasks: [TaskJSON]) {
        out.line(tasks.prettyJSON)
    }

    /// `3.1` for the first task of phase 3.
    func number(_ i: Int) -> String {
        let t = plan.tasks[i]
        return "\(plan.phases[t.phase].number).\(t.position)"
    }

    /// ★ verified against the learner's own work, ✔ verified on the reference, ✓ done,
    /// ✗ regressed, ○ ready, · blocked.
    func statusMark(_ s: PlanState.Status, verified: Bool = false, ownWork: Bool = false, regressed: Bool = false) -> String {
        switch s {
        case .done where regressed: return paint("✗", .red)
        case .done where verified && ownWork: return paint("★", .green, .bold)
        case .done where verified: return paint("✔", .green, .bold)
        case .done: return paint("✓", .green)
        case .ready: return paint("○", .cyan)
        case .blocked: return paint("·", .dim)
        }
    }

    func dueText(_ i: Int, today: Day) -> String {
        guard let d = plan.due(of: i) else { return "" }
        let s = d.description
        if d < today, (try? state().done[i]) != true { return paint(s, .red) }
        return s
    }
}
