import Foundation
import LabCatalog
import LabKit
import Testing

@testable import DataLabs

/// `--answers FILE` for the two query labs: the learner's SQL graded on the lab's own data.
/// Each run starts a real throwaway PostgreSQL (CI installs it with scripts/install-deps.sh);
/// without it these fail rather than skip.
@Suite(.serialized) struct AnswersTests {
    // MARK: Helpers

    /// A folder for one test's answers file and the lab's scratch folders.
    static func folder() throws -> URL {
        let url = URL(fileURLWithPath: "/tmp/answers-test-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func write(_ text: String, _ name: String, in folder: URL) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    static func run(_ type: any Lab.Type, answers path: String, in folder: URL) async throws -> LabReport {
        let info = type.info
        let parameters = try info.resolve(parameters: [:], quick: true)
        let scratch = folder.appendingPathComponent("scratch", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        return await LabRunner.run(
            type, info: info, quick: true, parameters: parameters,
            subject: LabSubject(.answers, path), scratchRoot: scratch)
    }

    static func failed(_ report: LabReport) -> [String] { report.checks.filter { !$0.passed }.map(\.name) }

    static func observed(_ report: LabReport, _ name: String) -> String {
        report.checks.first { $0.name == name }?.observed ?? "(no check named \(name))"
    }

    static func describe(_ report: LabReport) -> String {
        ([report.error].compactMap { $0 } + report.checks.map { "\($0.passed ? "pass" : "FAIL") \($0.name): \($0.observed)" })
            .joined(separator: "\n")
    }

    /// The reference queries written as a learner's answers file, some replaced or left out.
    static func answersFile(replacing: [String: String] = [:], leavingOut: Set<String> = []) -> String {
        SQLMasteryLab.questions.filter { !leavingOut.contains($0.marker) }.map { q in
            "-- name: \(q.marker)\n-- \(q.name)\n\(replacing[q.marker] ?? q.sql);\n"
        }.joined(separator: "\n")
    }

    static func question(_ marker: String) throws -> SQLMasteryLab.Question {
        try #require(SQLMasteryLab.questions.first { $0.marker == marker })
    }

    // MARK: sql-mastery

    @Test func theReferenceQueriesAsAnAnswersFilePass() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.write(Self.answersFile(), "answers.sql", in: dir)
        let report = try await Self.run(SQLMasteryLab.self, answers: path, in: dir)
        #expect(report.outcome == .passed, "\(Self.describe(report))")
        #expect(report.checks.count == 10)
        #expect(report.subject == LabSubject(.answers, path))
        #expect(report.steps.contains { $0.title == "Read your answers from \(path)" && $0.detail?.hasPrefix("10 of 10 queries found") == true })
    }

    @Test func theStarterAnswersFileFailsEveryQuery() async throws {
        let files = SQLMasteryLab.starter()
        #expect(files.map(\.path) == ["README.md", "schema.sql", "answers.sql"])
        let starter = try #require(files.first { $0.path == "answers.sql" })
        let readme = try #require(files.first { $0.path == "README.md" })
        #expect(readme.contents.contains("curriculum lab run sql-mastery --answers answers.sql"))
        #expect(try #require(files.first { $0.path == "schema.sql" }).contents.contains(SQLMasteryLab.schema))
        for q in SQLMasteryLab.questions {
            #expect(starter.contents.contains("\n-- name: \(q.marker)\n"), "the starter has no marker for \(q.marker)")
            #expect(readme.contents.contains(q.ask))
        }

        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.write(starter.contents, "answers.sql", in: dir)
        let report = try await Self.run(SQLMasteryLab.self, answers: path, in: dir)
        #expect(report.outcome == .failed)
        #expect(report.error == nil, "the run itself went fine: \(report.error ?? "")")
        #expect(report.checks.count == 10)
        #expect(Self.failed(report) == SQLMasteryLab.questions.map(\.name))
        for check in report.checks {
            #expect(check.observed.contains("has no query under it, only comments"), "\(check.name): \(check.observed)")
        }
    }

    @Test func oneWrongQueryFailsExactlyItsCheck() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let q2 = try Self.question("q2")
        // Every customer instead of those who never ordered. And q9 without the reference's
        // ::bigint cast: its running total is numeric, which is accepted when whole.
        let q9 = try Self.question("q9").sql.replacingOccurrences(of: "(sum(revenue) OVER (ORDER BY day))::bigint", with: "sum(revenue) OVER (ORDER BY day)")
        #expect(!q9.contains("::bigint"))
        let path = try Self.write(Self.answersFile(replacing: ["q2": "SELECT id FROM customers ORDER BY id", "q9": q9]), "answers.sql", in: dir)
        let report = try await Self.run(SQLMasteryLab.self, answers: path, in: dir)
        #expect(Self.failed(report) == [q2.name], "\(Self.describe(report))")
        // Quick mode seeds 80 customers, all of whom the wrong query returns.
        let answer = q2.answer(SQLMasteryLab.Shop(customers: 80, seed: 7))
        let observed = Self.observed(report, q2.name)
        #expect(observed.hasPrefix("80 rows where the answer has \(answer.count); first difference at row "), "\(observed)")
        #expect(observed == SQLMasteryLab.difference((1...80).map { [$0] }, answer))
    }

