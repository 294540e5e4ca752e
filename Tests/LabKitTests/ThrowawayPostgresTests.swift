import Foundation
import LabCatalog
import LabKit
import Synchronization
import Testing

/// The throwaway server and the spawn helper under it. These tests need PostgreSQL
/// installed (CI installs it with scripts/install-deps.sh); without it they fail,
/// they do not skip.
@Suite(.serialized) struct ThrowawayPostgresTests {
    /// What a probe lab saw while its server ran.
    final class Sightings: Sendable {
        let state = Mutex<(data: String, postmaster: Int32?, owner: uid_t?, answer: Int?, seenRunning: Int)>(("", nil, nil, nil, 0))
        let folders = Mutex<(base: String, socket: String)>(("", ""))
    }

    /// A lab that starts a server, queries it, and remembers where it lived.
    struct ProbeLab: Lab {
        static let info = LabInfo(
            id: "throwaway-postgres-probe", title: "throwaway-postgres-probe", phase: 0, teaches: "a lab for the kit's own tests", source: "Tests/LabKitTests")
        nonisolated(unsafe) static var sightings = Sightings()
        nonisolated(unsafe) static var failOnPurpose = false

        func run(_ lab: LabContext) async throws {
            let server = try await ThrowawayPostgres.start(for: lab)
            let db = try await server.connect()
            let answer = try await db.scalar("SELECT 6 * 7", as: Int.self)
            let pidText = try String(contentsOfFile: server.dataDirectory + "/postmaster.pid", encoding: .utf8)
            var st = stat()
            stat(server.dataDirectory, &st)
            // The scan the clean-up tests rely on must see the live server: the postmaster by
            // its data directory, the others by their cluster name.
            let running =
                ThrowawayPostgresTests.processes(mentioning: server.dataDirectory).count
                + ThrowawayPostgresTests.processes(mentioning: "postgres: \(server.clusterName):").count
            Self.sightings.folders.withLock { $0 = (server.baseDirectory, server.socketDirectory) }
            Self.sightings.state.withLock {
                $0 = (server.dataDirectory, pidText.split(separator: "\n").first.flatMap { Int32($0) }, st.st_uid, answer, running)
            }
            lab.expect("the server answers", answer, equals: 42)
            if Self.failOnPurpose { throw LabError("failing on purpose, with the server running") }
        }
    }

    static let probeInfo = LabInfo(
        id: ProbeLab.id, title: "probe", phase: 2, teaches: "", needs: [.postgres],
        source: "Tests/LabKitTests/ThrowawayPostgresTests.swift")

    static func freshRoot() throws -> URL {
        let root = URL(fileURLWithPath: "/tmp/labkit-pg-test-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    /// Pids whose command line mentions `needle` (the postmaster's shows its data directory).
    static func processes(mentioning needle: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(needle)
        }
    }

    @Test(arguments: [false, true])
    func serverRunsAndIsGoneAfterwards(failing: Bool) async throws {
        ProbeLab.sightings = Sightings()
        ProbeLab.failOnPurpose = failing
        let root = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let report = await LabRunner.run(ProbeLab.self, info: Self.probeInfo, quick: true, parameters: [:], scratchRoot: root)
        let seen = ProbeLab.sightings.state.withLock { $0 }

        #expect(seen.answer == 42, "\(report.error ?? "")")
        #expect(seen.seenRunning >= 2, "the process scan saw \(seen.seenRunning) server processes while it ran")
        #expect(seen.data.hasPrefix(root.path), "the cluster lives in the lab's scratch folder: \(seen.data)")
        #expect(report.outcome == (failing ? .failed : .passed), "\(report.error ?? "")")
        #expect(report.engine?.hasPrefix("PostgreSQL ") == true)
        if geteuid() == 0, let pw = getpwnam("postgres") {
            #expect(seen.owner == pw.pointee.pw_uid, "as root, the cluster belongs to the postgres user")
        }
        let postmaster = try #require(seen.postmaster)
        #expect(!ThrowawayPostgres.isRunning(postmaster), "the postmaster \(postmaster) is still running")
        #expect(Self.processes(mentioning: root.path).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty, "the scratch folder is gone")
    }

    /// A scratch root the `postgres` user cannot enter (as root), or one so long that the
    /// socket path would pass the 107-byte limit: the cluster or its socket moves to /tmp,
    /// and is removed all the same.
    @Test(arguments: ["closed", "long"])
    func awkwardScratchRootsStillWork(_ kind: String) async throws {
        if kind == "closed" && geteuid() != 0 { return }  // only root runs the server as another user
        ProbeLab.sightings = Sightings()
        ProbeLab.failOnPurpose = false
        let outer = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: outer) }
        let root = kind == "closed" ? outer : outer.appendingPathComponent(String(repeating: "deep-folder-", count: 6), isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        if kind == "closed" { chmod(outer.path, 0o700) }
        let report = await LabRunner.run(ProbeLab.self, info: Self.probeInfo, quick: true, parameters: [:], scratchRoot: root)
        #expect(report.outcome == .passed, "\(report.error ?? "")")
        let folders = ProbeLab.sightings.folders.withLock { $0 }
        if kind == "closed" {
            #expect(folders.base.hasPrefix("/tmp/labkit-postgres-"), "\(folders.base)")
        } else {
            #expect(folders.socket.hasPrefix("/tmp/labkit-pgsock-"), "\(folders.socket)")
        }
        #expect(!FileManager.default.fileExists(atPath: folders.base))
        #expect(!FileManager.default.fileExists(atPath: folders.socket))
        let postmaster = try #require(ProbeLab.sightings.state.withLock { $0.postmaster })
        #expect(!ThrowawayPostgres.isRunning(postmaster))
    }

