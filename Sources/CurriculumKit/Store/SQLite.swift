import Foundation
import GRDBSQLite

/// A thin connection over SQLite's C API: the handful of statements the tracker runs per
/// command. A general-purpose layer (GRDB) cost more at start-up than the commands'
/// own work: a dispatch queue per connection, an authorizer on every statement, SQL built
/// and the schema read for every record saved, generic metadata instantiated at run time.
final class SQLiteConnection {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    private let lock = NSLock()

    /// Opens `path` read-write (creating it when asked) or read-only; waits up to
    /// `busyTimeout` seconds for other processes' locks.
    init(path: String, readOnly: Bool, create: Bool, busyTimeout: Int32 = 30) throws(SQLiteError) {
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let error = SQLiteError(code: rc, message: db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory")
            sqlite3_close_v2(db)
            throw error
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeout * 1000)
    }

    deinit { close() }

    /// Finalizes every statement and closes the connection (SQLite checkpoints a WAL
    /// database on the last close). Idempotent.
    func close() {
        guard let db = handle else { return }
        for s in statements.values { sqlite3_finalize(s) }
        statements = [:]
        sqlite3_close_v2(db)
        handle = nil
    }

    /// Runs `body` alone on this connection (one command's statements never interleave
    /// with another thread's).
    func serialized<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Runs one or more statements without results (schema, pragmas, BEGIN/COMMIT).
    func execute(_ sql: String) throws(SQLiteError) {
        guard let db = handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "the database is closed") }
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw SQLiteError(code: sqlite3_extended_errcode(db), message: text)
        }
    }

    /// Runs one statement with arguments, ignoring any rows.
    func run(_ sql: String, _ arguments: [SQLValue] = []) throws(SQLiteError) {
        try query(sql, arguments) { _ throws(SQLiteError) in () }
    }

    /// Runs one statement with arguments and maps each row.
    @discardableResult
    func query<T>(_ sql: String, _ arguments: [SQLValue] = [], _ row: (SQLiteRow) throws(SQLiteError) -> T) throws(SQLiteError) -> [T] {
        let stmt = try prepared(sql)
        defer { sqlite3_reset(stmt); sqlite3_clear_bindings(stmt) }
        for (i, value) in arguments.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case let .integer(v): rc = sqlite3_bind_int64(stmt, index, v)
            case let .real(v): rc = sqlite3_bind_double(stmt, index, v)
            case let .text(v): rc = sqlite3_bind_text(stmt, index, v, -1, SQLiteConnection.transient)
            }
            if rc != SQLITE_OK { throw lastError(rc) }
        }
        var out: [T] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw lastError(rc) }
            out.append(try row(SQLiteRow(stmt: stmt)))
        }
        return out
    }

    /// The rowid of the last INSERT on this connection.
    var lastInsertedRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }
    /// Rows the last statement changed (not counting triggers).
    var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    /// Statements are prepared once per connection and reused: a bulk check-off runs the
    /// same few thousands of times.
    private func prepared(_ sql: String) throws(SQLiteError) -> OpaquePointer {
        if let s = statements[sql] { return s }
        guard let db = handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "the database is closed") }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw lastError(rc) }
        statements[sql] = stmt
        return stmt
    }

    private func lastError(_ rc: Int32) -> SQLiteError {
        guard let db = handle else { return SQLiteError(code: rc, message: String(cString: sqlite3_errstr(rc))) }
        return SQLiteError(code: sqlite3_extended_errcode(db), message: String(cString: sqlite3_errmsg(db)))
    }

    /// SQLITE_TRANSIENT: SQLite copies bound text before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// A value bound to a statement parameter.
enum SQLValue {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    init(_ v: String?) { self = v.map { .text($0) } ?? .null }
    init(_ v: Bool) { self = .integer(v ? 1 : 0) }
    init(_ v: Bool?) { self = v.map { .integer($0 ? 1 : 0) } ?? .null }
    init(_ v: Int64?) { self = v.map { .integer($0) } ?? .null }
    init(_ v: Int) { self = .integer(Int64(v)) }
}

/// The current row of a statement, read by column position.
struct SQLiteRow {
    let stmt: OpaquePointer

    func isNull(_ i: Int32) -> Bool { sqlite3_column_type(stmt, i) == SQLITE_NULL }
    func int64(_ i: Int32) -> Int64 { sqlite3_column_int64(stmt, i) }
    func int(_ i: Int32) -> Int { Int(sqlite3_column_int64(stmt, i)) }
    func double(_ i: Int32) -> Double { sqlite3_column_double(stmt, i) }
    func bool(_ i: Int32) -> Bool { sqlite3_column_int64(stmt, i) != 0 }
    func optionalInt64(_ i: Int32) -> Int64? { isNull(i) ? nil : int64(i) }
    func optionalBool(_ i: Int32) -> Bool? { isNull(i) ? nil : bool(i) }

    func text(_ i: Int32) -> String {
        guard let p = sqlite3_column_text(stmt, i) else { return "" }
        let n = Int(sqlite3_column_bytes(stmt, i))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    func optionalText(_ i: Int32) -> String? { isNull(i) ? nil : text(i) }
}

/// A failed SQLite call: its extended result code and message.
struct SQLiteError: Error, CustomStringConvertible {
    var code: Int32
    var message: String

    /// The primary result code (SQLITE_BUSY for SQLITE_BUSY_SNAPSHOT, and so on).
    var primary: Int32 { code & 0xff }
    var description: String { message }
}
