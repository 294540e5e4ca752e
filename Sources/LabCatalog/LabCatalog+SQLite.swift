// The labs that run on SQLite through GRDB, with no server to start.
extension LabCatalog {
    static let sqlite: [LabInfo] = [
        LabInfo(
            id: "orm", title: "ORM records, eager loading and transactions", phase: 2,
            teaches: "Following associations one record at a time issues N+1 queries while eager loading issues one per level, counted by SQLite's statement tracer; a failed unit of work rolls back whole inside a transaction.",
            parameters: [
                LabParameter("authors", .int(min: 1, max: 1000), default: "60", quick: "20", help: "How many authors the bookshelf holds."),
                LabParameter("books-per-author", .int(min: 0, max: 10), default: "4", quick: "3", help: "Average books per author (each has 0 to twice this)."),
                LabParameter("reviews-per-book", .int(min: 0, max: 10), default: "3", quick: "2", help: "Average reviews per book (each has 0 to twice this)."),
            ],
            source: "Sources/Labs/Phase02/ORM.swift"),
        LabInfo(
            id: "migrations", title: "Versioned, checksummed migrations", phase: 6,
            teaches: "A Flyway-style runner applies migrations in version order, each in its own transaction with its history row: a failing one rolls back whole, and an applied one edited afterwards is caught by its SHA-256 checksum.",
            parameters: [
                LabParameter("authors", .int(min: 2, max: 5000), default: "200", quick: "30", help: "Authors seeded by V2 (three books each); two of them share a name."),
                LabParameter("fail-at", .int(min: 2, max: 6), default: "4", help: "The migration shipped with the unique-name index that fails on the seeded duplicates."),
                LabParameter("edit", .int(min: 1, max: 6), default: "3", help: "The applied migration someone edits afterwards."),
            ],
            source: "Sources/Labs/Phase06/Migrations.swift"),
        LabInfo(
            id: "denormalization", title: "Normalised vs denormalised reads and writes", phase: 6,
            teaches: "A denormalised copy turns a join and an aggregate into one indexed lookup, but each logical update then touches every copy, and a write path that forgets the copy leaves it stale; triggers keep it in step.",
            parameters: [
                LabParameter("authors", .int(min: 2, max: 5000), default: "200", quick: "40", help: "Authors in the bookshelf."),
                LabParameter("books-per-author", .int(min: 1, max: 50), default: "10", quick: "5", help: "Books per author."),
                LabParameter("reviews-per-book", .int(min: 0, max: 100), default: "20", quick: "5", help: "Average reviews per book (each has 0 to twice this)."),
                LabParameter("reads", .int(min: 1, max: 100000), default: "3000", quick: "300", help: "Author pages read by the read workload."),
                LabParameter("updates", .int(min: 1, max: 10000), default: "400", quick: "60", help: "Logical updates (author renames and new reviews) applied to both schemas."),
                LabParameter("triggers", .bool, default: "true", help: "Keep the copy in step with triggers; false shows the copy drifting (the sync checks then fail)."),
            ],
            source: "Sources/Labs/Phase06/Denormalization.swift"),
        LabInfo(
            id: "read-caching", title: "A read-through LRU cache with TTL", phase: 6,
            teaches: "A small LRU cache absorbs most of a skewed read workload (its hit count checked against a simulation), TTL expiry forces reloads, and invalidating on write is what keeps readers from seeing stale data.",
            parameters: [
                LabParameter("keys", .int(min: 5, max: 100000), default: "2000", quick: "500", help: "Books that can be read (the key space)."),
                LabParameter("capacity", .int(min: 1, max: 100000), default: "200", quick: "50", help: "Entries the cache holds before it evicts."),
                LabParameter("ttl", .double(min: 0.1, max: 86400), default: "60", help: "Seconds an entry stays fresh (reads arrive every 0.1 s of manual-clock time)."),
                LabParameter("skew", .double(min: 0, max: 3), default: "1.0", help: "Zipf exponent of popularity: 0 is uniform, higher concentrates reads on fewer books."),
                LabParameter("requests", .int(min: 10, max: 1000000), default: "5000", quick: "1500", help: "Reads in the hit-ratio workload."),
                LabParameter("cost", .int(min: 1, max: 10000000), default: "1000", quick: "500", help: "Rows of artificial work the slow query does per miss."),
                LabParameter("invalidate", .bool, default: "true", help: "Invalidate a key when it is written; false shows stale reads (the last check then fails)."),
            ],
            source: "Sources/Labs/Phase06/ReadCaching.swift"),
        LabInfo(
            id: "idempotency", title: "Idempotency keys under retries and races", phase: 10,
            teaches: "Storing the key, a request fingerprint and the response in the same transaction as the side effect gives exactly one charge per key under retries and concurrent duplicates, replays the same response, and refuses a reused key with a different payload; check-then-act in separate transactions double-charges.",
            parameters: [
                LabParameter("keys", .int(min: 2, max: 10000), default: "40", quick: "10", help: "Idempotency keys sent (half retried one after another, half raced)."),
                LabParameter("duplicates", .int(min: 2, max: 64), default: "8", quick: "4", help: "Concurrent copies of each raced request."),
                LabParameter("retries", .int(min: 1, max: 20), default: "3", quick: "2", help: "Retries after the first attempt, for the retried keys."),
                LabParameter("instances", .int(min: 1, max: 16), default: "4", quick: "2", help: "Service instances, each with its own connection to the database."),
                LabParameter("honour-keys", .bool, default: "true", help: "Honour the Idempotency-Key; false executes every request (the checks then fail)."),
            ],
            source: "Sources/Labs/Phase10/Idempotency.swift"),
        LabInfo(
            id: "event-sourcing", title: "An event-sourced account with a CQRS read model", phase: 10,
            teaches: "State is a fold over an append-only stream; appends carry the version they were decided on, so a concurrent append with a stale version is refused and retried, and a projected read model always equals a replay from scratch.",
            parameters: [
                LabParameter("accounts", .int(min: 1, max: 1000), default: "5", quick: "3", help: "Accounts (event streams); fewer accounts, more conflicts."),
                LabParameter("commands", .int(min: 1, max: 100000), default: "800", quick: "120", help: "Deposit and withdraw commands, shared among the writers."),
                LabParameter("writers", .int(min: 1, max: 16), default: "4", quick: "3", help: "Concurrent writers, each with its own connection."),
                LabParameter("optimistic-concurrency", .bool, default: "true", help: "Compare the expected version on append; false lets stale appends through (the checks then fail)."),
            ],
            source: "Sources/Labs/Phase10/EventSourcing.swift"),
    ]
}