    @Test func missingBinariesMakeTheLabUnavailable() async throws {
        let empty = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: empty) }
        let env = ["PG_BIN": empty.path, "PATH": "/usr/bin:/bin"]
        #expect(ThrowawayPostgres.locateBinaries(environment: env) == nil)

        struct NoBinariesLab: Lab {
            static let info = LabInfo(
                id: "throwaway-postgres-missing", title: "throwaway-postgres-missing", phase: 0, teaches: "a lab for the kit's own tests",
                source: "Tests/LabKitTests")
            nonisolated(unsafe) static var environment: [String: String] = [:]
            func run(_ lab: LabContext) async throws {
                _ = try await ThrowawayPostgres.start(for: lab, environment: Self.environment)
                lab.expect("never reached", true, expected: "", observed: "")
            }
        }
        NoBinariesLab.environment = env
        // No `needs`, so the runner's pre-check passes and the server itself must refuse.
        let info = LabInfo(id: NoBinariesLab.id, title: "missing", phase: 2, teaches: "", source: "Tests/LabKitTests/ThrowawayPostgresTests.swift")
        let report = await LabRunner.run(NoBinariesLab.self, info: info, quick: true, parameters: [:], scratchRoot: empty)
        #expect(report.outcome == .unavailable)
        #expect(report.error?.contains("apt-get install -y postgresql") == true, "\(report.error ?? "")")
        #expect(report.checks.isEmpty)
    }

    @Test func scriptsAreSplitIntoStatements() {
        let script = """
            CREATE TABLE t (a text DEFAULT 'x;y'); -- a comment; with 'quotes
            INSERT INTO t VALUES ('it''s; fine');
            CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;;
            """
        #expect(
            PGSession.statements(script) == [
                "CREATE TABLE t (a text DEFAULT 'x;y')",
                "-- a comment; with 'quotes\nINSERT INTO t VALUES ('it''s; fine')",
                "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
            ])
    }

    @Test func theBinariesAreFoundWhereDebianPutsThem() throws {
        let bin = try #require(ThrowawayPostgres.locateBinaries(), "PostgreSQL is not installed: run scripts/install-deps.sh")
        for tool in ["initdb", "pg_ctl", "postgres"] {
            #expect(FileManager.default.isExecutableFile(atPath: bin + "/" + tool))
        }
    }
}

@Suite struct SubprocessTests {
    @Test func aDaemonisingChildDoesNotKeepTheWaiterWaiting() async throws {
        // The shell starts a background sleeper (as `pg_ctl start` leaves a server) and
        // exits; with no pipe between us and the sleeper, waiting ends when the shell does.
        let (termination, output) = try await Subprocess.capture("/bin/sh", ["-c", "sleep 30 & echo $! ; echo started"])
        #expect(termination == .exited(0))
        let lines = output.split(separator: "\n")
        #expect(lines.last == "started")
        if let first = lines.first, let pid = Int32(first) { kill(pid, SIGKILL) }
    }

