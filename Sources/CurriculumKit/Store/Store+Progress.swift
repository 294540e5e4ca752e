import Foundation
import LabCatalog

/// The use cases of the store, one transaction each.
extension Store {
    /// A check-off to record.
    public struct CheckOff: Sendable {
        public var task: String
        public var verified: Bool
        /// With `verified`: the learner's own work the labs judged (nil: the reference).
        public var subject: LabSubject?
        public init(task: String, verified: Bool = false, subject: LabSubject? = nil) {
            self.task = task; self.verified = verified; self.subject = verified ? subject : nil
        }

        /// Whether this check-off says more than what is recorded: a first check-off, a
        /// regressed task passing again, or a stronger verification (none → reference →
        /// the learner's own work).
        func improves(on current: TaskProgress) -> Bool {
            func rank(_ verified: Bool, _ ownWork: Bool) -> Int { verified ? (ownWork ? 2 : 1) : 0 }
            return current.regressed || rank(verified, subject?.isOwnWork == true) > rank(current.verified, current.verifiedOwnWork)
        }
    }

    /// Records check-offs (skipping tasks already done) and returns the events written.
    @discardableResult
    public func checkOff(_ items: [CheckOff], day: Day, note: String? = nil, at: Date = Date()) throws(StoreError) -> [Event] {
        let stamp = Timestamp.iso(at)
        return try write { db in
            var written: [Event] = []
            for item in items {
                if let current = try Store.current(db, task: item.task), !item.improves(on: current) { continue }
                var e = Event(
                    at: stamp, day: day.description, kind: .checked, task: item.task, note: note,
                    verified: item.verified, subject: item.subject)
                try Store.append(db, &e)
                try Store.apply(db, task: item.task)
                written.append(e)
            }
            return written
        }
    }

    /// Unchecks tasks that are done; returns the events written.
    @discardableResult
    public func reopen(_ tasks: [String], day: Day, note: String? = nil, at: Date = Date()) throws(StoreError) -> [Event] {
        let stamp = Timestamp.iso(at)
        return try write { db in
            var written: [Event] = []
            for task in tasks where try Store.current(db, task: task) != nil {
                var e = Event(at: stamp, day: day.description, kind: .reopened, task: task, note: note)
                try Store.append(db, &e)
                try Store.apply(db, task: task)
                written.append(e)
            }
            return written
        }
    }

    /// Reverts the most recent check-off, reopen or recheck that is not already undone.
    /// Returns the event reverted, or nil when there is nothing to undo.
    public func undoLast(day: Day, at: Date = Date()) throws(StoreError) -> Event? {
        let stamp = Timestamp.iso(at)
        return try write { db in
            guard
                let last = try db.query(
                    """
                    SELECT \(Event.columns) FROM events
                    WHERE kind IN ('checked', 'reopened', 'rechecked')
                      AND id NOT IN (SELECT target FROM events WHERE kind = 'undo' AND target IS NOT NULL)
                    ORDER BY at DESC, uid DESC LIMIT 1
                    """, [], Event.init(row:)
                ).first
            else { return nil }
            var e = Event(at: stamp, day: day.description, kind: .undo, task: last.task, target: last.id)
            try Store.append(db, &e)
            if let task = last.task { try Store.apply(db, task: task) }
            return last
        }
    }

