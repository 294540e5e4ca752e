import Foundation
import GRDB
import LabCatalog
import LabKit
import Testing

@testable import DataLabs

@Suite struct SQLiteLabTests {
    static func run(_ type: any Lab.Type, _ given: [String: String] = [:]) async throws -> LabReport {
        let info = type.info
        return await LabRunner.run(type, info: info, quick: true, parameters: try info.resolve(parameters: given, quick: true))
    }

    static func failures(_ report: LabReport) -> String {
        (report.checks.filter { !$0.passed }.map { "\($0.name): expected \($0.expected), observed \($0.observed)" } + [report.error].compactMap { $0 })
            .joined(separator: "\n")
    }

    @Test(
        arguments: [ORMLab.self, MigrationsLab.self, DenormalizationLab.self, ReadCachingLab.self, IdempotencyLab.self, EventSourcingLab.self] as [any Lab.Type]
    )
    func quickRunPasses(_ type: any Lab.Type) async throws {
        let report = try await Self.run(type)
        #expect(report.outcome == .passed, "\(type.id):\n\(Self.failures(report))")
        #expect(report.checks.count >= 3)
        #expect(!report.figures.isEmpty)
        #expect(report.engine?.hasPrefix("SQLite 3.") == true)
    }

    // MARK: Broken experiments fail their checks

    @Test func idempotencyFailsWhenKeysAreIgnored() async throws {
        let report = try await Self.run(IdempotencyLab.self, ["honour-keys": "false"])
        #expect(report.outcome == .failed)
        let failed = Set(report.checks.filter { !$0.passed }.map(\.name))
        #expect(failed.contains("exactly one charge per key, under retries and races"))
        #expect(failed.contains("every duplicate got the same response, byte for byte"))
    }

    @Test func readCachingFailsWithoutInvalidation() async throws {
        let report = try await Self.run(ReadCachingLab.self, ["invalidate": "false"])
        #expect(report.outcome == .failed)
        #expect(report.checks.filter { !$0.passed }.map(\.name) == ["invalidation on write leaves no stale read"])
    }

    /// Each of orm's planted mistakes is caught, end to end, by exactly the checks its help
    /// names (a missing CHECK constraint is, fairly, also seen by the two checks that rely on it).
    @Test(arguments: [
        ("lazy-refetch-author", ["lazy loading issues 1 + authors + books statements"]),
        ("eager-n-plus-one", ["eager loading issues one statement per level (3)", "eager loading does not grow with the data (10 authors vs 20)"]),
        ("eager-inner-join", ["both ways load the same shelves"]),
        ("both-skip-one-star", ["eager result holds every book and review"]),
        (
            "no-check-constraint",
            [
                "the failing statement raised an error", "a failed transaction leaves every count unchanged",
                "without a transaction the half-done work stays",
            ]
        ),
        ("swallow-error", ["a failed transaction leaves every count unchanged"]),
        ("commit-on-app-error", ["a Swift error thrown inside the transaction rolls it back too"]),
        ("autocommit-in-transaction", ["without a transaction the half-done work stays"]),
    ])
    func ormBreakers(breaker: String, checks: [String]) async throws {
        let report = try await Self.run(ORMLab.self, ["break": breaker])
        #expect(report.checks.filter { !$0.passed }.map(\.name) == checks, "break=\(breaker)")
        #expect(report.error == nil)
    }

    /// The TTL values a floating-point clock got wrong now pass end to end.
    @Test(arguments: ["0.1", "0.3", "1.1"])
    func readCachingPassesAtAwkwardTTLs(ttl: String) async throws {
        let report = try await Self.run(ReadCachingLab.self, ["ttl": ttl])
        #expect(report.outcome == .passed, "ttl=\(ttl):\n\(Self.failures(report))")
    }

    @Test func denormalizationFailsWithoutTriggers() async throws {
        let report = try await Self.run(DenormalizationLab.self, ["triggers": "false"])
        #expect(report.outcome == .failed)
        #expect(report.checks.contains { $0.name == "after the updates the copy is in sync (no stale rows)" && !$0.passed })
    }

