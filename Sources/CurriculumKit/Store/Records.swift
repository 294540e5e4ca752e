import Foundation
import GRDBSQLite
import LabCatalog

/// One line of the append-only history.
public struct Event: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A task checked off (`verified` when its labs passed first).
        case checked
        /// A task unchecked.
        case reopened
        /// A lab ran (its details are in `lab_runs`).
        case labRun = "lab-run"
        /// `recheck` re-ran a done task's labs: `passed` says whether they still pass.
        case rechecked
        /// `undo`: `target` is the event it reverts.
        case undo
        /// `start`: the learner's own start, in `day`; the latest one counts.
        case started
    }

    public var id: Int64?
    /// When it was recorded, UTC, ISO 8601.
    public var at: String
    /// The calendar day it counts for (`--on`, else today).
    public var day: String
    public var kind: Kind
    public var task: String?
    public var note: String?
    public var verified: Bool
    /// For `rechecked`: whether the labs passed.
    public var passed: Bool?
    /// For `undo`: the id of the event reverted.
    public var target: Int64?
    /// For a verified `checked` and for `rechecked`: what the labs judged when it was the
    /// learner's own work (`--url`, `--against`, `--source`, `--answers`); nil for the reference.
    public var subject: LabSubject?
    /// Globally unique: `<machine>-<id there>-<random>` (set by the database when recorded).
    public var uid: String?

    public init(
        id: Int64? = nil, at: String, day: String, kind: Kind, task: String?, note: String? = nil,
        verified: Bool = false, passed: Bool? = nil, target: Int64? = nil, subject: LabSubject? = nil, uid: String? = nil
    ) {
        self.id = id; self.at = at; self.day = day; self.kind = kind; self.task = task
        self.note = note; self.verified = verified; self.passed = passed; self.target = target
        self.subject = subject?.isOwnWork == true ? subject : nil
        self.uid = uid
    }

    /// The columns `init(row:)` reads, in its order.
    static let columns = "id, at, day, kind, task, note, verified, passed, target, subject, uid"

    /// Read by position (select `columns`).
    init(row: SQLiteRow) throws(SQLiteError) {
        id = row.int64(0)
        at = row.text(1)
        day = row.text(2)
        let k = row.text(3)
        guard let kind = Kind(rawValue: k) else { throw SQLiteError(code: SQLITE_CORRUPT, message: "unknown event kind \(k)") }
        self.kind = kind
        task = row.optionalText(4)
        note = row.optionalText(5)
        verified = row.bool(6)
        passed = row.optionalBool(7)
        target = row.optionalInt64(8)
        subject = LabSubject(stored: row.optionalText(9))
        uid = row.optionalText(10)
    }
}

/// The current state of one task, kept in step with the events in the same transaction.
public struct TaskProgress: Codable, Sendable, Equatable {
    public var task: String
    /// The day it was checked off.
    public var doneOn: String
    public var checkedAt: String
    public var verified: Bool
    /// A later `recheck` found its labs failing.
    public var regressed: Bool
    public var note: String?
    /// The event that produced this state.
    public var event: Int64
    /// When verified against the learner's own work: what was judged (nil: the reference).
    public var subject: LabSubject?

    enum CodingKeys: String, CodingKey {
        case task, doneOn = "done_on", checkedAt = "checked_at", verified, regressed, note, event, subject
    }

    public init(
        task: String, doneOn: String, checkedAt: String, verified: Bool, regressed: Bool, note: String?, event: Int64,
        subject: LabSubject? = nil
    ) {
        self.task = task; self.doneOn = doneOn; self.checkedAt = checkedAt; self.verified = verified
        self.regressed = regressed; self.note = note; self.event = event
        self.subject = verified && subject?.isOwnWork == true ? subject : nil
    }

    /// Verified by its labs run against the learner's own work, not only the reference.
    public var verifiedOwnWork: Bool { verified && subject != nil }

    /// The columns `init(row:)` reads, in its order.
    static let columns = "task, done_on, checked_at, verified, regressed, note, event, subject"

    /// Read by position (select `columns`): `progress()` reads every row on most commands.
    init(row: SQLiteRow) {
        self.init(
            task: row.text(0), doneOn: row.text(1), checkedAt: row.text(2), verified: row.bool(3),
            regressed: row.bool(4), note: row.optionalText(5), event: row.int64(6),
            subject: LabSubject(stored: row.optionalText(7)))
    }
}

/// One run of a lab, as recorded.
public struct LabRun: Codable, Sendable, Equatable {
    public var id: Int64?
    public var event: Int64
    public var lab: String
    public var task: String?
    public var at: String
    public var seconds: Double
    /// passed, failed, unavailable.
    public var outcome: String
    public var quick: Bool
    public var checksPassed: Int
    public var checksTotal: Int
    /// JSON array of {name, value, unit}.
    public var figures: String
    public var error: String?
    /// What the run judged when it was the learner's own work; nil for the reference.
    public var subject: LabSubject?

    enum CodingKeys: String, CodingKey {
        case id, event, lab, task, at, seconds, outcome, quick
        case checksPassed = "checks_passed", checksTotal = "checks_total", figures, error, subject
    }

    public init(
        id: Int64? = nil, event: Int64 = 0, lab: String, task: String?, at: String, seconds: Double,
        outcome: String, quick: Bool, checksPassed: Int, checksTotal: Int, figures: String, error: String?,
        subject: LabSubject? = nil
    ) {
        self.id = id; self.event = event; self.lab = lab; self.task = task; self.at = at
        self.seconds = seconds; self.outcome = outcome; self.quick = quick
        self.checksPassed = checksPassed; self.checksTotal = checksTotal; self.figures = figures; self.error = error
        self.subject = subject?.isOwnWork == true ? subject : nil
    }

    /// The columns `init(row:)` reads, in its order.
    static let columns = "id, event, lab, task, at, seconds, outcome, quick, checks_passed, checks_total, figures, error, subject"
    /// The columns `values` gives, in its order (the id is the database's).
    static let insertColumns = "event, lab, task, at, seconds, outcome, quick, checks_passed, checks_total, figures, error, subject"

    var values: [SQLValue] {
        [
            .integer(event), .text(lab), SQLValue(task), .text(at), .real(seconds), .text(outcome), SQLValue(quick),
            SQLValue(checksPassed), SQLValue(checksTotal), .text(figures), SQLValue(error), SQLValue(subject?.stored),
        ]
    }

    /// Read by position (select `columns`).
    init(row: SQLiteRow) {
        self.init(
            id: row.int64(0), event: row.int64(1), lab: row.text(2), task: row.optionalText(3), at: row.text(4),
            seconds: row.double(5), outcome: row.text(6), quick: row.bool(7), checksPassed: row.int(8),
            checksTotal: row.int(9), figures: row.text(10), error: row.optionalText(11),
            subject: LabSubject(stored: row.optionalText(12)))
    }
}

extension LabSubject {
    /// How a subject is kept in the database: its kind, a space, its value (`against python3 app.py`).
    var stored: String? { isOwnWork ? "\(kind.rawValue) \(value ?? "")" : nil }

    /// Reads `stored`; nil for NULL, the reference, or a kind this build does not know.
    init?(stored: String?) {
        guard let stored, let space = stored.firstIndex(of: " "),
            let kind = Kind(rawValue: String(stored[..<space])), kind != .reference
        else { return nil }
        self.init(kind, String(stored[stored.index(after: space)...]))
    }
}
