import Foundation
import GRDBSQLite

/// The learner's progress in SQLite: an append-only event log and the current state kept
/// in step with it, one transaction per command. The only type in the tracker that speaks SQL.
public final class Store: @unchecked Sendable {
    /// Written into the database header (PRAGMA application_id) so that another
    /// application's SQLite file is never mistaken for ours: "CURR".
    static let applicationID: Int32 = 0x4355_5252

    public let path: String
    let db: SQLiteConnection
    public let readOnly: Bool

    /// Opens (creating on first use, with its folder) the progress database at `path`.
    /// A file that is not a curriculum database, or comes from a newer version, is refused
    /// before anything is written to it.
    public init(path: String) throws(StoreError) {
        self.path = path
        var info = stat()
        if stat(path, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR { throw .notADatabase(path, "it is a folder") }
            try Store.inspectHeader(path)
            let folder = (path as NSString).deletingLastPathComponent
            let writable = access(path, W_OK) == 0 && access(folder.isEmpty ? "." : folder, W_OK) == 0
            readOnly = !writable
            db = try Store.open(path, readOnly: !writable, creating: false)
            let version = try Store.checkVersion(db, path)
            // Every migration sets user_version, so a current one means nothing to migrate.
            if !writable || version == Store.schemaVersion { return }
            try Store.migrate(db, path)
        } else {
            readOnly = false
            db = try Store.create(path)
        }
    }

