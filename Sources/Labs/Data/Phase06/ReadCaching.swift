// Read-through caching: an LRU cache with a time-to-live in front of a slow query.
//
// A read-through cache sits between the code and the database: `get(key)` answers from
// memory when it can (a hit) and otherwise runs the query, keeps the answer and returns
// it (a miss). Memory is bounded, so when the cache is full it evicts the Least Recently
// Used entry — the one whose last read is oldest. Answers also age: after `ttl` seconds
// an entry expires and the next read reloads it, which bounds how stale a cached value
// can get. Writes must invalidate the key they change, otherwise readers keep getting the
// old value until it expires.
//
// Real traffic is skewed (a few books are read far more than the rest), which is why a
// small cache can absorb most reads. The lab draws a Zipf-like workload from a seeded
// generator and checks the cache's hit count against an independent simulation. Time
// comes from a manual clock, so expiry is exact and instant.
import Foundation
import GRDB
import LabCatalog
import LabKit

/// A read-through LRU cache with a TTL. A doubly linked list (kept as keys in a
/// dictionary) orders entries from most to least recently used; every operation is O(1).
final class ReadThroughCache<Key: Hashable, Value> {
    private struct Entry {
        var value: Value
        var loadedAt: Duration
        var newer: Key?
        var older: Key?
    }

    let capacity: Int
    let ttl: Duration
    private let clock: LabClock
    private let fault: ReadCachingLab.Fault
    private var entries: [Key: Entry] = [:]
    private var newest: Key?
    private var oldest: Key?
    private(set) var hits = 0
    private(set) var misses = 0
    private(set) var expirations = 0
    /// Every key evicted to make room, in order.
    private(set) var evicted: [Key] = []

    init(capacity: Int, ttl: Duration, clock: LabClock, fault: ReadCachingLab.Fault = .none) {
        self.capacity = max(1, capacity); self.ttl = ttl; self.clock = clock; self.fault = fault
    }

    var count: Int { entries.count }

    /// Keys from most to least recently used.
    var keysByRecency: [Key] {
        var keys: [Key] = []
        var k = newest
        while let key = k { keys.append(key); k = entries[key]?.older }
        return keys
    }

    func get(_ key: Key, load: (Key) throws -> Value) rethrows -> Value {
        let now = clock.elapsed
        if let entry = entries[key] {
            if now - entry.loadedAt < ttl || fault == .noExpiry {
                hits += 1
                // A hit makes the entry the most recently used; FIFO leaves it where it was.
                if fault == .fifoEviction { return entry.value }
                // Refreshing on every hit reloads the value: always fresh, and nothing saved.
                let value = fault == .refreshOnHit ? try load(key) : entry.value
                unlink(key)
                pushNewest(key, value: value, loadedAt: entry.loadedAt)
                return value
            }
            expirations += 1
            unlink(key)
        }
        misses += 1
        // An existence check that runs the query before the load runs it again.
        if fault == .doubleLoad { _ = try load(key) }
        let value = try load(key)
        pushNewest(key, value: value, loadedAt: now)
        if entries.count > capacity, let victim = oldest {
            unlink(victim)
            evicted.append(victim)
        }
        return value
    }

    /// Drops a key so the next read reloads it (call after writing what it caches).
    func invalidate(_ key: Key) { unlink(key) }

    private func pushNewest(_ key: Key, value: Value, loadedAt: Duration) {
        entries[key] = Entry(value: value, loadedAt: loadedAt, newer: nil, older: newest)
        if let n = newest { entries[n]?.newer = key }
        newest = key
        if oldest == nil { oldest = key }
    }

    private func unlink(_ key: Key) {
        guard let e = entries.removeValue(forKey: key) else { return }
        if let n = e.newer { entries[n]?.older = e.older } else { newest = e.older }
        if let o = e.older { entries[o]?.newer = e.newer } else { oldest = e.newer }
    }
}

struct ReadCachingLab: Lab {
    enum Fault: String, CaseIterable, Sendable {
        case none
        case fifoEviction = "fifo-eviction"
        case noExpiry = "no-expiry"
        case doubleLoad = "double-load"
        case refreshOnHit = "refresh-on-hit"
        case skipInvalidation = "skip-invalidation"

