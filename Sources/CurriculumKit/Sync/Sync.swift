import Foundation

/// `curriculum sync DIR`: progress on several machines through a folder the learner keeps
/// in git. Each machine appends its own events to `DIR/<machine>.jsonl`, one JSON object a
/// line, and never writes another machine's file, so git merges never conflict. Syncing
/// reads every file in DIR, adds the events this database lacks (matched by their
/// globally unique `uid`), replays the whole log in one order (time, then uid) into the
/// current state, and appends this machine's new events to its own file. Undo is an event
/// like any other; it names its target by uid.
public enum Sync {
    /// The outcome of one sync.
    public struct Report: Sendable, Equatable {
        public var machine: String
        /// Events appended to this machine's file.
        public var exported: Int
        /// Events added to this database from the folder.
        public var imported: Int
        /// Files read (this machine's included).
        public var files: Int
        /// Files left out because of a bad line: nothing was imported from them.
        public var problems: [LineError]
    }

    /// A line that is not a whole event: its file is left out until it is fixed.
    public struct LineError: Error, Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var reason: String
        public var description: String {
            "\(file) line \(line) is not a whole event (\(reason)); nothing was imported from that file — fix or remove the line and sync again."
        }
    }

    /// One event as a line of the folder.
    struct Wire: Codable {
        var uid: String
        var at: String
        var day: String
        var kind: String
        var task: String?
        var note: String?
        var verified: Bool?
        var passed: Bool?
        /// For an undo: the uid of the event it reverts.
        var target: String?
        var subject: String?
        /// For a lab-run: the run.
        var run: Run?

        struct Run: Codable {
            var lab: String
            var seconds: Double
            var outcome: String
            var quick: Bool
            var checksPassed: Int
            var checksTotal: Int
            var figures: String
            var error: String?
            var subject: String?
            enum CodingKeys: String, CodingKey {
                case lab, seconds, outcome, quick, checksPassed = "checks_passed", checksTotal = "checks_total", figures, error, subject
            }
        }

        /// Why this is not an event this build can replay, or nil.
        var problem: String? {
            if Event.Kind(rawValue: kind) == nil { return "unknown kind \(kind)" }
            if uid.split(separator: "-").count != 3 { return "its uid \(uid) is not MACHINE-SEQUENCE-RANDOM" }
            if at.count < 20 || !at.hasSuffix("Z") { return "its time \(at) is not an ISO 8601 UTC time" }
            if Day(iso: day) == nil { return "its day \(day) is not YYYY-MM-DD" }
            if kind == Event.Kind.undo.rawValue && target == nil { return "an undo without a target" }
            if kind == Event.Kind.labRun.rawValue && run == nil { return "a lab-run without its run" }
            if [Event.Kind.checked, .reopened, .rechecked].map(\.rawValue).contains(kind) && task == nil { return "no task" }
            return nil
        }
    }

    /// Parses a whole file: every line an event, or the first bad line.
    static func parse(_ data: Data, file: String) -> Result<[Wire], LineError> {
        var lines: [Substring] = []
        let text = String(decoding: data, as: UTF8.self)
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        let decoder = JSONDecoder()
        // Fast path: all lines at once.
        // Blank lines carry nothing and are skipped.
        let numbered = lines.enumerated().filter { !$0.element.allSatisfy(\.isWhitespace) }
        let joined = "[" + numbered.map(\.element).joined(separator: ",") + "]"
        if let all = try? decoder.decode([Wire].self, from: Data(joined.utf8)), all.count == numbered.count {
            for (k, w) in all.enumerated() {
                if let p = w.problem { return .failure(LineError(file: file, line: numbered[k].offset + 1, reason: p)) }
            }
            if !text.isEmpty && !text.hasSuffix("\n") {
                return .failure(LineError(file: file, line: lines.count, reason: "the file ends in the middle of a line"))
            }
            return .success(all)
        }
        for (k, line) in numbered {
            do {
                let w = try decoder.decode(Wire.self, from: Data(line.utf8))
                if let p = w.problem { return .failure(LineError(file: file, line: k + 1, reason: p)) }
            } catch {
                let truncated = k == lines.count - 1 && !text.hasSuffix("\n")
                return .failure(LineError(file: file, line: k + 1, reason: truncated ? "it is cut short" : "it is not valid JSON"))
            }
        }
        return .failure(LineError(file: file, line: lines.count, reason: "the file ends in the middle of a line"))
    }

    /// One event as a JSON line (keys sorted, no spaces), written by hand: thousands are written at once.
    static func line(_ w: Wire) -> String {
        var s = "{"
        var first = true
        func key(_ k: String) { s += first ? "\"\(k)\":" : ",\"\(k)\":"; first = false }
        func str(_ k: String, _ v: String?) { if let v { key(k); s += quote(v) } }
        func bool(_ k: String, _ v: Bool?) { if let v { key(k); s += v ? "true" : "false" } }
        str("at", w.at)
        str("day", w.day)
        str("kind", w.kind)
        str("note", w.note)
        bool("passed", w.passed)
        if let r = w.run {
            key("run")
            var inner = "{"
            inner += "\"checks_passed\":\(r.checksPassed),\"checks_total\":\(r.checksTotal)"
            if let e = r.error { inner += ",\"error\":" + quote(e) }
            inner += ",\"figures\":" + quote(r.figures)
            inner += ",\"lab\":" + quote(r.lab)
            inner += ",\"outcome\":" + quote(r.outcome)
            inner += ",\"quick\":" + (r.quick ? "true" : "false")
            inner += ",\"seconds\":\(r.seconds)"
            if let sub = r.subject { inner += ",\"subject\":" + quote(sub) }
            s += inner + "}"
        }
        str("subject", w.subject)
        str("target", w.target)
        str("task", w.task)
        str("uid", w.uid)
        bool("verified", w.verified)
        return s + "}"
    }

    static func quote(_ v: String) -> String {
        var out = "\""
        for u in v.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

extension Store {
    /// This database's machine id (the name of its file in a sync folder).
    public func machineID() throws(StoreError) -> String {
        try read { db in try db.query("SELECT value FROM sync_state WHERE key = 'machine'") { $0.text(0) }.first ?? "" }
    }

    /// Merges the event files in `folder` into this database and appends this machine's
    /// new events to its own file there (creating the folder when missing). A file with
    /// a bad line is left out whole and reported; the others are merged.
    public func sync(folder: String) throws(StoreError) -> Sync.Report {
        let fm = FileManager.default
        let machine = try machineID()
        let ownName = "\(machine).jsonl"
        let ownPath = (folder as NSString).appendingPathComponent(ownName)
        do { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw .cannotCreate(folder, "the sync folder cannot be created (\(Store.reason(error)))")
        }
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".jsonl") }.sorted() } catch {
            throw .unreadable(folder, Store.reason(error))
        }
        var problems: [Sync.LineError] = []
        var incoming: [Sync.Wire] = []
        var ownUIDs: Set<String> = []
        var ownBad = false
        for name in names {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let data = fm.contents(atPath: path) else { throw .unreadable(path, "the sync file cannot be read") }
            switch Sync.parse(data, file: path) {
            case .success(let events):
                if name == ownName { ownUIDs = Set(events.map(\.uid)) }
                incoming += events
            case .failure(let e):
                problems.append(e)
                if name == ownName { ownBad = true }
            }
        }
        let (imported, outgoing): (Int, [Sync.Wire]) = try write { db in
            var added = 0
            var changedTasks = false
            // Events already here are skipped without a statement each.
            let known = Set(try db.query("SELECT uid FROM events") { $0.text(0) })
            for w in incoming where !known.contains(w.uid) {
                try db.run(
                    """
                    INSERT OR IGNORE INTO events (at, day, kind, task, note, verified, passed, subject, uid, target_uid)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(w.at), .text(w.day), .text(w.kind), SQLValue(w.task), SQLValue(w.note), SQLValue(w.verified ?? false),
                        SQLValue(w.passed), SQLValue(w.subject), .text(w.uid), SQLValue(w.target),
                    ])
                guard db.changes > 0 else { continue }
                added += 1
                let id = db.lastInsertedRowID
                if let r = w.run {
                    try db.run(
                        """
                        INSERT INTO lab_runs (\(LabRun.insertColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        [
                            .integer(id), .text(r.lab), SQLValue(w.task), .text(w.at), .real(r.seconds), .text(r.outcome),
                            SQLValue(r.quick), SQLValue(r.checksPassed), SQLValue(r.checksTotal), .text(r.figures),
                            SQLValue(r.error), SQLValue(r.subject),
                        ])
                }
                if w.kind != Event.Kind.labRun.rawValue && w.kind != Event.Kind.started.rawValue { changedTasks = true }
            }
            if added > 0 {
                // Undo targets by uid, wherever (and whenever) the target arrived.
                try db.run(
                    """
                    UPDATE events SET target = (SELECT t.id FROM events t WHERE t.uid = events.target_uid)
                    WHERE kind = 'undo' AND target IS NULL AND target_uid IS NOT NULL
                    """)
            }
            if changedTasks { try Store.rebuildState(db) }
            // This machine's events not yet in its file.
            var out: [Sync.Wire] = []
            if !ownBad {
                let rows = try db.query(
                    """
                    SELECT \(Event.columns), target_uid FROM events WHERE uid LIKE ? ORDER BY id
                    """, [.text(machine + "-%")]
                ) { row throws(SQLiteError) in (try Event(row: row), row.optionalText(11)) }
                let runs = try db.query(
                    "SELECT \(LabRun.columns) FROM lab_runs WHERE event IN (SELECT id FROM events WHERE uid LIKE ?)",
                    [.text(machine + "-%")], LabRun.init(row:))
                let runByEvent = Dictionary(runs.map { ($0.event, $0) }, uniquingKeysWith: { a, _ in a })
                for (e, targetUID) in rows {
                    guard let uid = e.uid, !ownUIDs.contains(uid) else { continue }
                    let run = e.id.flatMap { runByEvent[$0] }.map {
                        Sync.Wire.Run(
                            lab: $0.lab, seconds: $0.seconds, outcome: $0.outcome, quick: $0.quick, checksPassed: $0.checksPassed,
                            checksTotal: $0.checksTotal, figures: $0.figures, error: $0.error, subject: $0.subject?.stored)
                    }
                    out.append(
                        Sync.Wire(
                            uid: uid, at: e.at, day: e.day, kind: e.kind.rawValue, task: e.task, note: e.note,
                            verified: e.verified ? true : nil, passed: e.passed, target: targetUID,
                            subject: e.subject?.stored, run: run))
                }
            }
            return (added, out)
        }
        if !outgoing.isEmpty {
            var text = ""
            text.reserveCapacity(outgoing.count * 200)
            for w in outgoing { text += Sync.line(w); text += "\n" }
            let fd = Glibc.open(ownPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .cannotCreate(ownPath, String(cString: strerror(errno))) }
            defer { Glibc.close(fd) }
            let ok =
                text.utf8.withContiguousStorageIfAvailable { buf -> Bool in
                    var done = 0
                    while done < buf.count {
                        let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                        if n < 0 && errno == EINTR { continue }
                        guard n > 0 else { return false }
                        done += n
                    }
                    return fsync(fd) == 0
                } ?? false
            if !ok { throw .failed(ownPath, "the sync file could not be written (\(String(cString: strerror(errno))))") }
        }
        return Sync.Report(machine: machine, exported: outgoing.count, imported: imported, files: names.count, problems: problems)
    }

    /// Replays the whole log (undone events left out) in its one order into the current state.
    static func rebuildState(_ db: SQLiteConnection) throws(SQLiteError) {
        let events = try db.query(
            """
            SELECT \(Event.columns) FROM events
            WHERE kind IN ('checked', 'reopened', 'rechecked')
              AND id NOT IN (SELECT target FROM events WHERE kind = 'undo' AND target IS NOT NULL)
            ORDER BY at, uid
            """, [], Event.init(row:))
        let state = replay(events)
        try db.run("DELETE FROM task_state")
        for p in state.values.sorted(by: { $0.task < $1.task }) {
            try db.run(
                """
                INSERT INTO task_state (\(TaskProgress.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(p.task), .text(p.doneOn), .text(p.checkedAt), SQLValue(p.verified), SQLValue(p.regressed),
                    SQLValue(p.note), .integer(p.event), SQLValue(p.subject?.stored),
                ])
        }
    }
}
