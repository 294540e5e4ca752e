import Foundation
import GRDB

/// The learner's progress in SQLite: an append-only event log and the current state kept
/// in step with it, one transaction per command. The only type in the tracker that speaks SQL.
public final class Store: @unchecked Sendable {
    /// Written into the database header (PRAGMA application_id) so that another
    /// application's SQLite file is never mistaken for ours: "CURR".
    static let applicationID: Int32 = 0x4355_5252

    public let path: String
    let db: DatabaseQueue
    public let readOnly: Bool

    /// Opens (creating on first use, with its folder) the progress database at `path`.
    /// A file that is not a curriculum database, or comes from a newer version, is refused
    /// before anything is written to it.
    public init(path: String) throws(StoreError) {
        self.path = path
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { throw .notADatabase(path, "it is a folder") }
            try Store.inspectHeader(path)
            let writable = fm.isWritableFile(atPath: path)
                && fm.isWritableFile(atPath: (path as NSString).deletingLastPathComponent)
            readOnly = !writable
            db = try Store.open(path, readOnly: !writable, creating: false)
            let version = try Store.checkVersion(db, path)
            // Every migration sets user_version, so a current one means nothing to migrate:
            // skipping the migrator saves reading its bookkeeping table on every command.
            if !writable || version == Store.schemaVersion {
                return
            }
            do { try Store.migrator.migrate(db) } catch { throw Store.describe(error, path) }
        } else {
            readOnly = false
            db = try Store.create(path)
        }
    }

    /// Creates a new database next to `path` and moves it into place once its schema is
    /// complete, so a process killed during creation never leaves a half-made file at `path`.
    private static func create(_ path: String) throws(StoreError) -> DatabaseQueue {
        let fm = FileManager.default
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            do { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw .cannotCreate(path, "its folder \(folder) cannot be created (\(Store.reason(error)))")
            }
        }
        let temp = path + ".new-\(getpid())"
        do {
            let q = try open(temp, readOnly: false, creating: true)
            try migrator.migrate(q)
            try q.close()
            try? fm.removeItem(atPath: temp + "-wal")
            try? fm.removeItem(atPath: temp + "-shm")
        } catch {
            try? fm.removeItem(atPath: temp)
            throw .cannotCreate(path, reason(error))
        }
        // link() fails if another process created the database first: then use theirs.
        if link(temp, path) != 0 && errno != EEXIST {
            let why = String(cString: strerror(errno))
            unlink(temp)
            throw .cannotCreate(path, why)
        }
        unlink(temp)
        do {
            let q = try open(path, readOnly: false, creating: false)
            try checkVersion(q, path)
            try migrator.migrate(q)
            return q
        } catch let e as StoreError { throw e } catch { throw describe(error, path) }
    }

    /// WAL is set once, when the database is made (it is a persistent property of the
    /// file); opening an existing file never writes to it before its checks have passed.
    private static func open(_ path: String, readOnly: Bool, creating: Bool) throws(StoreError) -> DatabaseQueue {
        var config = Configuration()
        config.readonly = readOnly
        config.busyMode = .timeout(30)
        config.journalMode = creating ? .wal : .default
        config.label = "curriculum"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do { return try DatabaseQueue(path: path, configuration: config) } catch { throw describe(error, path) }
    }

    /// Closes the connection now (SQLite checkpoints the write-ahead log if this was the last
    /// one); errors are ignored, as in the deinitializer that would otherwise close it.
    func close() { try? db.close() }

    /// Reads the first 100 bytes: a curriculum database is a SQLite file with our
    /// application id, or a SQLite file with no tables at all (made by hand).
    static func inspectHeader(_ path: String) throws(StoreError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .unreadable(path, "it cannot be opened for reading")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 100)) ?? Data()
        if head.isEmpty { throw .notADatabase(path, "the file is empty") }
        let magic = Data("SQLite format 3\u{0}".utf8)
        guard head.count == 100, head.prefix(16) == magic else {
            throw .notADatabase(path, "it is not a SQLite database")
        }
        let appID = head[68..<72].reduce(Int32(0)) { ($0 << 8) | Int32($1) }
        if appID != applicationID {
            throw .notADatabase(path, appID == 0
                ? "it is a SQLite database of another application"
                : String(format: "it is a SQLite database of another application (id 0x%08x)", appID))
        }
    }

    /// The database's schema version (PRAGMA user_version); refuses a newer one.
    @discardableResult
    static func checkVersion(_ q: DatabaseQueue, _ path: String) throws(StoreError) -> Int {
        do {
            let version = try q.read { try Int.fetchOne($0, sql: "PRAGMA user_version") ?? 0 }
            if version > schemaVersion { throw StoreError.newerVersion(path, version, schemaVersion) }
            return version
        } catch let e as StoreError { throw e } catch { throw describe(error, path) }
    }

    // MARK: Schema

    /// The number of migrations this build knows; stored in PRAGMA user_version.
    static var schemaVersion: Int { migrator.migrations.count }

    /// Append-only: a shipped migration is never edited, only followed by a new one.
    static let migrator: DatabaseMigrator = {
        var m = DatabaseMigrator()
        m.registerMigration("v1: events, task state, lab runs") { db in
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
            try db.execute(sql: "PRAGMA user_version = 1")
            try db.execute(sql: """
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
                """)
        }
        return m
    }()

    // MARK: Errors

    static func reason(_ error: any Error) -> String {
        if let e = error as? DatabaseError { return e.message ?? "\(e.resultCode)" }
        if let e = error as? CocoaError, let u = e.userInfo[NSUnderlyingErrorKey] as? NSError { return u.localizedDescription }
        return "\(error)"
    }

    static func describe(_ error: any Error, _ path: String) -> StoreError {
        if let e = error as? StoreError { return e }
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_NOTADB: return .notADatabase(path, "it is not a SQLite database")
            case .SQLITE_CORRUPT: return .corrupt(path, e.message ?? "corrupt")
            case .SQLITE_BUSY, .SQLITE_LOCKED: return .busy(path)
            case .SQLITE_READONLY: return .readOnly(path)
            case .SQLITE_CANTOPEN: return .unreadable(path, e.message ?? "it cannot be opened")
            case .SQLITE_FULL: return .failed(path, "the disk is full")
            default: break
            }
            if e.extendedResultCode.primaryResultCode == .SQLITE_IOERR { return .failed(path, "an I/O error occurred (\(e.message ?? ""))") }
        }
        return .failed(path, reason(error))
    }

    /// One IMMEDIATE transaction: it takes the write lock up front, so two processes
    /// writing at once wait for each other (busy timeout) instead of failing mid-way.
    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        if readOnly { throw .readOnly(path) }
        do {
            return try db.writeWithoutTransaction { db in
                var result: Result<T, any Error> = .failure(StoreError.failed(path, "the transaction did not run"))
                try db.inTransaction(.immediate) {
                    result = .success(try body(db))
                    return .commit
                }
                return try result.get()
            }
        } catch { throw Store.describe(error, path) }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try db.read(body) } catch { throw Store.describe(error, path) }
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
        case let .corrupt(p, why): return "the progress database \(p) is damaged (\(why)); it was left untouched — restore it from a backup, or run `curriculum doctor` for details."
        case let .newerVersion(p, v, known): return "the progress database \(p) was written by a newer curriculum (schema \(v); this one knows up to \(known)); it was left untouched — upgrade curriculum."
        case let .readOnly(p): return "the progress database \(p) is read-only, so nothing can be recorded; make it writable or pass another --db."
        case let .busy(p): return "the progress database \(p) stayed locked by another process for 30 seconds; try again."
        case let .unreadable(p, why): return "the progress database \(p) cannot be read: \(why)."
        case let .cannotCreate(p, why): return "the progress database \(p) cannot be created: \(why)."
        case let .failed(p, why): return "the progress database \(p) failed: \(why)."
        }
    }
}