    @Test func eventSourcingFailsWithoutVersionChecks() async throws {
        let report = try await Self.run(EventSourcingLab.self, ["optimistic-concurrency": "false"])
        #expect(report.outcome == .failed)
        #expect(report.checks.contains { $0.name == "an append with a stale expected version is refused" && !$0.passed })
    }

    // MARK: The labs' building blocks

    @Test func sha256MatchesKnownDigests() {
        #expect(SQLiteLab.SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SQLiteLab.SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Two blocks of padding.
        #expect(
            SQLiteLab.SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    /// Expiry at the knob's awkward values (issue 17: a floating-point clock failed at 0.1,
    /// 0.3 and 1.1 s): two half-TTL steps land exactly on the TTL.
    @Test(arguments: [0.1, 0.3, 1.1, 86400.0])
    func expiryIsExactAtAnyTTL(seconds: Double) throws {
        let clock = LabClock.manual()
        let ttl = Duration.seconds(rounding: seconds)
        let cache = ReadThroughCache<Int, Int>(capacity: 4, ttl: ttl, clock: clock)
        var loads = 0
        _ = cache.get(1) {
            loads += 1; return $0
        }
        clock.advance(by: ttl / 2)
        _ = cache.get(1) {
            loads += 1; return $0
        }
        #expect(loads == 1)
        clock.advance(by: ttl / 2)
        _ = cache.get(1) {
            loads += 1; return $0
        }
        #expect(loads == 2)
    }

    @Test func cacheAgreesWithTheSimulationAndEvictsLeastRecentlyUsed() throws {
        let clock = LabClock.manual()
        let cache = ReadThroughCache<Int, Int>(capacity: 3, ttl: .seconds(10), clock: clock)
        var rng = SQLiteLab.Random(seed: 5)
        let zipf = ReadCachingLab.Zipf(keys: 20, skew: 1.2)
        var timeline: [(key: Int, at: Duration)] = []
        var t = Duration.zero
        for _ in 0..<500 {
            let key = zipf.draw(using: &rng)
            clock.advance(by: .milliseconds(500)); t += .milliseconds(500)
            _ = cache.get(key) { $0 * 10 }
            timeline.append((key, t))
        }
        let model = ReadCachingLab.simulate(requests: timeline, capacity: 3, ttl: .seconds(10))
        #expect(cache.hits == model.hits)
        #expect(cache.evicted == model.evicted)
        #expect(cache.expirations > 0)
        // A FIFO model disagrees on a sequence that re-reads the oldest entry.
        let lru = ReadThroughCache<String, String>(capacity: 2, ttl: .seconds(100), clock: clock)
        for k in ["a", "b", "a", "c"] { _ = lru.get(k) { $0 } }
        #expect(lru.evicted == ["b"])
        #expect(lru.keysByRecency == ["c", "a"])
    }

    @Test func migrationRunnerDetectsAnEditAndRollsBackAFailure() throws {
        let dbQueue = try DatabaseQueue()
        let ms = [
            Migration(version: 1, description: "one", sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"),
            Migration(version: 2, description: "two", sql: "INSERT INTO t (v) VALUES ('x'); CREATE TABLE u (id INTEGER); INSERT INTO nowhere VALUES (1);"),
        ]
        let first = try MigrationRunner.migrate(dbQueue, ms)
        #expect(first.applied == [1])
        let tables = try dbQueue.read(SQLiteLab.tables)
        #expect(tables["u"] == nil)
        #expect(try dbQueue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM t") } == 0)
        var edited = ms
        edited[0].sql += " -- edited"
        edited[1].sql = "INSERT INTO t (v) VALUES ('x');"
        let second = try MigrationRunner.migrate(dbQueue, edited)
        guard case let .checksumMismatch(version, _, _) = second.failure else {
            Issue.record("expected a checksum mismatch, got \(String(describing: second.failure))")
            return
        }
        #expect(version == 1)
        #expect(second.applied.isEmpty)
    }

    @Test func eventFoldAndDecisions() throws {
        let state = AccountState.fold([.opened, .deposited(50), .withdrawn(20)])
        #expect(state == AccountState(isOpen: true, balance: 30, version: 3, deposits: 1, withdrawals: 1))
        #expect(throws: AccountRefusal.insufficientFunds) { try decide(.withdraw(31), state) }
        #expect(try decide(.withdraw(30), state) == [.withdrawn(30)])
    }
}
