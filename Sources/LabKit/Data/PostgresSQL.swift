import Foundation
import PostgresNIO

/// Rows to insert in batches: `INSERT … VALUES (…), (…)` built from already-escaped literals.
public enum PGLabSQL {
    /// A string literal with quotes doubled: for the labs' own generated values only.
    public static func literal(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    /// Inserts `rows` (each a list of SQL literals) into `table(columns)`, `batch` rows per statement.
    public static func insert(_ session: PGSession, into table: String, columns: [String], rows: [[String]], batch: Int = 1000) async throws {
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(start + batch, rows.count)]
            let values = chunk.map { "(" + $0.joined(separator: ", ") + ")" }.joined(separator: ",\n")
            try await session.execute("INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES \(values)")
            start += batch
        }
    }
}