    /// Records a lab run (and, for `recheck`, whether the task still passes).
    @discardableResult
    public func recordLabRun(_ run: LabRun, day: Day, recheckOf task: String? = nil, at: Date = Date()) throws(StoreError) -> LabRun {
        let stamp = Timestamp.iso(at)
        return try write { db in
            var e = Event(at: stamp, day: day.description, kind: .labRun, task: run.task, note: run.lab, passed: run.outcome == "passed")
            try Store.append(db, &e)
            var r = run
            r.event = e.id ?? 0
            r.at = stamp
            try db.run(
                """
                INSERT INTO lab_runs (\(LabRun.insertColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, r.values)
            r.id = db.lastInsertedRowID
            return r
        }
    }

    /// The learner's own start: the day of the latest `started` event, if any.
    public func learnerStart() throws(StoreError) -> Day? {
        try read { db in
            try db.query("SELECT day FROM events WHERE kind = 'started' ORDER BY at DESC, uid DESC LIMIT 1") { Day(iso: $0.text(0)) }.first ?? nil
        }
    }

    /// Records the learner's own start (a later one replaces it: a pause).
    @discardableResult
    public func recordStart(_ start: Day, day: Day, at: Date = Date()) throws(StoreError) -> Event {
        let stamp = Timestamp.iso(at)
        return try write { db in
            var e = Event(at: stamp, day: start.description, kind: .started, task: nil, note: "recorded \(day)")
            try Store.append(db, &e)
            return e
        }
    }

    /// Records the verdict of `recheck` on a done task: regressed when its labs fail.
    public func recordRecheck(task: String, passed: Bool, subject: LabSubject? = nil, day: Day, at: Date = Date()) throws(StoreError) {
        let stamp = Timestamp.iso(at)
        try write { db in
            guard try Store.current(db, task: task) != nil else { return }
            var e = Event(at: stamp, day: day.description, kind: .rechecked, task: task, passed: passed, subject: subject)
            try Store.append(db, &e)
            try Store.apply(db, task: task)
        }
    }

    /// Recomputes one task's current state from its events that are not undone: the
    /// current-state table is a cache of the log, rebuilt per task on every change.
    static func apply(_ db: SQLiteConnection, task: String) throws(SQLiteError) {
        let events = try db.query(
            """
            SELECT \(Event.columns) FROM events
            WHERE task = ? AND kind IN ('checked', 'reopened', 'rechecked')
              AND id NOT IN (SELECT target FROM events WHERE kind = 'undo' AND task = ? AND target IS NOT NULL)
            ORDER BY at, uid
            """, [.text(task), .text(task)], Event.init(row:))
        let state = replay(events)
        if let p = state[task] {
            try db.run(
                """
                INSERT OR REPLACE INTO task_state (\(TaskProgress.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(p.task), .text(p.doneOn), .text(p.checkedAt), SQLValue(p.verified), SQLValue(p.regressed),
                    SQLValue(p.note), .integer(p.event), SQLValue(p.subject?.stored),
                ])
        } else {
            try db.run("DELETE FROM task_state WHERE task = ?", [.text(task)])
        }
    }

    /// The stored state of one task, if it has any.
    static func current(_ db: SQLiteConnection, task: String) throws(SQLiteError) -> TaskProgress? {
        try db.query(
            "SELECT \(TaskProgress.columns) FROM task_state WHERE task = ?", [.text(task)],
            TaskProgress.init(row:)
        ).first
    }

    /// Appends an event to the log and sets its id.
    static func append(_ db: SQLiteConnection, _ e: inout Event) throws(SQLiteError) {
        try db.run(
            """
            INSERT INTO events (at, day, kind, task, note, verified, passed, target, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(e.at), .text(e.day), .text(e.kind.rawValue), SQLValue(e.task), SQLValue(e.note),
                SQLValue(e.verified), SQLValue(e.passed), SQLValue(e.target), SQLValue(e.subject?.stored),
            ])
        e.id = db.lastInsertedRowID
    }

    /// The state the events lead to (events in log order, undone ones already removed).
    static func replay(_ events: [Event]) -> [String: TaskProgress] {
        var state: [String: TaskProgress] = [:]
        for e in events {
            guard let task = e.task, let id = e.id else { continue }
            switch e.kind {
            case .checked:
                state[task] = TaskProgress(
                    task: task, doneOn: e.day, checkedAt: e.at, verified: e.verified,
                    regressed: false, note: e.note, event: id, subject: e.subject)
            case .reopened:
                state[task] = nil
            case .rechecked:
                if var s = state[task] {
                    s.regressed = !(e.passed ?? true)
                    // A passing recheck verifies the task; against the learner's own work it
                    // upgrades a reference verification, and a reference pass keeps an own-work one.
                    if e.passed == true {
                        s.verified = true
                        if let subject = e.subject { s.subject = subject }
                    }
                    s.event = id
                    state[task] = s
                }
            case .labRun, .undo, .started:
                break
            }
        }
        return state
    }

    // MARK: Reading

    /// Every task with recorded progress, by task id.
    public func progress() throws(StoreError) -> [String: TaskProgress] {
        var out: [String: TaskProgress] = [:]
        for p in try progressRows() { out[p.task] = p }
        return out
    }

    /// Every task's recorded progress, oldest event first.
    public func progressRows() throws(StoreError) -> [TaskProgress] {
        try read { db in
            try db.query("SELECT \(TaskProgress.columns) FROM task_state ORDER BY event", [], TaskProgress.init(row:))
        }
    }

    /// Ids of the tasks with recorded progress: all that readiness needs, without
    /// decoding whole records.
    public func doneTaskIDs() throws(StoreError) -> [String] {
        try read { db in try db.query("SELECT task FROM task_state") { $0.text(0) } }
    }

    /// The newest events first.
    public func log(limit: Int?, task: String? = nil) throws(StoreError) -> [Event] {
        try read { db in
            var sql = "SELECT \(Event.columns) FROM events"
            var args: [SQLValue] = []
            if let task { sql += " WHERE task = ?"; args.append(.text(task)) }
            sql += " ORDER BY at DESC, uid DESC"
            if let limit { sql += " LIMIT ?"; args.append(SQLValue(limit)) }
            return try db.query(sql, args, Event.init(row:))
        }
    }

    /// Ids of undo events' targets, for showing history with reverted lines marked.
    public func undoneEventIDs() throws(StoreError) -> Set<Int64> {
        try read { db in
            Set(try db.query("SELECT target FROM events WHERE kind = 'undo' AND target IS NOT NULL") { $0.int64(0) })
        }
    }

    /// The most recent runs of each of these labs.
    public func lastLabRuns(labs: [String], perLab: Int = 1) throws(StoreError) -> [LabRun] {
        guard !labs.isEmpty else { return [] }
        return try read { db in
            var out: [LabRun] = []
            for lab in labs {
                out += try db.query(
                    "SELECT \(LabRun.columns) FROM lab_runs WHERE lab = ? ORDER BY at DESC, id DESC LIMIT ?",
                    [.text(lab), SQLValue(perLab)], LabRun.init(row:))
            }
            return out
        }
    }

    // MARK: Health

    /// What `doctor` reports about the database itself.
    public struct Health: Sendable {
        public var integrity: [String]
        public var events: Int
        /// Tasks whose stored state differs from a replay of the log.
        public var driftedTasks: [String]
    }

    public func health() throws(StoreError) -> Health {
        try read { db in
            let integrity = try db.query("PRAGMA integrity_check") { $0.text(0) }
            let count = try db.query("SELECT count(*) FROM events") { $0.int(0) }.first ?? 0
            let events = try db.query(
                """
                SELECT \(Event.columns) FROM events
                WHERE kind IN ('checked', 'reopened', 'rechecked')
                  AND id NOT IN (SELECT target FROM events WHERE kind = 'undo' AND target IS NOT NULL)
                ORDER BY at, uid
                """, [], Event.init(row:))
            let replayed = Store.replay(events)
            var stored: [String: TaskProgress] = [:]
            for p in try db.query("SELECT \(TaskProgress.columns) FROM task_state", [], TaskProgress.init(row:)) {
                stored[p.task] = p
            }
            let drifted = Set(replayed.keys).union(stored.keys).filter { replayed[$0] != stored[$0] }.sorted()
            return Health(integrity: integrity, events: count, driftedTasks: drifted)
        }
    }
}

/// UTC timestamps for the log, formatted without a formatter object (start-up matters).
public enum Timestamp {
    public static func iso(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        let ms = Int((date.timeIntervalSince1970 - Double(t)) * 1000)
        var tm = tm()
        gmtime_r(&t, &tm)
        func p(_ v: Int32, _ w: Int) -> String {
            let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return
            "\(p(tm.tm_year + 1900, 4))-\(p(tm.tm_mon + 1, 2))-\(p(tm.tm_mday, 2))T\(p(tm.tm_hour, 2)):\(p(tm.tm_min, 2)):\(p(tm.tm_sec, 2)).\(p(Int32(ms), 3))Z"
    }
}

extension Day {
    /// Today in the learner's local time zone (honours `TZ`).
    public static func today(now: Date = Date()) -> Day {
        var t = time_t(now.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        localtime_r(&t, &tm)
        return Day(year: Int(tm.tm_year) + 1900, month: Int(tm.tm_mon) + 1, day: Int(tm.tm_mday)) ?? Day(ordinal: 0)
    }
}
