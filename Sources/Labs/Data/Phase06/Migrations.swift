// Migrations: versioned, checksummed schema changes (the Flyway model), written here in a
// few dozen lines so nothing is hidden.
//
// Each migration has a version, a description and its SQL. The database keeps a
// `schema_history` table: which versions ran, in which order, and a SHA-256 checksum of
// the SQL each one ran. `migrate` first validates (every applied migration must still
// have the same checksum — a shipped migration is never edited; you add a new one), then
// applies the pending ones in version order, each in its own transaction together with
// its history row. SQLite's DDL is transactional, so a migration that fails half-way
// rolls back whole: its tables, columns and rows vanish with its history row, and the
// next run starts again from the same place.
import Foundation
import GRDB
import LabCatalog
import LabKit

struct Migration: Sendable {
    var version: Int
    var description: String
    var sql: String
    var checksum: String { SQLiteLab.SHA256.hex(sql) }
}

struct AppliedMigration: Equatable, Sendable {
    var rank: Int
    var version: Int
    var description: String
    var checksum: String
}

enum MigrationFailure: Error, Equatable, CustomStringConvertible {
    /// An applied migration's SQL changed since it ran.
    case checksumMismatch(version: Int, recorded: String, current: String)
    /// An applied migration is no longer in the code.
    case missing(version: Int)
    /// A pending migration failed; its transaction rolled back.
    case failed(version: Int, message: String)

    var description: String {
        switch self {
        case let .checksumMismatch(v, recorded, current):
            return "migration V\(v) was edited after it was applied: checksum \(recorded.prefix(12))… recorded, \(current.prefix(12))… now"
        case let .missing(v): return "migration V\(v) was applied but is no longer defined"
        case let .failed(v, message): return "migration V\(v) failed and rolled back: \(message)"
        }
    }
}

enum MigrationRunner {
    struct Result {
        var applied: [Int] = []
        var failure: MigrationFailure?
        /// Statements each migration ran (as traced), by version; for a failed migration,
        /// the ones that ran before (and including) the one that failed.
        var statements: [Int: Int] = [:]
    }

    static func history(_ db: Database) throws -> [AppliedMigration] {
        guard try db.tableExists("schema_history") else { return [] }
        return try Row.fetchAll(db, sql: "SELECT * FROM schema_history ORDER BY installed_rank").map {
            AppliedMigration(rank: $0["installed_rank"], version: $0["version"], description: $0["description"], checksum: $0["checksum"])
        }
    }

