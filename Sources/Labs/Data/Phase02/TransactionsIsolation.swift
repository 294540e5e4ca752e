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
import Foundation
import LabKit
import PostgresNIO

struct TransactionsIsolationLab: Lab {
    static let forUpdate = Knob.bool(
        "for-update", default: true,
        help: "lock the row with SELECT … FOR UPDATE before the read-modify-write (false shows the lost update)")
    static let workers = Knob.int("workers", 1...32, default: 8, quick: 4, help: "concurrent sessions incrementing one counter")
    static let increments = Knob.int("increments", 1...10_000, default: 100, quick: 15, help: "increments each session makes")

    static let info = LabInfo(
        id: "transactions-isolation", title: "Isolation levels and their anomalies", phase: 2,
        teaches:
            "Two sessions replay the classic anomalies: a non-repeatable read under READ COMMITTED, a lost update that SELECT … FOR UPDATE prevents, and write skew that only SERIALIZABLE refuses (SQLSTATE 40001, retry).",
        parameters: [forUpdate.parameter, workers.parameter, increments.parameter],
        needs: [.postgres], source: "Sources/Labs/Data/Phase02/TransactionsIsolation.swift"
    )

    func run(_ lab: LabContext) async throws {
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
        let rc = try await readTwice(a, b, admin, level: "READ COMMITTED")
        lab.step("READ COMMITTED: A reads, B adds 10 and commits, A reads again", "A saw \(rc.0) then \(rc.1)")
        lab.expect("READ COMMITTED: the second read sees B's commit (non-repeatable read)", [rc.0, rc.1], equals: [100, 110])
        let rr = try await readTwice(a, b, admin, level: "REPEATABLE READ")
        lab.step("REPEATABLE READ: the same interleaving", "A saw \(rr.0) then \(rr.1)")
        lab.expect("REPEATABLE READ: both reads see the same snapshot", [rr.0, rr.1], equals: [100, 100])

        // 2. Lost update, without and with a row lock.
        let naive = try await readModifyWrite(a, b, admin, lock: false)
        lab.step(
            "Read-modify-write without a lock: A +10, B +20 on 100",
            "both read \(naive.bRead) and wrote what they computed; the balance is \(naive.final)\(naive.final == 130 ? "" : ", not 130: one update was lost")")
        lab.expect("without a lock one update is lost", naive.final != 130, expected: "≠ 130 (110 or 120)", observed: "\(naive.final)")

        let locked = try await readModifyWrite(a, b, admin, lock: forUpdate)
        lab.step(
            forUpdate ? "Read-modify-write with SELECT … FOR UPDATE" : "Read-modify-write again without a lock (for-update=false)",
            "B \(locked.bWaited ? "waited for A's row lock, then" : "did not wait and") read \(locked.bRead); the balance is \(locked.final)")
        lab.expect("B's locking read waited for A's transaction", locked.bWaited ? "waited" : "did not wait", equals: "waited")
        lab.expect("B read the value A committed", locked.bRead, equals: 110)
        lab.expect("no update lost: 100 + 10 + 20", locked.final, equals: 130)

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
        lab.expect("every concurrent increment counted", counted, equals: workers * increments)

        // 4. Write skew.
        let skewRR = try await writeSkew(a, b, admin, level: "REPEATABLE READ")
        lab.step(
            "REPEATABLE READ: Alice and Bob each see two doctors on call and each goes off call",
            "A: \(skewRR.aError ?? "committed"), B: \(skewRR.bError ?? "committed"); doctors on call now: \(skewRR.onCall)")
        lab.expect(
            "REPEATABLE READ allows write skew: both commit, nobody is on call",
            "\(skewRR.aError ?? "ok")/\(skewRR.bError ?? "ok")/\(skewRR.onCall)", equals: "ok/ok/0")

        let skewS = try await writeSkew(a, b, admin, level: "SERIALIZABLE")
        let refusedState = skewS.aError ?? skewS.bError
        lab.step(
            "SERIALIZABLE: the same interleaving",
            "A: \(skewS.aError.map { "refused, SQLSTATE \($0)" } ?? "committed"), B: \(skewS.bError.map { "refused, SQLSTATE \($0)" } ?? "committed")")
        lab.expect(
            "SERIALIZABLE refuses one of the two with 40001 (serialization_failure)",
            [skewS.aError, skewS.bError].compactMap { $0 }, equals: ["40001"])

        // The refused transaction is retried from the start, as an application must.
        let retrier = skewS.aError != nil ? (a, "alice") : (b, "bob")
        var attempts = 0, retried = false
        while refusedState != nil, !retried, attempts < 5 {
            attempts += 1
            let failed = await transaction(retrier.0, level: "SERIALIZABLE") { s in
                let onCall = try await s.scalar("SELECT count(*)::int FROM doctors WHERE on_call", as: Int.self)
                if onCall >= 2 { try await s.query("UPDATE doctors SET on_call = false WHERE name = \(retrier.1)") }
            }
            retried = failed == nil
        }
        let finalOnCall = try await admin.scalar("SELECT count(*)::int FROM doctors WHERE on_call", as: Int.self)
        lab.step("Retried the refused transaction", "it committed on attempt \(attempts); it now sees only one doctor on call and stays on call")
        lab.expect(
            "the retry commits and the rule holds (one doctor on call)", retried && finalOnCall == 1,
            expected: "retry committed, 1 on call", observed: "\(retried ? "committed" : "not committed"), \(finalOnCall) on call")
    }

    /// A reads account 1 twice under `level`, B adds 10 in between (autocommit).
    func readTwice(_ a: PGSession, _ b: PGSession, _ admin: PGSession, level: String) async throws -> (Int, Int) {
        try await admin.execute("UPDATE accounts SET balance = 100 WHERE id = 1")
        try await a.execute("BEGIN ISOLATION LEVEL \(level)")
        let first = try await a.scalar("SELECT balance FROM accounts WHERE id = 1", as: Int.self)
        try await b.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 1")
        let second = try await a.scalar("SELECT balance FROM accounts WHERE id = 1", as: Int.self)
        try await a.execute("COMMIT")
        return (first, second)
    }

    /// A adds 10 and B adds 20 to a balance of 100, each by reading then writing the sum.
    /// With `lock`, both read with FOR UPDATE and B's read waits until A commits.
    func readModifyWrite(
        _ a: PGSession, _ b: PGSession, _ admin: PGSession, lock: Bool
    )
        async throws -> (bRead: Int, bWaited: Bool, final: Int)
    {
        try await admin.execute("UPDATE accounts SET balance = 100 WHERE id = 1")
        let bPID = try await b.scalar("SELECT pg_backend_pid()", as: Int.self)
        let select = PostgresQuery(unsafeSQL: "SELECT balance FROM accounts WHERE id = 1\(lock ? " FOR UPDATE" : "")")
        try await a.execute("BEGIN")
        let aRead = try await a.scalar(select, as: Int.self)
        try await b.execute("BEGIN")
        if !lock {
            // Without a lock B reads at once: both hold 100 before either writes.
            let bRead = try await b.scalar(select, as: Int.self)
            try await a.query("UPDATE accounts SET balance = \(aRead + 10) WHERE id = 1")
            try await a.execute("COMMIT")
            try await b.query("UPDATE accounts SET balance = \(bRead + 20) WHERE id = 1")
            try await b.execute("COMMIT")
            return (bRead, false, try await admin.scalar("SELECT balance FROM accounts WHERE id = 1", as: Int.self))
        }
        async let bRead: Int = {
            let read = try await b.scalar(select, as: Int.self)
            try await b.query("UPDATE accounts SET balance = \(read + 20) WHERE id = 1")
            try await b.execute("COMMIT")
            return read
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
        try await a.execute("COMMIT")
        let read = try await bRead
        return (read, waited, try await admin.scalar("SELECT balance FROM accounts WHERE id = 1", as: Int.self))
    }

    /// Alice (session A) and Bob (session B) are both on call; each checks that two are on
    /// call and takes themself off. Returns each side's SQLSTATE if refused, and who is on call after.
    func writeSkew(
        _ a: PGSession, _ b: PGSession, _ admin: PGSession, level: String
    )
        async throws -> (aError: String?, bError: String?, onCall: Int)
    {
        try await admin.execute("DELETE FROM doctors; INSERT INTO doctors VALUES ('alice', true), ('bob', true)")
        var aError: String?, bError: String?
        aError = await step(a) { try await $0.execute("BEGIN ISOLATION LEVEL \(level)") }
        bError = await step(b) { try await $0.execute("BEGIN ISOLATION LEVEL \(level)") }
        var aSees = 0, bSees = 0
        if aError == nil { aError = await step(a) { aSees = try await $0.scalar("SELECT count(*)::int FROM doctors WHERE on_call", as: Int.self) } }
        if bError == nil { bError = await step(b) { bSees = try await $0.scalar("SELECT count(*)::int FROM doctors WHERE on_call", as: Int.self) } }
        if aError == nil, aSees >= 2 { aError = await step(a) { try await $0.query("UPDATE doctors SET on_call = false WHERE name = 'alice'") } }
        if bError == nil, bSees >= 2 { bError = await step(b) { try await $0.query("UPDATE doctors SET on_call = false WHERE name = 'bob'") } }
        if aError == nil { aError = await step(a) { try await $0.execute("COMMIT") } }
        if bError == nil { bError = await step(b) { try await $0.execute("COMMIT") } }
        return (aError, bError, try await admin.scalar("SELECT count(*)::int FROM doctors WHERE on_call", as: Int.self))
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
    private func transaction(_ s: PGSession, level: String, _ body: (PGSession) async throws -> Void) async -> String? {
        if let e = await step(s, { try await $0.execute("BEGIN ISOLATION LEVEL \(level)") }) { return e }
        if let e = await step(s, body) { return e }
        return await step(s) { try await $0.execute("COMMIT") }
    }
}