    /// Creates a new database next to `path` and moves it into place once its schema is
    /// complete, so a process killed during creation never leaves a half-made file at `path`.
    private static func create(_ path: String) throws(StoreError) -> SQLiteConnection {
        let fm = FileManager.default
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            do { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw .cannotCreate(path, "its folder \(folder) cannot be created (\(Store.reason(error)))")
            }
        }
        let temp = path + ".new-\(getpid())"
        do {
            let c = try open(temp, readOnly: false, creating: true)
            try migrate(c, temp)
            c.close()
            unlink(temp + "-wal")
            unlink(temp + "-shm")
        } catch {
            unlink(temp)
            throw .cannotCreate(path, reason(error))
        }
        // link() fails if another process created the database first: then use theirs.
        if link(temp, path) != 0 && errno != EEXIST {
            let why = String(cString: strerror(errno))
            unlink(temp)
            throw .cannotCreate(path, why)
        }
        unlink(temp)
        let c = try open(path, readOnly: false, creating: false)
        try checkVersion(c, path)
        try migrate(c, path)
        return c
    }

    /// WAL is set once, when the database is made (it is a persistent property of the
    /// file); opening an existing file never writes to it before its checks have passed.
    private static func open(_ path: String, readOnly: Bool, creating: Bool) throws(StoreError) -> SQLiteConnection {
        do {
            let c = try SQLiteConnection(path: path, readOnly: readOnly, create: creating)
            if creating { try c.execute("PRAGMA journal_mode = WAL") }
            try c.execute("PRAGMA synchronous = NORMAL")
            return c
        } catch { throw describe(error, path) }
    }

    /// Reads the first 100 bytes: a curriculum database is a SQLite file with our
    /// application id, or a SQLite file with no tables at all (made by hand).
    static func inspectHeader(_ path: String) throws(StoreError) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path, "it cannot be opened for reading") }
        defer { Glibc.close(fd) }
        var head = [UInt8](repeating: 0, count: 100)
        var count = 0
        while count < 100 {
            let n = head.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, 100 - count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            count += n
        }
        if count == 0 { throw .notADatabase(path, "the file is empty") }
        guard count == 100, head.prefix(16).elementsEqual("SQLite format 3\u{0}".utf8) else {
            throw .notADatabase(path, "it is not a SQLite database")
        }
        let appID = head[68..<72].reduce(Int32(0)) { ($0 << 8) | Int32($1) }
        if appID != applicationID {
            throw .notADatabase(
                path,
                appID == 0
                    ? "it is a SQLite database of another application"
                    : String(format: "it is a SQLite database of another application (id 0x%08x)", appID))
        }
    }

    /// The database's schema version (PRAGMA user_version); refuses a newer one.
    @discardableResult
    static func checkVersion(_ c: SQLiteConnection, _ path: String) throws(StoreError) -> Int {
        let version: Int
        do { version = try c.query("PRAGMA user_version") { $0.int(0) }.first ?? 0 } catch { throw describe(error, path) }
        if version > schemaVersion { throw StoreError.newerVersion(path, version, schemaVersion) }
        return version
    }

    // MARK: Schema

    /// The number of migrations this build knows; stored in PRAGMA user_version.
    static var schemaVersion: Int { migrations.count }

    /// Append-only: a shipped migration is never edited, only followed by a new one.
    /// (Databases made before the store left GRDB also hold its `grdb_migrations` table;
    /// `user_version` has always counted the migrations applied, so it is all that is read.)
    static let migrations: [(name: String, sql: String)] = [
        (
            "v1: events, task state, lab runs",
            """
            PRAGMA application_id = \(applicationID);
            CREATE TABLE events (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              at TEXT NOT NULL,
              day TEXT NOT NULL,
              kind TEXT NOT NULL,
              task TEXT,
              note TEXT,
              verified BOOLEAN NOT NULL DEFAULT 0,
              passed BOOLEAN,
              target INTEGER REFERENCES events(id)
            );
            CREATE INDEX events_task ON events(task);
            CREATE INDEX events_target ON events(target) WHERE target IS NOT NULL;
            CREATE TABLE task_state (
              task TEXT PRIMARY KEY,
              done_on TEXT NOT NULL,
              checked_at TEXT NOT NULL,
              verified BOOLEAN NOT NULL DEFAULT 0,
              regressed BOOLEAN NOT NULL DEFAULT 0,
              note TEXT,
              event INTEGER NOT NULL REFERENCES events(id)
            ) WITHOUT ROWID;
            CREATE TABLE lab_runs (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              event INTEGER NOT NULL REFERENCES events(id),
              lab TEXT NOT NULL,
              task TEXT,
              at TEXT NOT NULL,
              seconds REAL NOT NULL,
              outcome TEXT NOT NULL,
              quick BOOLEAN NOT NULL,
              checks_passed INTEGER NOT NULL,
              checks_total INTEGER NOT NULL,
              figures TEXT NOT NULL,
              error TEXT
            );
            CREATE INDEX lab_runs_lab ON lab_runs(lab, id);
            CREATE INDEX lab_runs_task ON lab_runs(task, id);
            """
        ),
        // Exercise mode: what a run judged, and what a verified check-off was verified
        // against, when it was the learner's own work ("kind value"; NULL: the reference).
        (
            "v2: lab subjects",
            """
            ALTER TABLE events ADD COLUMN subject TEXT;
            ALTER TABLE task_state ADD COLUMN subject TEXT;
            ALTER TABLE lab_runs ADD COLUMN subject TEXT;
            """
        ),
        // The learner's own start (`started` events, read on every command) and the lab
        // verdicts `review` schedules from are found by kind. Sync (`curriculum sync DIR`):
        // every event gets a globally unique id, `<machine>-<its id here>-<random>`, made by
        // a trigger from this database's machine id (random, made here), so that event logs
        // of several machines merge without collisions and replay in one order everywhere
        // (by time, then uid). An undo names its target by uid too, for targets imported
        // later. Earlier builds know neither the `started` kind nor these columns, so the
        // version also keeps them from reading such a log.
        (
            "v3: learner's start, sync",
            """
            CREATE INDEX events_kind ON events(kind, id);
            CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            INSERT INTO sync_state (key, value) VALUES ('machine', lower(hex(randomblob(8))));
            ALTER TABLE events ADD COLUMN uid TEXT;
            ALTER TABLE events ADD COLUMN target_uid TEXT;
            UPDATE events SET uid = printf('%s-%012d-%s', (SELECT value FROM sync_state WHERE key = 'machine'), id, lower(hex(randomblob(4))));
            UPDATE events SET target_uid = (SELECT t.uid FROM events t WHERE t.id = events.target) WHERE target IS NOT NULL;
            CREATE UNIQUE INDEX events_uid ON events(uid);
            CREATE INDEX events_order ON events(at, uid);
            CREATE TRIGGER events_uid AFTER INSERT ON events WHEN NEW.uid IS NULL BEGIN
              UPDATE events SET uid = printf('%s-%012d-%s', (SELECT value FROM sync_state WHERE key = 'machine'), NEW.id, lower(hex(randomblob(4)))),
                                target_uid = (SELECT t.uid FROM events t WHERE t.id = NEW.target)
              WHERE id = NEW.id;
            END;
            """
        ),
    ]

    /// Applies the migrations the database has not had, in one IMMEDIATE transaction, each
    /// followed by the user_version that records it.
    static func migrate(_ c: SQLiteConnection, _ path: String) throws(StoreError) {
        do {
            try c.execute("BEGIN IMMEDIATE")
            do {
                let current = try c.query("PRAGMA user_version") { $0.int(0) }.first ?? 0
                if current > schemaVersion { throw StoreError.newerVersion(path, current, schemaVersion) }
                for (i, m) in migrations.enumerated() where i >= current {
                    try c.execute(m.sql)
                    try c.execute("PRAGMA user_version = \(i + 1)")
                }
                try c.execute("COMMIT")
            } catch {
                try? c.execute("ROLLBACK")
                throw error
            }
        } catch { throw describe(error, path) }
    }

    // MARK: Errors

    static func reason(_ error: any Error) -> String {
        if let e = error as? SQLiteError { return e.message }
        if let e = error as? CocoaError, let u = e.userInfo[NSUnderlyingErrorKey] as? NSError { return u.localizedDescription }
        return "\(error)"
    }

    static func describe(_ error: any Error, _ path: String) -> StoreError {
        if let e = error as? StoreError { return e }
        if let e = error as? SQLiteError {
            switch e.primary {
            case SQLITE_NOTADB: return .notADatabase(path, "it is not a SQLite database")
            case SQLITE_CORRUPT: return .corrupt(path, e.message)
            case SQLITE_BUSY, SQLITE_LOCKED: return .busy(path)
            case SQLITE_READONLY: return .readOnly(path)
            case SQLITE_CANTOPEN: return .unreadable(path, e.message)
            case SQLITE_FULL: return .failed(path, "the disk is full")
            case SQLITE_IOERR: return .failed(path, "an I/O error occurred (\(e.message))")
            default: break
            }
        }
        return .failed(path, reason(error))
    }

    /// One IMMEDIATE transaction: it takes the write lock up front, so two processes
    /// writing at once wait for each other (busy timeout) instead of failing mid-way.
    func write<T>(_ body: (SQLiteConnection) throws -> T) throws(StoreError) -> T {
        if readOnly { throw .readOnly(path) }
        return try transaction("BEGIN IMMEDIATE", body)
    }

    /// One read transaction: every statement in it sees the same snapshot.
    func read<T>(_ body: (SQLiteConnection) throws -> T) throws(StoreError) -> T {
        try transaction("BEGIN", body)
    }

    private func transaction<T>(_ begin: String, _ body: (SQLiteConnection) throws -> T) throws(StoreError) -> T {
        do {
            // Prepared once and reused, like every other statement (exec parses each time).
            return try db.serialized {
                try db.run(begin)
                do {
                    let result = try body(db)
                    try db.run("COMMIT")
                    return result
                } catch {
                    try? db.run("ROLLBACK")
                    throw error
                }
            }
        } catch { throw Store.describe(error, path) }
    }
}