    @Test func exitStatusAndTimeOutAreReported() async throws {
        #expect(try await Subprocess.run("/bin/sh", ["-c", "exit 3"]) == .exited(3))
        #expect(try await Subprocess.run("/bin/sleep", ["10"], timeout: 0.2) == .timedOut)
        #expect(try await Subprocess.run("/bin/sh", ["-c", "kill -TERM $$"]) == .signalled(SIGTERM))
    }

    @Test func aMissingProgramIsAnError() async {
        await #expect(throws: Subprocess.SpawnError.self) {
            try await Subprocess.run("/nonexistent/program", [])
        }
    }
}

/// The throwaway Redis (its tests live here, next to its PostgreSQL sibling's).
@Suite struct ThrowawayRedisTests {
    struct RedisProbeLab: Lab {
        static let info = LabInfo(
            id: "throwaway-redis-probe", title: "throwaway-redis-probe", phase: 0, teaches: "a lab for the kit's own tests", source: "Tests/LabKitTests")
        nonisolated(unsafe) static var seen: (pid: pid_t, socket: String, replies: [RESPValue]) = (0, "", [])

        func run(_ lab: LabContext) async throws {
            let server = try await ThrowawayRedis.start(for: lab)
            let client = try await server.connect()
            var replies: [RESPValue] = []
            replies.append(try await client.command("SET", "greeting", "hello; world\r\n"))
            replies.append(try await client.command("GET", "greeting"))
            replies.append(try await client.command("INCRBY", "n", "41"))
            replies.append(try await client.command("INCR", "n"))
            replies.append(try await client.command("GET", "missing"))
            replies.append(try await client.command("RPUSH", "l", "a", "b"))
            replies.append(try await client.command("LRANGE", "l", "0", "-1"))
            replies.append(try await client.command("NOSUCHCOMMAND"))
            Self.seen = (server.pid, server.socketPath, replies)
            lab.expect("the server answers", replies[3], equals: .integer(42))
        }
    }

    @Test func redisRunsAndIsGoneAfterwards() async throws {
        let root = try ThrowawayPostgresTests.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let info = LabInfo(
            id: RedisProbeLab.id, title: "probe", phase: 7, teaches: "", needs: [.redis],
            source: "Tests/LabKitTests/ThrowawayPostgresTests.swift")
        let report = await LabRunner.run(RedisProbeLab.self, info: info, quick: true, parameters: [:], scratchRoot: root)
        #expect(report.outcome == .passed, "\(report.error ?? "")")
        let seen = RedisProbeLab.seen
        #expect(seen.socket.hasPrefix(root.path))
        #expect(
            Array(seen.replies.prefix(7)) == [
                .simple("OK"), .bulk("hello; world\r\n"), .integer(41), .integer(42), .bulk(nil), .integer(2),
                .array([.bulk("a"), .bulk("b")]),
            ])
        if case .error = seen.replies.last {} else { Issue.record("an unknown command is an error reply: \(String(describing: seen.replies.last))") }
        #expect(report.engine?.hasPrefix("Redis ") == true)
        #expect(!ThrowawayPostgres.isRunning(seen.pid))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
    }

    @Test func missingRedisMakesTheLabUnavailable() async throws {
        struct NoRedisLab: Lab {
            static let info = LabInfo(
                id: "throwaway-redis-missing", title: "throwaway-redis-missing", phase: 0, teaches: "a lab for the kit's own tests", source: "Tests/LabKitTests"
            )
            func run(_ lab: LabContext) async throws {
                _ = try await ThrowawayRedis.start(for: lab, environment: ["PATH": "/nonexistent"])
                lab.expect("never reached", true, expected: "", observed: "")
            }
        }
        let info = LabInfo(id: NoRedisLab.id, title: "missing", phase: 7, teaches: "", source: "Tests/LabKitTests/ThrowawayPostgresTests.swift")
        let report = await LabRunner.run(NoRedisLab.self, info: info, quick: true, parameters: [:])
        #expect(report.outcome == .unavailable)
        #expect(report.error?.contains("apt-get install -y redis-server") == true, "\(report.error ?? "")")
    }
}