    @Test func theDifferenceNamesTheCountsAndTheFirstDifferingRow() {
        #expect(SQLMasteryLab.difference([[1], [2]], [[1], [3], [4]]) == "2 rows where the answer has 3; first difference at row 2: yours [2], expected [3]")
        #expect(
            SQLMasteryLab.difference([[1, 5]], [[1, 5], [2, 6]]) == "1 row where the answer has 2; first difference at row 2: yours no row, expected [2, 6]")
        #expect(SQLMasteryLab.difference([[1, 5]], [[1, 6]]) == "1 row, as many as the answer; first difference at row 1: yours [1, 5], expected [1, 6]")
    }

    @Test func aSyntaxErrorFailsExactlyItsCheckWithPostgresMessage() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let q5 = try Self.question("q5")
        let text = Self.answersFile(replacing: ["q5": "SELECT c.id\nFROM customers c\nWHERE c.id IN (SELEC 1)\nORDER BY c.id"])
        let path = try Self.write(text, "answers.sql", in: dir)
        // The line of the file PostgreSQL's error position falls on.
        let line = try #require(text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("SELEC 1") }) + 1
        let report = try await Self.run(SQLMasteryLab.self, answers: path, in: dir)
        #expect(Self.failed(report) == [q5.name], "\(Self.describe(report))")
        let observed = Self.observed(report, q5.name)
        #expect(observed.contains("syntax error at or near \"1\"") || observed.contains("syntax error at or near \"SELEC\""), "\(observed)")
        #expect(observed.contains("(SQLSTATE 42601)"), "\(observed)")
        #expect(observed.contains("answers.sql line \(line):"), "\(observed)")
        #expect(!observed.contains("PSQLError"), "a Swift dump, not the server's message: \(observed)")
    }

    @Test func aMissingMarkerFailsExactlyThatCheck() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let q4 = try Self.question("q4")
        let path = try Self.write(Self.answersFile(leavingOut: ["q4"]), "answers.sql", in: dir)
        let report = try await Self.run(SQLMasteryLab.self, answers: path, in: dir)
        #expect(Self.failed(report) == [q4.name], "\(Self.describe(report))")
        #expect(Self.observed(report, q4.name) == "no `-- name: q4` query in \(path)")
    }

    @Test func queriesThatModifyDataDoNotChangeWhatLaterQueriesSee() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let q1 = try Self.question("q1"), q3 = try Self.question("q3")
        // q1 deletes inside the transaction the lab opened (read-only: refused); q3 first
        // ends that transaction, then deletes (the role may not: refused). Were either to
        // get through, every later query, which reads orders and order items, would fail.
        let path = try Self.write(
            Self.answersFile(replacing: [
                "q1": "DELETE FROM order_items; DELETE FROM orders; " + q1.sql,
                "q3": "COMMIT; DELETE FROM order_items; " + q3.sql,
            ]), "answers.sql", in: dir)
        let report = try await Self.run(SQLMasteryLab.self, answers: path, in: dir)
        #expect(Self.failed(report) == [q1.name, q3.name], "\(Self.describe(report))")
        #expect(Self.observed(report, q1.name).contains("cannot execute DELETE in a read-only transaction"), "\(Self.observed(report, q1.name))")
        #expect(Self.observed(report, q3.name).contains("permission denied for table order_items"), "\(Self.observed(report, q3.name))")
    }

    @Test func aQueryThatRunsTooLongIsStoppedAndTheOthersStillPass() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let q6 = try Self.question("q6"), q7 = try Self.question("q7")
        let limit = SQLMasteryLab.timeLimit(quick: true)
        // q6 is stopped by statement_timeout; q7 switches the timeout off first, so only the
        // lab's watchdog can stop it.
        let path = try Self.write(
            Self.answersFile(replacing: [
                "q6": "SELECT pg_sleep(600)",
                "q7": "SET LOCAL statement_timeout = 0; SELECT pg_sleep(600)",
            ]), "answers.sql", in: dir)
        let began = ContinuousClock.now
        let report = try await Self.run(SQLMasteryLab.self, answers: path, in: dir)
        #expect(ContinuousClock.now - began < .seconds(4 * limit + 30))
        #expect(Self.failed(report) == [q6.name, q7.name], "\(Self.describe(report))")
        #expect(Self.observed(report, q6.name).contains("canceling statement due to statement timeout"), "\(Self.observed(report, q6.name))")
        #expect(Self.observed(report, q7.name).contains("ran longer than \(limit) s and was cancelled"), "\(Self.observed(report, q7.name))")
    }

    @Test func anUnreadableFileIsAFailedRunWithOneSentence() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("nope.sql").path
        let report = try await Self.run(SQLMasteryLab.self, answers: missing, in: dir)
        #expect(report.outcome == .failed)
        #expect(report.error?.hasSuffix("cannot read your answers file \(missing): there is no such file") == true, "\(report.error ?? "")")
        // Nothing started: the file is read before the server.
        #expect(report.checks.isEmpty && report.steps.isEmpty)

        let folderReport = try await Self.run(SQLMasteryLab.self, answers: dir.path, in: dir)
        #expect(folderReport.error?.hasSuffix("it is a folder, not a file") == true, "\(folderReport.error ?? "")")
    }

    @Test func markersAreReadWhateverTheirCaseSpacingAndLineEnds() {
        let text =
            "-- my answers\r\nSELECT 'ignored before the first marker';\r\n--NAME: Q1\r\nSELECT 1;\r\n  --   name:   q2  \r\n-- only a comment\r\n/* and a block */\r\n-- name: q3\r\nSELECT 3\r\n-- name: q3\r\nSELECT 33\r\n-- name: q11\r\nSELECT 11\r\n"
        let sheet = AnswerSheet.parse(text, path: "a.sql", markers: ["q1", "q2", "q3", "q4"])
        guard case let .query(q1, line) = sheet.entry("q1") else { Issue.record("q1 not found"); return }
        #expect(q1.trimmingCharacters(in: .whitespacesAndNewlines) == "SELECT 1;")
        #expect(line == 4)
        guard case let .problem(q2) = sheet.entry("q2") else { Issue.record("q2 has only comments"); return }
        #expect(q2 == "`-- name: q2` (a.sql line 5) has no query under it, only comments")
        guard case let .problem(q3) = sheet.entry("q3") else { Issue.record("q3 is given twice"); return }
        #expect(q3 == "`-- name: q3` appears 2 times in a.sql (lines 8, 10); keep one")
        guard case let .problem(q4) = sheet.entry("q4") else { Issue.record("q4 is missing"); return }
        #expect(q4 == "no `-- name: q4` query in a.sql")
        #expect(sheet.unknown.map { $0.name } == ["q11"])
        #expect(sheet.summary(markers: ["q1", "q2", "q3", "q4"]).contains("ignored `-- name: q11` (line 12)"))
    }

    @Test func statementsKnowTheirLines() {
        let pieces = AnswerSheet.statements("-- intro\nSELECT 1;\n\nSELECT\n  2;\n-- trailing comment\n")
        #expect(pieces.map { $0.text } == ["-- intro\nSELECT 1", "SELECT\n  2"])
        #expect(pieces.map { $0.line } == [0, 3])
    }

    // MARK: schema-normalization

    static let referenceFile = SchemaNormalizationLab.referenceSchema

    @Test func theReferenceSchemaAsAnAnswersFilePasses() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.write(Self.referenceFile, "normalize.sql", in: dir)
        let report = try await Self.run(SchemaNormalizationLab.self, answers: path, in: dir)
        #expect(report.outcome == .passed, "\(Self.describe(report))")
        #expect(report.checks.count == 9)
        #expect(report.subject == LabSubject(.answers, path))
    }

    @Test func aSchemaWithoutTheOrderForeignKeyFailsTheForeignKeyCheck() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let withoutFK = Self.referenceFile.replacingOccurrences(of: "order_id int NOT NULL REFERENCES orders,", with: "order_id int NOT NULL,")
        #expect(withoutFK != Self.referenceFile)
        let path = try Self.write(withoutFK, "normalize.sql", in: dir)
        let report = try await Self.run(SchemaNormalizationLab.self, answers: path, in: dir)
        #expect(Self.failed(report) == ["the foreign key rejects an orphan line (23503)"], "\(Self.describe(report))")
        #expect(Self.observed(report, "the foreign key rejects an orphan line (23503)") == "accepted: the row was stored")
    }

    @Test func aMissingTableFailsTheChecksThatNeedItWithPostgresMessage() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // No products table: its CREATE and INSERT are gone, so order_lines (which refers to
        // it) cannot be created either.
        let statements = PGSession.statements(Self.referenceFile).filter { !$0.contains("products") || $0.hasPrefix("CREATE TABLE order_lines") }
        let path = try Self.write(statements.joined(separator: ";\n") + ";\n", "normalize.sql", in: dir)
        let report = try await Self.run(SchemaNormalizationLab.self, answers: path, in: dir)
        #expect(report.outcome == .failed)
        #expect(report.error == nil, "\(report.error ?? "")")
        let script = Self.observed(report, "the normalising script runs without an error")
        #expect(script.contains("relation \"products\" does not exist (SQLSTATE 42P01)"), "\(script)")
        // PostgreSQL gives no position for a missing referenced table, so the line is the
        // one the failing CREATE TABLE order_lines starts on.
        #expect(script.contains("normalize.sql line 3:"), "\(script)")
        #expect(Self.observed(report, "the 3NF tables have the columns the checks use").contains("products.sku"))
        #expect(
            Self.observed(report, "revenue per city agrees: flat sheet = 3NF = Swift")
                .hasPrefix("PostgreSQL refused it: relation \"order_lines\" does not exist"), "\(Self.describe(report))")
        // What does not depend on the learner's tables still holds.
        #expect(!Self.failed(report).contains("update anomaly: the flat sheet disagrees with itself"))
        #expect(!Self.failed(report).contains("in 3NF the city is one fact: every order of the customer sees it"))
    }

    @Test func aCopiedCustomerFactFailsTheOneHomeCheck() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copying = Self.referenceFile
            .replacingOccurrences(of: "order_day int NOT NULL);", with: "order_day int NOT NULL, customer_city text);")
        #expect(copying != Self.referenceFile)
        let path = try Self.write(copying, "normalize.sql", in: dir)
        let report = try await Self.run(SchemaNormalizationLab.self, answers: path, in: dir)
        let name = "each fact has one home: orders and order_lines copy no customer or product fact"
        #expect(Self.failed(report) == [name], "\(Self.describe(report))")
        #expect(Self.observed(report, name) == "copied facts: orders.customer_city")
    }

    @Test func theStarterSchemaFileFails() async throws {
        let files = SchemaNormalizationLab.starter()
        #expect(files.map(\.path) == ["README.md", "orders_flat.sql", "normalize.sql"])
        let readme = try #require(files.first { $0.path == "README.md" }).contents
        #expect(readme.contains("curriculum lab run schema-normalization --answers normalize.sql"))
        for (table, columns) in SchemaNormalizationLab.contract {
            #expect(readme.contains("`\(table)`: " + columns.map { "`\($0)`" }.joined(separator: ", ")))
        }
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.write(try #require(files.first { $0.path == "normalize.sql" }).contents, "normalize.sql", in: dir)
        let report = try await Self.run(SchemaNormalizationLab.self, answers: path, in: dir)
        #expect(report.outcome == .failed)
        #expect(Self.observed(report, "the normalising script runs without an error") == "no SQL statement in \(path)")
        #expect(Self.failed(report).contains("3NF holds each customer and product once, every order and line"))
    }
}