/// What can go wrong with the progress database, each as one sentence.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case notADatabase(String, String)
    case corrupt(String, String)
    case newerVersion(String, Int, Int)
    case readOnly(String)
    case busy(String)
    case unreadable(String, String)
    case cannotCreate(String, String)
    case failed(String, String)

    public var description: String {
        switch self {
        case let .notADatabase(p, why): return "\(p) is not a curriculum progress database: \(why); it was left untouched (move it away or pass another --db)."
        case let .corrupt(p, why):
            return "the progress database \(p) is damaged (\(why)); it was left untouched — restore it from a backup, or run `curriculum doctor` for details."
        case let .newerVersion(p, v, known):
            return
                "the progress database \(p) was written by a newer curriculum (schema \(v); this one knows up to \(known)); it was left untouched — upgrade curriculum."
        case let .readOnly(p): return "the progress database \(p) is read-only, so nothing can be recorded; make it writable or pass another --db."
        case let .busy(p): return "the progress database \(p) stayed locked by another process for 30 seconds; try again."
        case let .unreadable(p, why): return "the progress database \(p) cannot be read: \(why)."
        case let .cannotCreate(p, why): return "the progress database \(p) cannot be created: \(why)."
        case let .failed(p, why): return "the progress database \(p) failed: \(why)."
        }
    }
}
