// Query plans: SQL says *what* you want; the planner decides *how* — and EXPLAIN shows its
// decision as a tree of nodes. Without an index, finding one user's events means a
// Sequential Scan: read every row, throw away those that do not match ("Rows Removed by
// Filter"). With a B-tree index on the column, the planner walks the index to the few
// matching rows (Index Scan, or a Bitmap Index Scan feeding a Bitmap Heap Scan when there
// are more of them). EXPLAIN ANALYZE runs the query and adds what really happened: rows
// and time per node. An index pays off when the query is selective — try `users=2`.
//
// `break=` plants a classic mistake (an index on the wrong column, an index built before the
// "before" plan, a load whose ids start at 0); each is caught by the checks named in its help.
// `index=none` builds no index at all.
import Foundation
import LabKit
import PostgresNIO

struct QueryPlansLab: Lab {
    static let rows = Knob.int("rows", 1_000...5_000_000, default: 200_000, quick: 20_000, help: "rows in the events table")
    static let users = Knob.int(
        "users", 1...1_000_000, default: 2000,
        help: "distinct user ids (fewer makes each user's rows a bigger share, and the index less useful)")
    static let index = Knob.choice(
        "index", ["btree", "none"], default: "btree",
        help: "the index built before the second run (none: watch the plan stay a sequential scan)")
    static let repeats = Knob.int("repeat", 1...1_000, default: 20, quick: 5, help: "timed runs of the query before and after")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help: """
            Plant a mistake: index-on-kind (the index is built on kind, not the user_id the query filters: \
            the plan, index-rows and speed checks), index-before-load (the index is created with the table, so \
            the "before" plan already uses it: the sequential-scan, rows-removed and speed checks), ids-from-zero \
            (the load runs generate_series(0, rows): a row 0 of user 0 that the Swift model lacks; at the \
            quick and default sizes user 0 is the one queried: the index-rows and answer checks).
            """)

    enum Breaker: String, CaseIterable, Sendable {
        case none
        case indexOnKind = "index-on-kind"
        case indexBeforeLoad = "index-before-load"
        case idsFromZero = "ids-from-zero"
    }

    /// The checks, named once so the breaker tests cannot drift from them.
    static let seqScanBefore = "without an index the plan is a sequential scan"
    static let readEveryRow = "the sequential scan read every row and threw away all but the matches"
    static let usesIndex = "after the index the plan uses it (Index or Bitmap scan on events_user_idx)"
    static let indexRows = "the index led straight to the matching rows (rows from the index node)"
    static let faster = "with the index the executor is at least 2× faster (EXPLAIN ANALYZE)"
    static let answersAgree = "both runs return the answer computed in Swift (count, sum of ids)"

    static let info = LabInfo(
        id: "query-plans", title: "Reading query plans", phase: 2,
        teaches:
            "EXPLAIN ANALYZE shows how PostgreSQL runs a query: a sequential scan reads every row, and after CREATE INDEX the same query becomes an index (or bitmap) scan that touches only the matching rows.",
        parameters: [rows.parameter, users.parameter, index.parameter, repeats.parameter, breaker.parameter],
        needs: [.postgres], source: "Sources/Labs/Data/Phase02/QueryPlans.swift"
    )

    /// Row `i` (1-based) belongs to this user: a fixed scatter, so Swift knows every row
    /// without reading the table.
    static func user(ofRow i: Int, users: Int) -> Int { (i &* 7_919) % users }

    /// The answer computed in Swift: how many rows, and the sum of their ids, for `user`.
    static func expected(rows: Int, users: Int, user: Int) -> (count: Int, sum: Int) {
        var count = 0, sum = 0
        for i in 1...rows where Self.user(ofRow: i, users: users) == user { count += 1; sum += i }
        return (count, sum)
    }

    /// From this many users (each owning at most 5% of the rows) the index must win.
    static let selectiveUsers = 20

    static func isIndexScan(_ type: String) -> Bool {
        ["Index Scan", "Index Only Scan", "Bitmap Index Scan"].contains(type)
    }

    func run(_ lab: LabContext) async throws {
        let rows = lab[Self.rows], users = lab[Self.users], repeats = lab[Self.repeats]
        let index = lab[Self.index], breaker = lab[Self.breaker]
        let server = try await ThrowawayPostgres.start(for: lab)
        let db = try await server.createDatabase("plans")
        // The index the second run gets: on user_id, which the query filters (or, by mistake, on kind).
        let createIndex = "CREATE INDEX events_user_idx ON events (\(breaker == .indexOnKind ? "kind" : "user_id"))"
        let (_, loadSeconds) = try await Measure.time {
            try await db.execute(
                """
                CREATE TABLE events (id int PRIMARY KEY, user_id int NOT NULL, kind int NOT NULL, payload text NOT NULL);
                \(breaker == .indexBeforeLoad && index == "btree" ? createIndex + ";" : "")
                INSERT INTO events SELECT i, (i::bigint * 7919) % \(users), i % 7, md5(i::text)
                    FROM generate_series(\(breaker == .idsFromZero ? 0 : 1), \(rows)) AS i;
                SET max_parallel_workers_per_gather = 0;
                """)
            // VACUUM may not run inside a transaction, which a multi-statement script is.
            try await db.execute("VACUUM ANALYZE events")
        }
        let loaded = try await db.scalar("SELECT count(*)::int FROM events", as: Int.self)
        lab.step(
            "Loaded \(loaded) events for \(users) users",
            "user_id = (id × 7919) mod \(users); VACUUM ANALYZE gave the planner fresh statistics. Parallel workers are off (max_parallel_workers_per_gather = 0) so each plan node's row counts are whole-table numbers."
        )
        lab.figure("load", loadSeconds, "s")

        let target = Self.user(ofRow: rows / 2, users: users)
        let answer = Self.expected(rows: rows, users: users, user: target)
        let sql = "SELECT count(*), sum(id) FROM events WHERE user_id = \(target)"

        let before = try await db.explain(sql)
        let beforeResult = try await result(db, sql)
        let beforeTime = try await timed(db, sql, repeats)
        let beforeExecutor = try await fastestExecutor(db, sql, before)
        let scanBefore = before.allNodes.first { $0.relation == "events" }
        lab.step(
            (breaker == .indexBeforeLoad && index == "btree" ? "First plan (the index already exists, broken on purpose)" : "Before the index")
                + ": EXPLAIN (ANALYZE) \(sql)",
            "\(before.summary); rows removed by filter: \(Int(scanBefore?.rowsRemovedByFilter ?? 0)); executor \(String(format: "%.2f", before.executionTime ?? 0)) ms"
        )
        lab.expect(
            Self.seqScanBefore, before.nodeTypes.contains("Seq Scan"),
            expected: "a Seq Scan node", observed: before.summary)
        lab.expect(
            Self.readEveryRow,
            Int(scanBefore?.rowsRemovedByFilter ?? -1), equals: rows - answer.count)

        if index == "btree", breaker == .indexBeforeLoad {
            lab.step("The index was already there", "\(createIndex) ran with CREATE TABLE, before the first plan")
        } else if index == "btree" {
            try await db.execute(createIndex + "; ANALYZE events")
            lab.step(createIndex)
        } else {
            lab.step("No index built (index=none)", "the second plan has nothing better to use")
        }

        let after = try await db.explain(sql)
        let afterResult = try await result(db, sql)
        let afterTime = try await timed(db, sql, repeats)
        let afterExecutor = try await fastestExecutor(db, sql, after)
        lab.step(
            "After: the same EXPLAIN (ANALYZE)",
            "\(after.summary); indexes used: \(after.indexesUsed.sorted().joined(separator: ", ")); executor \(String(format: "%.2f", after.executionTime ?? 0)) ms"
        )
        // An index pays off only when the query is selective. With few users each one owns a
        // large share of the table, and a sequential scan is the planner's right answer; the
        // checks on the index then would judge the planner wrong for being right.
        let selective = users >= Self.selectiveUsers
        if selective {
            lab.expect(
                Self.usesIndex,
                after.nodeTypes.contains(where: Self.isIndexScan) && after.indexesUsed.contains("events_user_idx")
                    && !after.nodeTypes.contains("Seq Scan"),
                expected: "an index scan on events_user_idx, no Seq Scan", observed: after.summary)
            let indexNode = after.allNodes.first { $0.indexName == "events_user_idx" }
            lab.expect(
                Self.indexRows,
                Int(indexNode?.actualRows ?? -1), equals: answer.count)
            // Executor time from EXPLAIN ANALYZE: the round trip to the server, the same on
            // both sides, would hide the difference on small tables. The fastest of five runs
            // each: load only ever adds time (one sample each let a CI run see 2× without an index).
            // The speed-up is the index's only when a sequential scan was compared with an
            // index scan: with the same plan on both sides, a loaded run's noise alone once
            // came out 2× apart.
            let beforeMs = beforeExecutor, afterMs = afterExecutor
            let contrast = before.nodeTypes.contains("Seq Scan") && after.indexesUsed.contains("events_user_idx")
            lab.expect(
                Self.faster, contrast && beforeMs.isFinite && afterMs.isFinite && beforeMs >= 2 * afterMs,
                expected: "a Seq Scan before, events_user_idx after, and before ≥ 2 × after (the fastest of 5 EXPLAIN ANALYZE runs each)",
                observed: String(format: "%.3f ms before, %.3f ms after (%.1f×)", beforeMs, afterMs, beforeMs / max(afterMs, 1e-9))
                    + (contrast ? "" : "; not a sequential scan against the index, so no speed-up of the index's"))
        } else {
            lab.step(
                "Not selective enough to judge the index",
                "With users=\(users) each user owns about 1/\(users) of the rows; the planner may rightly keep a sequential scan, so the index checks are skipped (they run from users=\(Self.selectiveUsers))."
            )
        }
        lab.expect(
            Self.answersAgree,
            [beforeResult.0, beforeResult.1, afterResult.0, afterResult.1],
            equals: [answer.count, answer.sum, answer.count, answer.sum])

        lab.figure("query before (median)", beforeTime * 1000, "ms")
        lab.figure("query after (median)", afterTime * 1000, "ms")
        lab.figure("speed-up, round trip included (a figure, not a claim)", beforeTime / max(afterTime, 1e-9), "×")
    }

    private func result(_ db: PGSession, _ sql: String) async throws -> (Int, Int) {
        let row = try await db.query(PostgresQuery(unsafeSQL: sql.replacingOccurrences(of: "sum(id)", with: "coalesce(sum(id), 0)::bigint")))
        guard let first = row.first else { throw LabError("the query returned no row") }
        return try first.decode((Int, Int).self)
    }

    /// The fastest executor time, in ms, of `first` and four more EXPLAIN ANALYZE runs of `sql`.
    private func fastestExecutor(_ db: PGSession, _ sql: String, _ first: PGPlan) async throws -> Double {
        var best = first.executionTime ?? .infinity
        for _ in 0..<4 { best = min(best, try await db.explain(sql).executionTime ?? .infinity) }
        return best
    }

    /// The median wall time of `repeats` runs, in seconds.
    private func timed(_ db: PGSession, _ sql: String, _ repeats: Int) async throws -> Double {
        var times: [Double] = []
        for _ in 0..<repeats {
            let (_, s) = try await Measure.time { try await db.query(PostgresQuery(unsafeSQL: sql)) }
            times.append(s)
        }
        return Measure.percentile(times, 50)
    }
}