        var effect: String {
            switch self {
            case .none: "nothing broken"
            case .fifoEviction: "a hit does not make its entry the most recently used, so the cache evicts first in, first out"
            case .noExpiry: "entries never expire (the TTL is never compared)"
            case .doubleLoad: "a miss runs the slow query twice (an existence check, then the load)"
            case .refreshOnHit: "every hit reloads its value from the database (always fresh, nothing saved)"
            case .skipInvalidation: "the write path forgets to invalidate the key it changed"
            }
        }
    }

    static let keys = Knob.int("keys", 5...100000, default: 2000, quick: 500, help: "Books that can be read (the key space).")
    static let capacity = Knob.int("capacity", 1...100000, default: 200, quick: 50, help: "Entries the cache holds before it evicts.")
    static let ttl = Knob.double("ttl", 0.1...86400, default: 60, help: "Seconds an entry stays fresh (reads arrive every 0.1 s of manual-clock time).")
    static let skew = Knob.double("skew", 0...3, default: 1.0, help: "Zipf exponent of popularity: 0 is uniform, higher concentrates reads on fewer books.")
    static let requests = Knob.int("requests", 10...1000000, default: 5000, quick: 1500, help: "Reads in the hit-ratio workload.")
    static let cost = Knob.int("cost", 1...10000000, default: 1000, quick: 500, help: "Rows of artificial work the slow query does per miss.")
    static let invalidate = Knob.bool(
        "invalidate", default: true, help: "Invalidate a key when it is written; false shows stale reads (the last check then fails).")
    static let fault = Knob<Fault>.choice(
        "break", default: .none,
        help: "Breaks the cache so a check fails: " + Fault.allCases.dropFirst().map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + ".")

    /// The checks, named once so the breaker tests cannot drift from them.
    static let agreesWithSimulation = "hits agree with an independent simulation"
    static let missRunsQuery = "every miss (and only a miss) ran the slow query"
    static let evictionOrder = "evictions happen in the simulated LRU order"
    static let leastRecentlyUsed = "the least recently used entry is evicted (2, then 1)"
    static let expiry = "within the TTL a read is served from memory, after it the entry reloads"
    static let staleWithout = "without invalidation, a write leaves the cached value stale"
    static let freshWith = "invalidation on write leaves no stale read"

    static let info = LabInfo(
        id: "read-caching", title: "A read-through LRU cache with TTL", phase: 6,
        teaches:
            "A small LRU cache absorbs most of a skewed read workload (its hit count checked against a simulation), TTL expiry forces reloads, and invalidating on write is what keeps readers from seeing stale data.",
        parameters: [
            keys.parameter, capacity.parameter, ttl.parameter, skew.parameter, requests.parameter, cost.parameter, invalidate.parameter,
            fault.parameter,
        ],
        source: "Sources/Labs/Data/Phase06/ReadCaching.swift")

    struct BookSummary: Equatable, Sendable {
        var title: String
        var price: Int
        var reviews: Int
    }

    /// The simplest possible model of an LRU cache with TTL, written independently of
    /// `ReadThroughCache` (an array in recency order, linear scans): what the cache's
    /// counts must agree with.
    static func simulate(requests: [(key: Int, at: Duration)], capacity: Int, ttl: Duration) -> (hits: Int, evicted: [Int]) {
        var order: [Int] = []  // least recently used first
        var loadedAt: [Int: Duration] = [:]
        var hits = 0
        var evicted: [Int] = []
        for (key, t) in requests {
            if let i = order.firstIndex(of: key) {
                order.remove(at: i)
                if let l = loadedAt[key], t - l < ttl {
                    hits += 1
                    order.append(key)
                    continue
                }
            }
            loadedAt[key] = t
            order.append(key)
            if order.count > max(1, capacity) {
                evicted.append(order.removeFirst())
            }
        }
        return (hits, evicted)
    }

