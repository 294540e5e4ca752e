import LabKit

extension LabRegistry {
    static let postgres: [any Lab.Type] = [
        PostgresSetupLab.self, SchemaNormalizationLab.self, SQLMasteryLab.self, TransactionsIsolationLab.self,
        QueryPlansLab.self, OLAPSchemaLab.self, JSONBLab.self, BackgroundJobsLab.self,
    ]
}

/// A small seeded generator (SplitMix64) the PostgreSQL labs use for their datasets, so
/// the same seed gives the same rows and the same expected answers on every machine.
struct PGLabRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: Int) { state = UInt64(truncatingIfNeeded: seed) &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A whole number in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}

/// Rows to insert in batches: `INSERT … VALUES (…), (…)` built from already-escaped literals.
enum PGLabSQL {
    /// A string literal with quotes doubled: for the labs' own generated values only.
    static func literal(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    /// Inserts `rows` (each a list of SQL literals) into `table(columns)`, `batch` rows per statement.
    static func insert(_ session: PGSession, into table: String, columns: [String], rows: [[String]], batch: Int = 1000) async throws {
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(start + batch, rows.count)]
            let values = chunk.map { "(" + $0.joined(separator: ", ") + ")" }.joined(separator: ",\n")
            try await session.execute("INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES \(values)")
            start += batch
        }
    }
}