    /// The checksum the runner records and validates: the SHA-256 of the SQL (two breakers
    /// hash something else).
    static func checksum(_ m: Migration, _ fault: MigrationsLab.Fault = .none) -> String {
        switch fault {
        case .checksumIncludesDescription: SQLiteLab.SHA256.hex(m.description + "\n" + m.sql)
        case .checksumIgnoresComments:
            SQLiteLab.SHA256.hex(m.sql.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("--") }.joined(separator: "\n"))
        default: m.checksum
        }
    }

    /// Every applied migration must still be defined, with the checksum it ran with.
    static func validate(_ applied: [AppliedMigration], against migrations: [Migration], fault: MigrationsLab.Fault = .none) -> MigrationFailure? {
        let byVersion = Dictionary(migrations.map { ($0.version, $0) }, uniquingKeysWith: { a, _ in a })
        for a in applied {
            guard let m = byVersion[a.version] else { return .missing(version: a.version) }
            let current = checksum(m, fault)
            if current != a.checksum { return .checksumMismatch(version: a.version, recorded: a.checksum, current: current) }
        }
        return nil
    }

    static func migrate(_ dbQueue: DatabaseQueue, _ migrations: [Migration], log: StatementLog? = nil, fault: MigrationsLab.Fault = .none) throws -> Result {
        var result = Result()
        try dbQueue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS schema_history (
                        installed_rank INTEGER PRIMARY KEY,
                        version INTEGER NOT NULL UNIQUE,
                        description TEXT NOT NULL,
                        checksum TEXT NOT NULL)
                    """)
        }
        let applied = try dbQueue.read(history)
        if fault != .validateAfterApply, let failure = validate(applied, against: migrations, fault: fault) {
            result.failure = failure
            return result
        }
        let latest = applied.map(\.version).max() ?? 0
        let pending = migrations.sorted(by: { $0.version < $1.version }).filter { fault == .offByOnePending ? $0.version >= latest : $0.version > latest }
        for m in pending {
            log?.reset()
            do {
                let apply = { (db: Database) in
                    if fault == .firstStatementOnly {
                        // Prepares the SQL once and runs what was prepared: its first statement.
                        try db.allStatements(sql: m.sql).next()?.execute()
                    } else {
                        try db.execute(sql: m.sql)
                    }
                    try db.execute(
                        sql:
                            "INSERT INTO schema_history (installed_rank, version, description, checksum) VALUES ((SELECT count(*) + 1 FROM schema_history), ?, ?, ?)",
                        arguments: [m.version, m.description, checksum(m, fault)])
                }
                // Each migration in its own transaction; no-transaction runs it statement by statement.
                if fault == .noTransaction { try dbQueue.writeWithoutTransaction(apply) } else { try dbQueue.write(apply) }
                result.applied.append(m.version)
                result.statements[m.version] = (log?.all.filter(isMigrationStatement).count ?? 1) - 1  // minus the history INSERT
            } catch let error as DatabaseError {
                result.statements[m.version] = log?.all.filter(isMigrationStatement).count
                if fault == .swallowFailure { break }  // logged nowhere: the deploy looks fine
                result.failure = .failed(version: m.version, message: error.message ?? "\(error.resultCode)")
                if fault == .continueAfterFailure { continue }
                break
            }
        }
        if fault == .validateAfterApply, let failure = validate(try dbQueue.read(history), against: migrations, fault: fault) {
            result.failure = failure
        }
        return result
    }

    private static func isMigrationStatement(_ sql: String) -> Bool {
        let s = sql.uppercased()
        return !(s.hasPrefix("BEGIN") || s.hasPrefix("COMMIT") || s.hasPrefix("ROLLBACK") || s.hasPrefix("PRAGMA") || s.contains("SQLITE_"))
    }
}

struct MigrationsLab: Lab {
    enum Fault: String, CaseIterable, Sendable {
        case none
        case swallowFailure = "swallow-failure"
        case continueAfterFailure = "continue-after-failure"
        case checksumIncludesDescription = "checksum-includes-description"
        case firstStatementOnly = "first-statement-only"
        case noTransaction = "no-transaction"
        case offByOnePending = "off-by-one-pending"
        case checksumIgnoresComments = "checksum-ignores-comments"
        case validateAfterApply = "validate-after-apply"

        var effect: String {
            switch self {
            case .none: "nothing broken"
            case .swallowFailure: "the runner stops at a failing migration but does not report it"
            case .continueAfterFailure: "the runner reports a failing migration and goes on with the later ones"
            case .checksumIncludesDescription: "the runner hashes the description with the SQL, so the recorded checksum is not the SQL's SHA-256"
            case .firstStatementOnly: "the runner prepares each migration's SQL once and runs only its first statement"
            case .noTransaction: "the runner runs each migration without a transaction, so a failure leaves its first statements applied"
            case .offByOnePending: "the runner treats the latest applied version as pending too (>= instead of >)"
            case .checksumIgnoresComments: "the runner hashes the SQL without its comment lines, so an edit in a comment goes unseen"
            case .validateAfterApply: "the runner validates checksums after applying the pending migrations instead of before"
            }
        }
    }

    static let authors = Knob.int("authors", 2...5000, default: 200, quick: 30, help: "Authors seeded by V2 (three books each); two of them share a name.")
    static let failAt = Knob.int("fail-at", 2...6, default: 4, help: "The migration shipped with the unique-name index that fails on the seeded duplicates.")
    static let edit = Knob.int("edit", 1...6, default: 3, help: "The applied migration someone edits afterwards.")
    static let fault = Knob<Fault>.choice(
        "break", default: .none,
        help: "Breaks the migration runner so a check fails: " + Fault.allCases.dropFirst().map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ")
            + ".")

    /// The checks, named once so the breaker tests cannot drift from them (some name the
    /// knobs' values: these take them).
    static let failureReported = "the failing migration is reported"
    static let appliedInOrder = "applied set recorded in version order"
    static let checksumsRecorded = "recorded checksums are the SHA-256 of the applied SQL"
    static func failingRan(statements: Int) -> String {
        "the failing migration really ran: all \(statements) of its statements started, the last one failed"
    }
    static func rolledBack(failAt: Int) -> String {
        "the failed migration rolled back whole (schema and rows equal V1…V\(failAt - 1) applied alone)"
    }
    static let fixedApplies = "the fixed deploy applies the rest, in order"
    static let repeatAppliesNothing = "a repeated deploy applies nothing"
    static let editDetected = "the edit is detected by checksum"
    static func validatedFirst(added: Int) -> String {
        "validation failed before anything ran (V\(added) not applied, database unchanged)"
    }

    static let info = LabInfo(
        id: "migrations", title: "Versioned, checksummed migrations", phase: 6,
        teaches:
            "A Flyway-style runner applies migrations in version order, each in its own transaction with its history row: a failing one rolls back whole, and an applied one edited afterwards is caught by its SHA-256 checksum.",
        parameters: [authors.parameter, failAt.parameter, edit.parameter, fault.parameter],
        source: "Sources/Labs/Data/Phase06/Migrations.swift")

    /// The fix for the duplicate names, then the statement that needs it.
    static let uniqueNames = "CREATE UNIQUE INDEX author_unique_name ON author(name);"
    static let dedupe = "UPDATE author SET name = name || ' (' || id || ')' WHERE name IN (SELECT name FROM author GROUP BY name HAVING count(*) > 1);"

    /// The bookshelf's migrations. The seed (V2) has two authors called "Anonymous", so a
    /// unique index on author names fails at run time — a realistic broken migration.
    static func migrations(authors: Int) -> [Migration] {
        let authorRows = (1...authors).map { "(\($0), '\($0 <= 2 || $0 % 7 == 0 ? "Anonymous" : "Author \($0)")')" }
        let bookRows = (1...authors).flatMap { a in (1...3).map { "(\(a * 10 + $0), \(a), 'Book \(a)-\($0)')" } }
        return [
            Migration(
                version: 1, description: "create author and book",
                sql: """
                    CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                    CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES author(id), title TEXT NOT NULL);
                    """),
            Migration(
                version: 2, description: "seed authors and books",
                sql: """
                    INSERT INTO author (id, name) VALUES \(authorRows.joined(separator: ", "));
                    INSERT INTO book (id, author_id, title) VALUES \(bookRows.joined(separator: ", "));
                    """),
            Migration(
                version: 3, description: "add review",
                sql: """
                    CREATE TABLE review (id INTEGER PRIMARY KEY, book_id INTEGER NOT NULL REFERENCES book(id), rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5));
                    CREATE INDEX review_book ON review(book_id);
                    """),
            Migration(
                version: 4, description: "add isbn and tags",
                sql: """
                    ALTER TABLE book ADD COLUMN isbn TEXT;
                    UPDATE book SET isbn = 'isbn-' || id;
                    CREATE TABLE tag (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                    INSERT INTO tag (name) VALUES ('fiction'), ('poetry'), ('essay');
                    """),
            Migration(
                version: 5, description: "count books per author",
                sql: """
                    ALTER TABLE author ADD COLUMN book_count INTEGER NOT NULL DEFAULT 0;
                    UPDATE author SET book_count = (SELECT count(*) FROM book WHERE author_id = author.id);
                    """),
            Migration(
                version: 6, description: "first reviews",
                sql: """
                    INSERT INTO review (book_id, rating) SELECT id, 1 + id % 5 FROM book;
                    """),
        ]
    }

    /// The migrations as shipped with a bug: `failAt` ends with the unique index, without
    /// the de-duplication it needs. `fixed` is the corrected version (allowed, since the
    /// broken one never got applied).
    static func withUniqueNames(_ ms: [Migration], at version: Int, fixed: Bool) -> [Migration] {
        ms.map { m in
            guard m.version == version else { return m }
            var m = m
            m.description += ", unique author names"
            m.sql += "\n" + (fixed ? dedupe + "\n" : "") + uniqueNames
            return m
        }
    }

    /// Applies `migrations` by running their SQL directly, without the runner: the
    /// independent reference the lab compares the migrated database with.
    static func reference(_ migrations: [Migration]) throws -> [String] {
        let db = try DatabaseQueue()
        return try db.write { db in
            for m in migrations.sorted(by: { $0.version < $1.version }) { try db.execute(sql: m.sql) }
            return try SQLiteLab.dump(db)
        }
    }

    func run(_ lab: LabContext) async throws {
        let authors = lab[Self.authors]
        let failAt = lab[Self.failAt]
        let edit = lab[Self.edit]
        let fault = lab[Self.fault]
        let log = StatementLog()
        let dbQueue = try SQLiteLab.open(in: lab.scratch, name: "migrations.sqlite", log: log)
        lab.engine("SQLite \(try SQLiteLab.version(dbQueue))")
        if fault != .none { lab.step("The runner is broken on purpose (break=\(fault.rawValue))", "broken on purpose: \(fault.effect)") }

        // Shipped in a shuffled order on purpose: the runner sorts by version.
        var rng = SQLiteLab.Random(seed: 7)
        let clean = Self.migrations(authors: authors)
        let broken = Self.withUniqueNames(clean, at: failAt, fixed: false).shuffled(using: &rng)
        let fixed = Self.withUniqueNames(clean, at: failAt, fixed: true)

        // 1. First deploy: the migration at `failAt` fails half-way.
        let (first, firstSeconds) = try await Measure.time { try MigrationRunner.migrate(dbQueue, broken, log: log, fault: fault) }
        let afterFirst = try await dbQueue.read(MigrationRunner.history)
        let ranInFailed = first.statements[failAt] ?? 0
        lab.step(
            "Ran migrations (V\(failAt) broken)",
            "\(first.failure.map(\.description) ?? "no failure"). Applied: \(first.applied.map { "V\($0)" }.joined(separator: ", ")).")
        lab.figure("migrations applied on first deploy", Double(first.applied.count), "migrations")
        lab.figure("statements the failed migration ran before failing", Double(ranInFailed), "statements")
        lab.figure("first deploy time", firstSeconds * 1000, "ms")

        let expectedApplied = Array(1..<failAt)
        lab.expect(Self.failureReported, first.failure.map { if case let .failed(v, _) = $0 { v } else { 0 } } ?? 0, equals: failAt)
        lab.expect(Self.appliedInOrder, afterFirst.map(\.version), equals: expectedApplied)
        lab.expect(
            Self.checksumsRecorded, afterFirst.map(\.checksum),
            equals: clean.filter { $0.version < failAt }.map(\.checksum))
        let statementsInFailing =
            Self.withUniqueNames(clean, at: failAt, fixed: false)
            .first { $0.version == failAt }.map { $0.sql.split(separator: ";").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }.count }
            ?? 0
        lab.expect(
            Self.failingRan(statements: statementsInFailing), ranInFailed, equals: statementsInFailing)
        let migrated = try await dbQueue.read { try SQLiteLab.dump($0, excluding: ["schema_history"]) }
        let expected = try Self.reference(clean.filter { $0.version < failAt })
        lab.expect(
            Self.rolledBack(failAt: failAt), migrated == expected, expected: "\(expected.count) identical schema and row lines",
            observed: migrated == expected ? "identical" : "differs: \(Set(migrated).symmetricDifference(expected).sorted().prefix(3))")

        // 2. The fix: the broken migration never got applied, so it may still change.
        let second = try MigrationRunner.migrate(dbQueue, fixed, log: log, fault: fault)
        let third = try MigrationRunner.migrate(dbQueue, fixed, log: log, fault: fault)
        let afterFix = try await dbQueue.read(MigrationRunner.history)
        lab.step(
            "Fixed V\(failAt) (de-duplicate names first) and deployed again",
            "Applied \(second.applied.map { "V\($0)" }.joined(separator: ", ")); a further run applied \(third.applied.count).")
        lab.expect(Self.fixedApplies, afterFix.map(\.version), equals: Array(1...clean.count))
        lab.expect(
            Self.repeatAppliesNothing, third.applied.count == 0 && third.failure == nil,
            expected: "0 applied, no failure", observed: "\(third.applied.count) applied, \(third.failure.map(\.description) ?? "no failure")")

        // 3. Someone edits an applied migration and adds a new one.
        var edited = fixed
        if let i = edited.firstIndex(where: { $0.version == edit }) { edited[i].sql += "\n-- tidied up later" }
        edited.append(Migration(version: clean.count + 1, description: "add author bio", sql: "ALTER TABLE author ADD COLUMN bio TEXT;"))
        let beforeEdit = try await dbQueue.read { try SQLiteLab.dump($0) }
        let fourth = try MigrationRunner.migrate(dbQueue, edited, log: log, fault: fault)
        let afterEdit = try await dbQueue.read { try SQLiteLab.dump($0) }
        lab.step("Edited applied V\(edit) (one comment line) and added V\(clean.count + 1)", fourth.failure.map(\.description) ?? "no failure")
        let mismatch = if case let .checksumMismatch(v, _, _) = fourth.failure { v } else { 0 }
        lab.expect(Self.editDetected, mismatch, equals: edit)
        lab.expect(
            Self.validatedFirst(added: clean.count + 1), fourth.applied.isEmpty && afterEdit == beforeEdit, expected: "nothing applied, same dump",
            observed: "\(fourth.applied.count) applied, dump \(afterEdit == beforeEdit ? "same" : "changed")")
    }
}
