// Shared by the SQLite labs (orm, migrations, denormalization, read-caching, idempotency,
// event-sourcing): opening a GRDB connection in the lab's scratch folder with SQLite's
// statement tracer attached, dumping a database to compare two of them, a seeded random
// generator, and a small pure-Swift SHA-256 (CryptoKit is not on Linux).
import Crypto
import Foundation
import GRDB
import Synchronization

/// Every SQL statement a connection starts, as SQLite's trace hook reports it
/// (`sqlite3_trace_v2`, through GRDB's `Database.trace`). Labs count statements with it
/// instead of trusting the code that issues them.
public final class StatementLog: Sendable {
    public init() {}
    private let entries = Mutex<[String]>([])

    public func record(_ sql: String) { entries.withLock { $0.append(sql) } }
    public func reset() { entries.withLock { $0.removeAll() } }
    public var all: [String] { entries.withLock { $0 } }

    /// The queries that read data: SELECTs, leaving out GRDB's own schema look-ups
    /// (`PRAGMA …`, `sqlite_master`) and transaction statements.
    public var queries: [String] { all.filter(StatementLog.isDataQuery) }

    public static func isDataQuery(_ sql: String) -> Bool {
        let s = sql.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        return (s.hasPrefix("SELECT") || s.hasPrefix("WITH")) && !s.contains("SQLITE_")
    }

    /// Runs `body` and returns what it returned with the data queries it ran.
    public func capture<T>(_ body: () throws -> T) rethrows -> (T, [String]) {
        reset()
        let value = try body()
        return (value, queries)
    }
}

public enum SQLiteLab {
    /// Opens (creating) a database: a file in `folder`, or in memory when `folder` is nil.
    /// `log` receives every statement; `wal` and `busyTimeout` are for labs that open several
    /// connections to one file (writers then wait for each other instead of failing).
    /// A lab's database is thrown away after the run, so commits do not wait for the disk
    /// (`synchronous = OFF`): the labs measure SQL work, not fsync.
    public static func open(
        in folder: URL?, name: String = "lab.sqlite", log: StatementLog? = nil,
        wal: Bool = false, busyTimeout: TimeInterval? = nil
    ) throws -> DatabaseQueue {
        var config = Configuration()
        if wal { config.journalMode = .wal }
        if let busyTimeout { config.busyMode = .timeout(busyTimeout) }
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = OFF")
            if let log {
                db.trace { event in
                    if case let .statement(statement) = event { log.record(statement.sql) }
                }
            }
        }
        if let folder {
            return try DatabaseQueue(path: folder.appendingPathComponent(name).path, configuration: config)
        }
        return try DatabaseQueue(configuration: config)
    }

    /// The SQLite library version GRDB links, for `lab.engine`.
    public static func version(_ db: DatabaseQueue) throws -> String {
        try db.read { try String.fetchOne($0, sql: "SELECT sqlite_version()") } ?? "unknown"
    }

    /// The whole database as text, one line per schema object and per row, in a fixed
    /// order: two databases with equal dumps hold the same schema and data.
    public static func dump(_ db: Database, excluding: Set<String> = []) throws -> [String] {
        var lines: [String] = []
        let objects = try Row.fetchAll(
            db,
            sql: """
                SELECT type, name, sql FROM sqlite_master
                WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name
                """)
        for o in objects {
            let name: String = o["name"]
            if excluding.contains(name) { continue }
            let type: String = o["type"]
            let sql: String? = o["sql"]
            lines.append("\(type) \(name): \(sql ?? "")")
            guard type == "table" else { continue }
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM \(name.quotedDatabaseIdentifier) ORDER BY rowid")
            for row in rows { lines.append("  \(name) \(row.description)") }
        }
        return lines
    }

    /// Names of the tables and columns present, e.g. `book(id,title)`.
    public static func tables(_ db: Database) throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        for name in names { result[name] = try db.columns(in: name).map(\.name) }
        return result
    }

    /// The labs' seeded generator (the same seed gives the same workload every run).
    public typealias Random = SeededRandom
}

extension SQLiteLab {
    /// SHA-256 for checksums and request fingerprints: swift-crypto's (already in the build
    /// through postgres-nio), not a hand-written one.
    public enum SHA256 {
        public static func digest(_ message: [UInt8]) -> [UInt8] { Array(Crypto.SHA256.hash(data: message)) }

        public static func hex(_ text: String) -> String {
            Crypto.SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
        }
    }
}