    /// Zipf-like popularity: the key of rank r is drawn with probability ∝ 1 / r^skew.
    struct Zipf {
        private var cumulative: [Double] = []
        init(keys: Int, skew: Double) {
            var total = 0.0
            for r in 1...max(1, keys) { total += 1 / pow(Double(r), skew); cumulative.append(total) }
            cumulative = cumulative.map { $0 / total }
        }
        func draw(using rng: inout SQLiteLab.Random) -> Int {
            let u = rng.unit()
            var lo = 0, hi = cumulative.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cumulative[mid] < u { lo = mid + 1 } else { hi = mid }
            }
            return lo + 1
        }
    }

    static func createSchema(_ db: Database, keys: Int) throws {
        try db.execute(
            sql: """
                CREATE TABLE book (id INTEGER PRIMARY KEY, title TEXT NOT NULL, price INTEGER NOT NULL);
                CREATE TABLE review (id INTEGER PRIMARY KEY, book_id INTEGER NOT NULL REFERENCES book(id), rating INTEGER NOT NULL);
                CREATE INDEX review_book ON review(book_id);
                """)
        let insertBook = try db.cachedStatement(sql: "INSERT INTO book (id, title, price) VALUES (?, ?, ?)")
        let insertReview = try db.cachedStatement(sql: "INSERT INTO review (book_id, rating) VALUES (?, ?)")
        for id in 1...keys {
            try insertBook.execute(arguments: [id, "Book \(id)", 10 + id % 40])
            for r in 0..<(id % 5) { try insertReview.execute(arguments: [id, 1 + r]) }
        }
    }

    /// The slow query: a book summary plus `cost` rows of pointless recursive work, standing
    /// in for an expensive report.
    static let slowQuery = """
        WITH RECURSIVE burn(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM burn WHERE n < :cost)
        SELECT b.title, b.price, (SELECT count(*) FROM review WHERE book_id = b.id), (SELECT count(*) FROM burn)
        FROM book b WHERE b.id = :id
        """

    static func slowLoad(_ db: Database, id: Int, cost: Int) throws -> BookSummary? {
        try Row.fetchOne(db, sql: slowQuery, arguments: ["cost": cost, "id": id]).map {
            BookSummary(title: $0[0], price: $0[1], reviews: $0[2])
        }
    }

    static func isSlowQuery(_ sql: String) -> Bool { sql.contains("burn") }

    struct Replay {
        var timeline: [(key: Int, at: Duration)] = []
        var hitSeconds: [Double] = []
        var missSeconds: [Double] = []
    }

    /// Reads keys through a cache, ticking the clock by `tick` before each read. Returns
    /// the (key, time) sequence for the simulation, and how long hits and misses took.
    static func replay(
        _ keys: [Int], cache: ReadThroughCache<Int, BookSummary?>, clock: LabClock, tick: Duration,
        dbQueue: DatabaseQueue, cost: Int
    ) throws -> Replay {
        let start = clock.elapsed
        var replay = Replay()
        try dbQueue.read { db in
            for key in keys {
                clock.advance(by: tick)
                let missesBefore = cache.misses
                let began = ContinuousClock.now
                _ = try cache.get(key) { try slowLoad(db, id: $0, cost: cost) }
                let took = Measure.seconds(ContinuousClock.now - began)
                if cache.misses > missesBefore { replay.missSeconds.append(took) } else { replay.hitSeconds.append(took) }
                replay.timeline.append((key, clock.elapsed - start))
            }
        }
        return replay
    }

    struct StaleRun { var reads = 0, stale = 0, writes = 0 }

    /// Reads and writes mixed: every tenth operation changes a book's price through the
    /// write path; every read's answer is compared with the database's current value.
    static func mixed(
        _ keys: [Int], invalidate: Bool, cache: ReadThroughCache<Int, BookSummary?>, clock: LabClock,
        dbQueue: DatabaseQueue, cost: Int
    ) throws -> StaleRun {
        var run = StaleRun()
        for (i, key) in keys.enumerated() {
            clock.advance(by: .milliseconds(100))
            if i % 10 == 9 {
                try dbQueue.write { db in
                    try db.execute(sql: "UPDATE book SET price = price + 1 WHERE id = ?", arguments: [key])
                }
                if invalidate { cache.invalidate(key) }
                run.writes += 1
            } else {
                let cached = try cache.get(key) { id in try dbQueue.read { try slowLoad($0, id: id, cost: cost) } }
                let fresh = try dbQueue.read { try slowLoad($0, id: key, cost: 1) }
                run.reads += 1
                if cached != fresh { run.stale += 1 }
            }
        }
        return run
    }

    func run(_ lab: LabContext) async throws {
        let keys = lab[Self.keys]
        let capacity = lab[Self.capacity]
        let ttl = Duration.seconds(rounding: lab[Self.ttl])
        let skew = lab[Self.skew]
        let requests = lab[Self.requests]
        let cost = lab[Self.cost]
        let fault = lab[Self.fault]
        let invalidate = lab[Self.invalidate] && fault != .skipInvalidation
        // Expiry is only reproducible on a manual clock; use the lab's when it is one.
        let clock = lab.clock.isManual ? lab.clock : LabClock.manual()
        let tick = Duration.milliseconds(100)  // between requests: 10 reads a second

        let log = StatementLog()
        let dbQueue = try SQLiteLab.open(in: lab.scratch, name: "cache.sqlite", log: log)
        lab.engine("SQLite \(try SQLiteLab.version(dbQueue))")
        try await dbQueue.write { try Self.createSchema($0, keys: keys) }
        if fault != .none { lab.step("The cache is broken on purpose (break=\(fault.rawValue))", "broken on purpose: \(fault.effect)") }

        // 1. Hit ratio under a skewed workload.
        var rng = SQLiteLab.Random(seed: 1234)
        let zipf = Zipf(keys: keys, skew: skew)
        let workload = (0..<requests).map { _ in zipf.draw(using: &rng) }
        let cache = ReadThroughCache<Int, BookSummary?>(capacity: capacity, ttl: ttl, clock: clock, fault: fault)
        log.reset()
        let replay = try Self.replay(workload, cache: cache, clock: clock, tick: tick, dbQueue: dbQueue, cost: cost)
        let slowQueries = log.all.filter(Self.isSlowQuery).count
        let model = Self.simulate(requests: replay.timeline, capacity: capacity, ttl: ttl)
        let distinct = Set(workload).count
        lab.step(
            "Replayed \(requests) reads of \(keys) books (Zipf skew \(skew), \(distinct) distinct) through a \(capacity)-entry cache, TTL \(lab[Self.ttl]) s",
            "\(cache.hits) hits, \(cache.misses) misses (\(cache.expirations) of them expired entries), \(cache.evicted.count) evictions; the database ran the slow query \(slowQueries) times."
        )
        lab.figure("hit ratio", Double(cache.hits) / Double(max(requests, 1)), "ratio")
        lab.figure("hit ratio, simulated", Double(model.hits) / Double(max(requests, 1)), "ratio")
        lab.figure("slow queries run", Double(slowQueries), "queries")
        let mean = { (xs: [Double]) in xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) * 1e6 }
        lab.figure("mean read time, hit", mean(replay.hitSeconds), "µs")
        lab.figure("mean read time, miss (slow query)", mean(replay.missSeconds), "µs")
        lab.figure("mean read time through the cache", mean(replay.hitSeconds + replay.missSeconds), "µs")
        lab.expect(Self.agreesWithSimulation, cache.hits, equals: model.hits)
        lab.expect(Self.missRunsQuery, slowQueries, equals: cache.misses)
        let firstDifference = zip(cache.evicted, model.evicted).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        lab.check(
            Self.evictionOrder, cache.evicted == model.evicted,
            expected: "\(model.evicted.count) evictions, first \(model.evicted.prefix(5))",
            observed: cache.evicted == model.evicted
                ? "the same \(cache.evicted.count) in the same order"
                : "\(cache.evicted.count) evictions, first difference at #\(firstDifference ?? min(cache.evicted.count, model.evicted.count))")

        // 2. Eviction order, step by step.
        let small = ReadThroughCache<Int, BookSummary?>(capacity: 3, ttl: ttl, clock: clock, fault: fault)
        _ = try Self.replay([1, 2, 3, 1, 4, 3, 5], cache: small, clock: clock, tick: .zero, dbQueue: dbQueue, cost: 1)
        lab.step(
            "A 3-entry cache reads 1, 2, 3, 1, 4, 3, 5",
            "Evicted \(small.evicted); left, newest first: \(small.keysByRecency). FIFO would have evicted 1 then 2.")
        lab.expect(Self.leastRecentlyUsed, small.evicted, equals: [2, 1])

        // 3. TTL expiry forces a reload.
        let fresh = ReadThroughCache<Int, BookSummary?>(capacity: capacity, ttl: ttl, clock: clock, fault: fault)
        func loads(_ key: Int) throws -> Int {
            log.reset()
            _ = try dbQueue.read { db in try fresh.get(key) { try Self.slowLoad(db, id: $0, cost: 1) } }
            return log.all.filter(Self.isSlowQuery).count
        }
        let first = try loads(1)
        clock.advance(by: ttl / 2)
        let beforeExpiry = try loads(1)
        clock.advance(by: ttl / 2)
        let afterExpiry = try loads(1)
        lab.step("Read book 1, then again after ttl/2 and after ttl", "Slow queries: \(first), \(beforeExpiry), \(afterExpiry).")
        lab.expect(
            Self.expiry,
            [first, beforeExpiry, afterExpiry], equals: [1, 0, 1])

        // 4. Writes: invalidate, or read stale data.
        let mixedKeys = (0..<min(max(requests / 2, 20), 2000)).map { _ in zipf.draw(using: &rng) }
        let unsafeCache = ReadThroughCache<Int, BookSummary?>(capacity: capacity, ttl: ttl, clock: clock, fault: fault)
        let without = try Self.mixed(mixedKeys, invalidate: false, cache: unsafeCache, clock: clock, dbQueue: dbQueue, cost: 1)
        let safeCache = ReadThroughCache<Int, BookSummary?>(capacity: capacity, ttl: ttl, clock: clock, fault: fault)
        let with = try Self.mixed(mixedKeys, invalidate: invalidate, cache: safeCache, clock: clock, dbQueue: dbQueue, cost: 1)
        lab.step(
            "Mixed \(with.reads) reads with \(with.writes) price updates, each read compared with the database",
            "Without invalidation \(without.stale) reads were stale (served until their TTL ran out); with invalidation\(invalidate ? "" : fault == .skipInvalidation ? " (skipped: break=skip-invalidation)" : " (switched off by invalidate=false)") \(with.stale)."
        )
        lab.figure("stale reads without invalidation", Double(without.stale), "reads")
        // The contrast's bad side, asserted on its own: a cached book, its price changed
        // underneath without invalidation, read again at once (no time passes, so no TTL
        // can rescue it): the cache must answer the old price.
        let probe = ReadThroughCache<Int, BookSummary?>(capacity: capacity, ttl: ttl, clock: clock, fault: fault)
        let cachedBefore = try probe.get(1) { id in try dbQueue.read { try Self.slowLoad($0, id: id, cost: 1) } }
        try await dbQueue.write { try $0.execute(sql: "UPDATE book SET price = price + 1 WHERE id = 1") }
        let cachedAfter = try probe.get(1) { id in try dbQueue.read { try Self.slowLoad($0, id: id, cost: 1) } }
        let inDatabase = try await dbQueue.read { try Self.slowLoad($0, id: 1, cost: 1) }
        lab.check(
            Self.staleWithout, cachedAfter == cachedBefore && cachedAfter != inDatabase,
            expected: "the cache still answers price \(cachedBefore?.price ?? 0) after the database moved to \(inDatabase?.price ?? 0)",
            observed: cachedAfter == cachedBefore
                ? "the cache answered \(cachedAfter?.price ?? 0): stale, as expected"
                : "the cache answered \(cachedAfter?.price ?? 0), fresh (something reloaded it)")
        if without.stale == 0 {
            lab.step(
                "Not observed in the mixed workload: no stale read without invalidation",
                "With TTL \(lab[Self.ttl]) s and reads 0.1 s apart, every written book had expired or been evicted before it was read again.")
        }
        lab.figure("stale reads with invalidation on write", Double(with.stale), "reads")
        lab.expect(Self.freshWith, with.stale, equals: 0)
    }
}
