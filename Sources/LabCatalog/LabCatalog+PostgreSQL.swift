// The labs that run on a throwaway PostgreSQL cluster (phases 2, 6 and 8). Each starts its
// own cluster in its scratch folder (LabKit's ThrowawayPostgres) and deletes it afterwards.
extension LabCatalog {
    static let postgres: [LabInfo] = [
        LabInfo(
            id: "postgres-setup", title: "A PostgreSQL cluster of your own", phase: 2,
            teaches: "initdb makes a cluster, pg_ctl starts it on a socket; inside it you create a database, a login role with a password and a table, and values come back with their types intact.",
            parameters: [
                LabParameter("rows", .int(min: 1, max: 1_000_000), default: "5000", quick: "200",
                             help: "rows inserted into the table and read back"),
            ],
            needs: [.postgres], source: "Sources/Labs/Phase02/PostgresSetup.swift"
        ),
        LabInfo(
            id: "schema-normalization", title: "From a flat sheet to third normal form", phase: 2,
            teaches: "A flat orders table repeats customer facts on every row, so one careless update leaves them disagreeing; in 3NF each fact lives once, keys and foreign keys refuse orphans, and reports still agree.",
            parameters: [
                LabParameter("orders", .int(min: 10, max: 200_000), default: "5000", quick: "300",
                             help: "orders in the flat sheet"),
                LabParameter("customers", .int(min: 2, max: 10_000), default: "200", quick: "30",
                             help: "distinct customers the orders belong to"),
                LabParameter("seed", .int(min: 0, max: 1_000_000), default: "42", help: "seed of the generated sheet"),
            ],
            needs: [.postgres], source: "Sources/Labs/Phase02/SchemaNormalization.swift"
        ),
        LabInfo(
            id: "sql-mastery", title: "Ten graded SQL queries", phase: 2,
            teaches: "Joins, outer joins, GROUP BY … HAVING, correlated and EXISTS subqueries, window functions and CTEs, each graded against the same answer computed in plain Swift.",
            parameters: [
                LabParameter("customers", .int(min: 10, max: 50_000), default: "2000", quick: "80",
                             help: "customers in the seeded shop (orders and items grow with it)"),
                LabParameter("seed", .int(min: 0, max: 1_000_000), default: "7", help: "seed of the shop dataset"),
            ],
            needs: [.postgres], source: "Sources/Labs/Phase02/SQLMastery.swift"
        ),
        LabInfo(
            id: "transactions-isolation", title: "Isolation levels and their anomalies", phase: 2,
            teaches: "Two sessions replay the classic anomalies: a non-repeatable read under READ COMMITTED, a lost update that SELECT … FOR UPDATE prevents, and write skew that only SERIALIZABLE refuses (SQLSTATE 40001, retry).",
            parameters: [
                LabParameter("for_update", .bool, default: "true",
                             help: "lock the row with SELECT … FOR UPDATE before the read-modify-write (false shows the lost update)"),
                LabParameter("workers", .int(min: 1, max: 32), default: "8", quick: "4",
                             help: "concurrent sessions incrementing one counter"),
                LabParameter("increments", .int(min: 1, max: 10_000), default: "100", quick: "15",
                             help: "increments each session makes"),
            ],
            needs: [.postgres], source: "Sources/Labs/Phase02/TransactionsIsolation.swift"
        ),
        LabInfo(
            id: "query-plans", title: "Reading query plans", phase: 2,
            teaches: "EXPLAIN ANALYZE shows how PostgreSQL runs a query: a sequential scan reads every row, and after CREATE INDEX the same query becomes an index (or bitmap) scan that touches only the matching rows.",
            parameters: [
                LabParameter("rows", .int(min: 1_000, max: 5_000_000), default: "200000", quick: "20000",
                             help: "rows in the events table"),
                LabParameter("users", .int(min: 1, max: 1_000_000), default: "2000",
                             help: "distinct user ids (fewer makes each user's rows a bigger share, and the index less useful)"),
                LabParameter("index", .choice(["btree", "none"]), default: "btree",
                             help: "the index built before the second run (none: watch the plan stay a sequential scan)"),
                LabParameter("repeat", .int(min: 1, max: 1_000), default: "20", quick: "5",
                             help: "timed runs of the query before and after"),
            ],
            needs: [.postgres], source: "Sources/Labs/Phase02/QueryPlans.swift"
        ),
        LabInfo(
            id: "olap-schema", title: "A star schema, ROLLUP and CUBE", phase: 6,
            teaches: "A sales fact table with date, product and store dimensions answers analytical questions with GROUP BY ROLLUP and CUBE; a pre-aggregated summary answers the dashboard much faster.",
            parameters: [
                LabParameter("facts", .int(min: 1_000, max: 20_000_000), default: "1000000", quick: "20000",
                             help: "generated sales facts"),
                LabParameter("products", .int(min: 1, max: 100_000), default: "500", quick: "50", help: "rows of the product dimension"),
                LabParameter("stores", .int(min: 1, max: 10_000), default: "40", quick: "8", help: "rows of the store dimension"),
                LabParameter("repeat", .int(min: 1, max: 100), default: "5", quick: "2", help: "timed runs of the dashboard query"),
            ],
            needs: [.postgres], source: "Sources/Labs/Phase06/OLAPSchema.swift"
        ),
        LabInfo(
            id: "jsonb", title: "JSONB documents and a GIN index", phase: 6,
            teaches: "Semi-structured attributes stored as JSONB are queried with containment (@>), key existence (?) and JSON path (@?); a GIN index answers these without reading every row.",
            parameters: [
                LabParameter("products", .int(min: 100, max: 2_000_000), default: "50000", quick: "3000",
                             help: "products with generated JSONB attributes"),
                LabParameter("opclass", .choice(["jsonb_ops", "jsonb_path_ops"]), default: "jsonb_path_ops",
                             help: "the GIN operator class (jsonb_path_ops is smaller but has no key-existence support)"),
                LabParameter("seed", .int(min: 0, max: 1_000_000), default: "11", help: "seed of the generated attributes"),
            ],
            needs: [.postgres], source: "Sources/Labs/Phase06/JSONB.swift"
        ),
        LabInfo(
            id: "background-jobs", title: "A job queue on PostgreSQL", phase: 8,
            teaches: "Workers claim jobs with SELECT … FOR UPDATE SKIP LOCKED so no job runs twice, delayed jobs wait for their time, and a graceful shutdown lets in-flight jobs finish before the workers stop.",
            parameters: [
                LabParameter("jobs", .int(min: 1, max: 100_000), default: "400", quick: "60", help: "jobs ready at once"),
                LabParameter("delayed", .int(min: 0, max: 10_000), default: "20", quick: "5", help: "jobs scheduled for later"),
                LabParameter("delay_ms", .int(min: 0, max: 60_000), default: "1500", quick: "300",
                             help: "how far in the future the delayed jobs are due"),
                LabParameter("workers", .int(min: 1, max: 32), default: "4", help: "concurrent workers, one connection each"),
                LabParameter("job_ms", .int(min: 0, max: 10_000), default: "10", quick: "3", help: "time each job takes"),
                LabParameter("locking", .choice(["skip-locked", "for-update", "none"]), default: "skip-locked",
                             help: "how a worker claims a job (none: watch jobs run twice)"),
            ],
            needs: [.postgres], source: "Sources/Labs/Phase08/BackgroundJobs.swift"
        ),
    ]
}
