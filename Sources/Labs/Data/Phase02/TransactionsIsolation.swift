// Transaction isolation: two sessions run at the same time, and the isolation level
// decides what one may see of the other's work.
//  - READ COMMITTED (PostgreSQL's default) takes a fresh snapshot per statement: read a row
//    twice in one transaction and a commit in between shows up — a non-repeatable read.
//    REPEATABLE READ keeps one snapshot for the whole transaction.
//  - Read-modify-write ("read 100, write 100+10") loses updates when two sessions do it at
//    once; SELECT … FOR UPDATE locks the row so the second waits and reads the new value.
//  - Write skew: two transactions each check a rule ("someone stays on call") against a
//    snapshot, then change *different* rows; both commit and the rule breaks. REPEATABLE
//    READ allows it; SERIALIZABLE detects the dangerous pattern and aborts one with
//    SQLSTATE 40001, which the application must retry.
//
// `break=` plants a classic mistake (scenes whose sessions never overlap, an isolation level
// set outside the transaction, a lock on only one of the two reads); each is caught by the
// checks named in its help. `for-update=false` drops the row lock altogether.
import Foundation
import LabKit
import PostgresNIO
import Synchronization

struct TransactionsIsolationLab: Lab {
    static let forUpdate = Knob.bool(
        "for-update", default: true,
        help: "lock the row with SELECT … FOR UPDATE before the read-modify-write (false shows the lost update)")
    static let workers = Knob.int("workers", 1...32, default: 8, quick: 4, help: "concurrent sessions incrementing one counter")
    static let increments = Knob.int("increments", 1...10_000, default: 100, quick: 15, help: "increments each session makes")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help: """
            Plant a mistake: serial-sessions (in each two-session scene one session finishes before the other \
            starts, so nothing overlaps: the non-repeatable-read, lost-update, waited, write-skew, 40001 and \
            retry checks), level-outside-transaction (SET TRANSACTION ISOLATION LEVEL is sent before BEGIN, \
            where it does nothing, so every transaction runs READ COMMITTED: the same-snapshot, 40001 and \
            retry checks), lock-first-reader-only (only A's read says FOR UPDATE; B reads at once and its \
            UPDATE waits instead: the waited, read-committed-value and no-update-lost checks).
            """)

    enum Breaker: String, CaseIterable, Sendable {
        case none
        case serialSessions = "serial-sessions"
        case levelOutsideTransaction = "level-outside-transaction"
        case lockFirstReaderOnly = "lock-first-reader-only"
    }

    /// The checks, named once so the breaker tests cannot drift from them.
    static let nonRepeatableRead = "READ COMMITTED: the second read sees B's commit (non-repeatable read)"
    static let sameSnapshot = "REPEATABLE READ: both reads see the same snapshot"
    static let lostWithoutLock = "without a lock one update is lost"
    static let bWaited = "B's locking read waited for A's transaction"
    static let bReadCommitted = "B read the value A committed"
    static let noUpdateLost = "no update lost: 100 + 10 + 20"
    static let everyIncrement = "every concurrent increment counted"
    static let writeSkewAllowed = "REPEATABLE READ allows write skew: both commit, nobody is on call"
    static let serializableRefuses = "SERIALIZABLE refuses one of the two with 40001 (serialization_failure)"
    static let retryCommits = "the retry commits and the rule holds (one doctor on call)"

    static let info = LabInfo(
        id: "transactions-isolation", title: "Isolation levels and their anomalies", phase: 2,
        teaches:
            "Two sessions replay the classic anomalies: a non-repeatable read under READ COMMITTED, a lost update that SELECT … FOR UPDATE prevents, and write skew that only SERIALIZABLE refuses (SQLSTATE 40001, retry).",
        parameters: [forUpdate.parameter, workers.parameter, increments.parameter, breaker.parameter],
        needs: [.postgres], source: "Sources/Labs/Data/Phase02/TransactionsIsolation.swift"
    )

    func run(_ lab: LabContext) async throws {
        let breaker = lab[Self.breaker]
        let forUpdate = lab[Self.forUpdate]
        let workers = lab[Self.workers], increments = lab[Self.increments]
        let server = try await ThrowawayPostgres.start(for: lab)
        let admin = try await server.createDatabase("bank")
        try await admin.execute(
            """
            CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
            CREATE TABLE counter (id int PRIMARY KEY, value int NOT NULL);
            CREATE TABLE doctors (name text PRIMARY KEY, on_call boolean NOT NULL);
            INSERT INTO accounts VALUES (1, 100);
            INSERT INTO counter VALUES (1, 0);
            """)
        let a = try await server.connect(database: "bank")
        let b = try await server.connect(database: "bank")
        lab.step("Opened two sessions, A and B, on database bank", "each statement below says which session runs it")

        // 1. Non-repeatable read.
        let rc = try await readTwice(a, b, admin, level: "READ COMMITTED", breaker)
        lab.step(
            "READ COMMITTED: A reads, B adds 10 and commits\(breaker == .serialSessions ? " after A's commit" : ""), A reads again",
            "A saw \(rc.0) then \(rc.1)")
        lab.expect(Self.nonRepeatableRead, [rc.0, rc.1], equals: [100, 110])
        let rr = try await readTwice(a, b, admin, level: "REPEATABLE READ", breaker)
        lab.step("REPEATABLE READ: the same interleaving", "A saw \(rr.0) then \(rr.1)")
        lab.expect(Self.sameSnapshot, [rr.0, rr.1], equals: [100, 100])

        // 2. Lost update, without and with a row lock.
        let naive = try await readModifyWrite(a, b, admin, lock: false, breaker)
        lab.step(
            "Read-modify-write without a lock: A +10, B +20 on 100",
            "A read \(naive.aRead), B read \(naive.bRead), each wrote what it computed; the balance is \(naive.final)\(naive.final == 130 ? "" : ", not 130: one update was lost")"
        )
        lab.expect(Self.lostWithoutLock, naive.final != 130, expected: "≠ 130 (110 or 120)", observed: "\(naive.final)")

        let locked = try await readModifyWrite(a, b, admin, lock: forUpdate, breaker)
        lab.step(
            forUpdate ? "Read-modify-write with SELECT … FOR UPDATE" : "Read-modify-write again without a lock (for-update=false)",
            "B \(locked.bWaited ? "waited for A's row lock, then" : "did not wait and") read \(locked.bRead); the balance is \(locked.final)")
        lab.expect(Self.bWaited, locked.bWaited ? "waited" : "did not wait", equals: "waited")
        lab.expect(Self.bReadCommitted, locked.bRead, equals: 110)
        lab.expect(Self.noUpdateLost, locked.final, equals: 130)

        // 3. Many sessions incrementing one counter.
        var sessions: [PGSession] = []
        for _ in 0..<workers { sessions.append(try await server.connect(database: "bank")) }
        let (_, seconds) = try await Measure.time {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for s in sessions {
                    group.addTask {
                        for _ in 0..<increments {
                            try await s.execute("BEGIN")
                            let v = try await s.scalar(
                                PostgresQuery(unsafeSQL: "SELECT value FROM counter WHERE id = 1\(forUpdate ? " FOR UPDATE" : "")"), as: Int.self)
                            try await s.query("UPDATE counter SET value = \(v + 1) WHERE id = 1")
                            try await s.execute("COMMIT")
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let counted = try await admin.scalar("SELECT value FROM counter WHERE id = 1", as: Int.self)
        lab.step(
            "\(workers) sessions each made \(increments) read-modify-write increments\(forUpdate ? " with FOR UPDATE" : " without a lock")",
            "the counter reads \(counted) of \(workers * increments); \(workers * increments - counted) increments lost")
        lab.figure("increments", Double(workers * increments) / max(seconds, 1e-9), "transactions/s")
        lab.figure("increments lost", Double(workers * increments - counted), "increments")
        lab.expect(Self.everyIncrement, counted, equals: workers * increments)

        // 4. Write skew.
        let skewRR = try await writeSkew(a, b, admin, level: "REPEATABLE READ", breaker)
        lab.step(
            "REPEATABLE READ: Alice and Bob each count the doctors on call and go off call if two are",
            "Alice saw \(skewRR.aSaw), Bob saw \(skewRR.bSaw); A: \(skewRR.aError ?? "committed"), B: \(skewRR.bError ?? "committed"); doctors on call now: \(skewRR.onCall)"
        )
        lab.expect(
            Self.writeSkewAllowed,
            "\(skewRR.aError ?? "ok")/\(skewRR.bError ?? "ok")/\(skewRR.onCall)", equals: "ok/ok/0")

        let skewS = try await writeSkew(a, b, admin, level: "SERIALIZABLE", breaker)
        let refusedState = skewS.aError ?? skewS.bError
        lab.step(
            "SERIALIZABLE: the same interleaving",
            "Alice saw \(skewS.aSaw), Bob saw \(skewS.bSaw); A: \(skewS.aError.map { "refused, SQLSTATE \($0)" } ?? "committed"), B: \(skewS.bError.map { "refused, SQLSTATE \($0)" } ?? "committed")"
        )
        lab.expect(Self.serializableRefuses, [skewS.aError, skewS.bError].compactMap { $0 }, equals: ["40001"])

        // The refused transaction is retried from the start, as an application must.
        let retrier = skewS.aError != nil ? (a, "alice") : (b, "bob")
        var attempts = 0, retried = false, retrySaw = 0
        while refusedState != nil, !retried, attempts < 5 {
            attempts += 1
            let failed = await transaction(retrier.0, level: "SERIALIZABLE", breaker) { s in
                retrySaw = try await s.scalar("SELECT count(*)::int FROM doctors WHERE on_call", as: Int.self)
                if retrySaw >= 2 { try await s.query("UPDATE doctors SET on_call = false WHERE name = \(retrier.1)") }
            }
            retried = failed == nil
        }
        let finalOnCall = try await admin.scalar("SELECT count(*)::int FROM doctors WHERE on_call", as: Int.self)
        lab.step(
            "Retried the refused transaction",
            refusedState == nil
                ? "nothing was refused, so there was nothing to retry; doctors on call: \(finalOnCall)"
                : retried
                    ? "it committed on attempt \(attempts), having seen \(retrySaw) on call; doctors on call now: \(finalOnCall)"
                    : "it was refused \(attempts) times; doctors on call: \(finalOnCall)")
        lab.expect(
            Self.retryCommits, retried && finalOnCall == 1,
            expected: "retry committed, 1 on call", observed: "\(retried ? "committed" : "not committed"), \(finalOnCall) on call")
    }

    /// BEGIN at `level`; the mistake level-outside-transaction sends SET TRANSACTION first,
    /// outside any transaction, where PostgreSQL only warns and the level stays the default.
    func begin(_ s: PGSession, level: String, _ breaker: Breaker) async throws {
        if breaker == .levelOutsideTransaction {
            try await s.execute("SET TRANSACTION ISOLATION LEVEL \(level)")
            try await s.execute("BEGIN")
        } else {
            try await s.execute("BEGIN ISOLATION LEVEL \(level)")
        }
    }

    /// A reads account 1 twice under `level`, B adds 10 in between (autocommit; with
    /// serial-sessions only after A's commit).
    func readTwice(_ a: PGSession, _ b: PGSession, _ admin: PGSession, level: String, _ breaker: Breaker) async throws -> (Int, Int) {
        try await admin.execute("UPDATE accounts SET balance = 100 WHERE id = 1")
        let serial = breaker == .serialSessions
        try await begin(a, level: level, breaker)
        let first = try await a.scalar("SELECT balance FROM accounts WHERE id = 1", as: Int.self)
        if !serial { try await b.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 1") }
        let second = try await a.scalar("SELECT balance FROM accounts WHERE id = 1", as: Int.self)
        try await a.execute("COMMIT")
        if serial { try await b.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 1") }
        return (first, second)
    }

    /// A adds 10 and B adds 20 to a balance of 100, each by reading then writing the sum.
    /// With `lock`, both read with FOR UPDATE and B's read waits until A commits.
    func readModifyWrite(
        _ a: PGSession, _ b: PGSession, _ admin: PGSession, lock: Bool, _ breaker: Breaker
    )
        async throws -> (aRead: Int, bRead: Int, bWaited: Bool, final: Int)
    {
        try await admin.execute("UPDATE accounts SET balance = 100 WHERE id = 1")
        let bPID = try await b.scalar("SELECT pg_backend_pid()", as: Int.self)
        let select = PostgresQuery(unsafeSQL: "SELECT balance FROM accounts WHERE id = 1\(lock ? " FOR UPDATE" : "")")
        // The mistake lock-first-reader-only: B's read forgets FOR UPDATE.
        let bSelect = breaker == .lockFirstReaderOnly ? PostgresQuery(unsafeSQL: "SELECT balance FROM accounts WHERE id = 1") : select
        func balance() async throws -> Int { try await admin.scalar("SELECT balance FROM accounts WHERE id = 1", as: Int.self) }
        try await a.execute("BEGIN")
        let aRead = try await a.scalar(select, as: Int.self)
        if breaker == .serialSessions {
            // The mistake: A finishes before B begins, so the two never overlap.
            try await a.query("UPDATE accounts SET balance = \(aRead + 10) WHERE id = 1")
            try await a.execute("COMMIT")
            try await b.execute("BEGIN")
            let bRead = try await b.scalar(bSelect, as: Int.self)
            try await b.query("UPDATE accounts SET balance = \(bRead + 20) WHERE id = 1")
            try await b.execute("COMMIT")
            return (aRead, bRead, false, try await balance())
        }
        try await b.execute("BEGIN")
        if !lock {
            // Without a lock B reads at once: both hold 100 before either writes.
            let bRead = try await b.scalar(select, as: Int.self)
            try await a.query("UPDATE accounts SET balance = \(aRead + 10) WHERE id = 1")
            try await a.execute("COMMIT")
            try await b.query("UPDATE accounts SET balance = \(bRead + 20) WHERE id = 1")
            try await b.execute("COMMIT")
            return (aRead, bRead, false, try await balance())
        }
        // B's read counts as having waited only if the server showed B waiting for a lock and
        // the read came back after A had started to commit.
        let aCommitting = Flag()
        async let bSide: (read: Int, afterA: Bool) = {
            let read = try await b.scalar(bSelect, as: Int.self)
            let afterA = aCommitting.isSet
            try await b.query("UPDATE accounts SET balance = \(read + 20) WHERE id = 1")
            try await b.execute("COMMIT")
            return (read, afterA)
        }()
        // Watch B from a third session until the server shows it waiting for a lock.
        var waited = false
        for _ in 0..<2_000 {
            let waiting = try await admin.scalar(
                """
                SELECT count(*)::int FROM pg_stat_activity WHERE pid = \(bPID) AND wait_event_type = 'Lock'
                """, as: Int.self)
            if waiting == 1 { waited = true; break }
            try await Task.sleep(for: .milliseconds(5))
        }
        try await a.query("UPDATE accounts SET balance = \(aRead + 10) WHERE id = 1")
        aCommitting.set()
        try await a.execute("COMMIT")
        let bResult = try await bSide
        return (aRead, bResult.read, waited && bResult.afterA, try await balance())
    }

    /// Alice (session A) and Bob (session B) are both on call; each checks that two are on
    /// call and takes themself off. Returns what each saw, each side's SQLSTATE if refused,
    /// and who is on call after. With serial-sessions Alice commits before Bob begins.
    func writeSkew(
        _ a: PGSession, _ b: PGSession, _ admin: PGSession, level: String, _ breaker: Breaker
    )
        async throws -> (aSaw: Int, bSaw: Int, aError: String?, bError: String?, onCall: Int)
    {
        try await admin.execute("DELETE FROM doctors; INSERT INTO doctors VALUES ('alice', true), ('bob', true)")
        var aError: String?, bError: String?
        var aSees = 0, bSees = 0
        let count = "SELECT count(*)::int FROM doctors WHERE on_call"
        func alice() async {
            if aError == nil { aError = await step(a) { aSees = try await $0.scalar(PostgresQuery(unsafeSQL: count), as: Int.self) } }
        }
        func bob() async {
            if bError == nil { bError = await step(b) { bSees = try await $0.scalar(PostgresQuery(unsafeSQL: count), as: Int.self) } }
        }
        aError = await step(a) { try await self.begin($0, level: level, breaker) }
        if breaker == .serialSessions {
            await alice()
            if aError == nil, aSees >= 2 { aError = await step(a) { try await $0.query("UPDATE doctors SET on_call = false WHERE name = 'alice'") } }
            if aError == nil { aError = await step(a) { try await $0.execute("COMMIT") } }
            bError = await step(b) { try await self.begin($0, level: level, breaker) }
            await bob()
            if bError == nil, bSees >= 2 { bError = await step(b) { try await $0.query("UPDATE doctors SET on_call = false WHERE name = 'bob'") } }
            if bError == nil { bError = await step(b) { try await $0.execute("COMMIT") } }
        } else {
            bError = await step(b) { try await self.begin($0, level: level, breaker) }
            await alice()
            await bob()
            if aError == nil, aSees >= 2 { aError = await step(a) { try await $0.query("UPDATE doctors SET on_call = false WHERE name = 'alice'") } }
            if bError == nil, bSees >= 2 { bError = await step(b) { try await $0.query("UPDATE doctors SET on_call = false WHERE name = 'bob'") } }
            if aError == nil { aError = await step(a) { try await $0.execute("COMMIT") } }
            if bError == nil { bError = await step(b) { try await $0.execute("COMMIT") } }
        }
        return (aSees, bSees, aError, bError, try await admin.scalar("SELECT count(*)::int FROM doctors WHERE on_call", as: Int.self))
    }

    /// Runs one statement of an open transaction; on failure rolls the transaction back and
    /// returns the SQLSTATE (or the message when there is none).
    private func step(_ s: PGSession, _ body: (PGSession) async throws -> Void) async -> String? {
        do {
            try await body(s)
            return nil
        } catch {
            try? await s.execute("ROLLBACK")
            let e = PGQueryError(error, sql: "")
            return e.sqlState ?? e.message
        }
    }

    /// BEGIN … COMMIT at `level`; the SQLSTATE if it was refused (after a ROLLBACK), else nil.
    private func transaction(_ s: PGSession, level: String, _ breaker: Breaker, _ body: (PGSession) async throws -> Void) async -> String? {
        if let e = await step(s, { try await self.begin($0, level: level, breaker) }) { return e }
        if let e = await step(s, body) { return e }
        return await step(s) { try await $0.execute("COMMIT") }
    }
}

/// A flag one task sets and another reads.
private final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
