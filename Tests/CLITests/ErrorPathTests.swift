import Foundation
import Testing

@Suite("Errors a person can cause: one sentence, a documented exit status") struct ErrorPathTests {
    @Test func aBadPlanNamesFileAndLineAndExits65() throws {
        let cli = try CLI(plan: CLI.fixturePlan.replacingOccurrences(of: "requires: [alpha]", with: "requires: [alpah]"))
        defer { cli.cleanUp() }
        let r = try cli.run(["status"])
        #expect(r.status == 65)
        #expect(r.stderr.contains("curriculum.yaml:15:"), "\(r.stderr)")
        #expect(r.stderr.contains("alpha"), "did you mean")
        #expect(r.stdout.isEmpty)
        let v = try cli.run(["validate"])
        #expect(v.status == 65)
    }

    @Test func aMissingPlanFileExits66() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["status", "--curriculum", "nope.yaml"])
        #expect(r.status == 66)
        #expect(r.stderr.contains("nope.yaml"))
        let dir = try cli.run(["validate", cli.folder.path])
        #expect(dir.status == 66)
    }

    @Test func validateAcceptsTheFixture() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["validate"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("is valid: 2 phases, 6 tasks"))
    }

    @Test func usageErrorsExit64() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        #expect(try cli.run(["next", "-n", "-3"]).status == 64)
        #expect(try cli.run(["frobnicate"]).status == 64)
        #expect(try cli.run(["done"]).status == 64)
    }

    /// Writes `bytes` where the database goes, runs a command, and checks the exit status,
    /// the sentence, and that the file is byte-for-byte what it was.
    func refuses(_ bytes: Data, status: Int32, saying phrase: String) throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        try bytes.write(to: URL(fileURLWithPath: cli.db))
        for args in [["status"], ["done", "alpha"]] {
            let r = try cli.run(args)
            #expect(r.status == status, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(phrase), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one sentence: \(r.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: cli.db)) == bytes, "the file was changed")
        }
        let doctor = try cli.run(["doctor"])
        #expect(doctor.status != 0)
        #expect(doctor.stdout.contains(phrase), "\(doctor.stdout)")
    }

    @Test func anEmptyFileIsNotADatabase() throws {
        try refuses(Data(), status: 74, saying: "the file is empty")
    }

    @Test func randomBytesAreNotADatabase() throws {
        var g = SystemRandomNumberGenerator()
        try refuses(Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &g) }), status: 74, saying: "not a SQLite database")
    }

    @Test func anotherApplicationsSQLiteFileIsRefused() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let other = cli.folder.appendingPathComponent("other.sqlite").path
        try sqlite(other, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('keep me');")
        try refuses(try Data(contentsOf: URL(fileURLWithPath: other)), status: 74, saying: "another application")
    }

    @Test func aNewerSchemaIsRefused() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        try cli.run(["done", "alpha"])
        try sqlite(cli.db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; PRAGMA user_version = 99;")
        try refuses(try Data(contentsOf: URL(fileURLWithPath: cli.db)), status: 74, saying: "newer curriculum")
    }

    @Test func aTruncatedDatabaseIsReported() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        for t in ["alpha", "gamma", "beta"] { try cli.run(["done", t]) }
        try sqlite(cli.db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
        let full = try Data(contentsOf: URL(fileURLWithPath: cli.db))
        let cut = full.prefix(full.count / 2)
        try cut.write(to: URL(fileURLWithPath: cli.db))
        let r = try cli.run(["status"])
        #expect(r.status == 74, "\(r.stdout) \(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: cli.db)) == cut)
    }

    @Test func aReadOnlyDatabaseStillReadsButRefusesWrites() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        try cli.run(["done", "alpha"])
        try sqlite(cli.db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
        // Root ignores file modes, so the commands run as an unprivileged user when the
        // tests run as root (as CI does).
        let asUser = getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        chmod(cli.folder.path, 0o755)
        chmod(cli.db, 0o444)
        let before = try Data(contentsOf: URL(fileURLWithPath: cli.db))
        let status = try cli.run(["status"], prefix: asUser)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("1/6 done"))
        let write = try cli.run(["done", "gamma"], prefix: asUser)
        #expect(write.status == 74)
        #expect(write.stderr.contains("read-only"), "\(write.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: cli.db)) == before)
    }

    @Test func aFolderThatCannotBeCreatedExits73() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let blocker = cli.folder.appendingPathComponent("file-not-folder")
        try Data("x".utf8).write(to: blocker)
        let r = try cli.run(["done", "alpha"], env: ["CURRICULUM_DB": blocker.path + "/sub/progress.sqlite"])
        #expect(r.status == 73, "\(r.stderr)")
        #expect(r.stderr.contains("cannot be created"))
        #expect(try Data(contentsOf: blocker) == Data("x".utf8))
    }

    /// Runs SQL with the sqlite3 command-line tool, or through a tiny Swift-free path:
    /// the tests only need it for setting up odd databases.
    func sqlite(_ path: String, _ sql: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [path, sql]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "sqlite3 \(sql)")
    }
}
