// Cache-aside in Redis, and Redis pub/sub.
//
// Cache-aside: the service asks the cache first (GET book:7); on a hit it answers from
// there, on a miss it reads the database, stores the answer in the cache with a time to
// live (SET book:7 … PX ttl) and answers. The TTL bounds how long a stale copy can live and
// lets unused entries go. Redis itself counts the lookups (INFO: keyspace_hits and
// keyspace_misses), so the lab judges the cache by the server's numbers, not the service's.
//
// Pub/sub: PUBLISH sends a message to whoever is subscribed to the channel at that moment,
// in the order one connection published them; there is no history, so a subscriber that
// arrives late never sees what was published before, and two publishers are not ordered
// with respect to each other.
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import LabCatalog
import LabKit
import Synchronization

struct RedisPubSubLab: Lab {
    enum Fault: String, CaseIterable, Sendable {
        case none
        case noRead = "no-read"
        case noTTL = "no-ttl"
        case lateSubscriber = "late-subscriber"
        case twoPublishers = "two-publishers"

        var effect: String {
            switch self {
            case .none: "nothing broken"
            case .noRead: "the service writes the cache but never reads it"
            case .noTTL: "entries are stored without a TTL"
            case .lateSubscriber: "the second subscriber subscribes halfway through"
            case .twoPublishers: "odd and even messages go out through two uncoordinated publishers"
            }
        }
    }

    static let reads = Knob.int("reads", 2...1000, default: 20, quick: 5, help: "Reads of each book in the cache-aside run.")
    static let books = Knob.int("books", 1...1000, default: 20, quick: 5, help: "Distinct books read.")
    static let ttlMS = Knob.int("ttl-ms", 50...60000, default: 1000, quick: 500, help: "Milliseconds a cached book lives in Redis.")
    static let messages = Knob.int("messages", 2...1_000_000, default: 5000, quick: 500, help: "Messages published to the two subscribers.")
    static let fault = Knob<Fault>.choice(
        "break", default: .none,
        help: "Breaks the experiment so one check fails: " + Fault.allCases.dropFirst().map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + ".")

    static let info = LabInfo(
        id: "redis-pubsub", title: "Cache-aside in Redis, and pub/sub to two subscribers", phase: 7,
        teaches:
            "Cache-aside on bookshelf reads with hits and misses counted by Redis itself (INFO), a TTL that really expires, and pub/sub: every subscriber present gets every message, in one publisher's order.",
        parameters: [reads.parameter, books.parameter, ttlMS.parameter, messages.parameter, fault.parameter],
        needs: [.redis],
        source: "Sources/Labs/Cache/Phase07/RedisPubSub.swift")

    static let cacheHeader = HTTPField.Name("X-Cache")!

    /// GET /books/:id, cache-aside.
    /// The counting part's TTL: long enough that nothing expires while the counts are taken,
    /// however slow the machine; the TTL itself is the next part's experiment.
    static let countingTTL = Duration.seconds(600)

    static func router(dbQueue: DatabaseQueue, redis: RedisClient, ttl: TTLSetting, fault: Fault) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/books/:id") { _, context in
            let id = try context.parameters.require("id", as: Int.self)
            let key = "book:\(id)"
            if fault != .noRead, let cached = try await redis.get(key) {
                return jsonResponse(Array(cached.utf8), headers: [cacheHeader: "hit"])
            }
            guard let book = try await dbQueue.read({ try Shelf.book($0, id: id) }) else {
                return jsonResponse(Array(#"{"error":"not found"}"#.utf8), status: .notFound)
            }
            let json = try encodeJSON(book)
            try await redis.set(key, String(decoding: json, as: UTF8.self), ttl: fault == .noTTL ? nil : ttl.current)
            return jsonResponse(json, headers: [cacheHeader: "miss"])
        }
        return router
    }

    func run(_ lab: LabContext) async throws {
        let reads = lab[Self.reads], books = lab[Self.books], ttlMS = lab[Self.ttlMS], count = lab[Self.messages]
        let fault = lab[Self.fault]
        let ttl = Duration.milliseconds(ttlMS)

        let (redis, client) = try await lab.startRedis()
        let log = StatementLog()
        let dbQueue = try SQLiteLab.open(in: lab.scratch, name: "shelf.sqlite", log: log)
        try await dbQueue.write { try Shelf.create($0, books: max(books, 10), authors: 5) }
        let ttlSetting = TTLSetting(Self.countingTTL)
        let service = try await LabService.start(
            lab, router: Self.router(dbQueue: dbQueue, redis: try await redis.connect(), ttl: ttlSetting, fault: fault),
            name: "cached-shelf")
        let http = LoopbackHTTP.open(for: lab, baseURL: service.baseURL)
        lab.step(
            "Started a bookshelf service at \(service.baseURL): GET /books/:id reads Redis first, SQLite on a miss",
            fault == .none ? nil : "broken on purpose: \(fault.effect)")

        // 1. Cache-aside, judged by Redis's own counters.
        try await client.resetStats()
        log.reset()
        var hitSeconds: [Double] = [], missSeconds: [Double] = []
        // Counted with a TTL (countingTTL) that nothing outlives by accident on a slow machine.
        for id in 1...books {
            for _ in 0..<reads {
                let (reply, seconds) = try await Measure.time { try await http.get("/books/\(id)") }
                guard reply.status == 200 else { throw LabError("GET /books/\(id) answered \(reply.summary())") }
                if reply.header("X-Cache") == "hit" { hitSeconds.append(seconds) } else { missSeconds.append(seconds) }
            }
        }
        let info = try await client.info("stats")
        let databaseReads = log.queries.count
        lab.step(
            "Read each of \(books) books \(reads) times through the service",
            "Redis counted \(info.keyspaceHits) hits and \(info.keyspaceMisses) misses (INFO stats); SQLite ran \(databaseReads) queries.")
        lab.figure("keyspace hits (INFO)", Double(info.keyspaceHits), "lookups")
        lab.figure("keyspace misses (INFO)", Double(info.keyspaceMisses), "lookups")
        lab.figure("median read, hit", median(hitSeconds) * 1e3, "ms")
        lab.figure("median read, miss", median(missSeconds) * 1e3, "ms")
        let expectedHits = books * (reads - 1)
        lab.check(
            "Redis counted one miss per book and a hit for every other read (INFO); SQLite read each book once",
            info.keyspaceMisses == books && info.keyspaceHits == expectedHits && databaseReads == books,
            expected: "\(books) misses, \(expectedHits) hits, \(books) database reads",
            observed: "\(info.keyspaceMisses) misses, \(info.keyspaceHits) hits, \(databaseReads) database reads")

        // 2. The TTL: the entry expires and the next read reloads it. The book is cached
        // afresh with the TTL under study (`ttl-ms`).
        let key = "book:\(books)"
        ttlSetting.set(ttl)
        _ = try await client.del(key)
        _ = try await http.get("/books/\(books)")
        let pttl = try await client.pttl(key)
        try await Task.sleep(for: ttl + .milliseconds(150))
        let existsAfter = try await client.exists(key)
        log.reset()
        let reread = try await http.get("/books/\(books)")
        let reloaded = log.queries.count
        lab.step(
            "Looked at \(key)'s TTL, waited \(ttlMS + 150) ms and read it again",
            "PTTL was \(pttl) ms; afterwards the key \(existsAfter ? "still existed" : "was gone"); the read was a \(reread.header("X-Cache") ?? "?") and ran \(reloaded) database queries."
        )
        lab.check(
            "the cached entry expires after its TTL and the next read reloads it from the database",
            pttl > 0 && pttl <= ttlMS && !existsAfter && reloaded == 1,
            expected: "0 < PTTL ≤ \(ttlMS) ms, the key gone after the TTL, 1 database read on the next request",
            observed:
                "PTTL \(pttl) ms (\(pttl == -1 ? "no expiry" : pttl == -2 ? "no key" : "set")), key \(existsAfter ? "still there" : "gone"), \(reloaded) database reads"
        )

        // 3 and 4. Pub/sub: two subscribers, every message, in order.
        let channel = "shelf:events"
        let first = try await redis.connect(), second = try await redis.connect()
        try await first.subscribe(channel)
        if fault != .lateSubscriber { try await second.subscribe(channel) }
        let receive: @Sendable (RedisClient) async throws -> [Int] = { subscriber in
            var got: [Int] = []
            while true {
                let m = try await subscriber.nextMessage()
                if m.payload == "end" { return got }
                got.append(Int(m.payload) ?? -1)
            }
        }
        let firstTask = Task { try await receive(first) }
        let publisher = try await redis.connect()
        let other = try await redis.connect()
        let batch = 100
        /// PUBLISHes pipelined, `batch` to a round trip; returns the receivers counted.
        func publish(_ numbers: [Int], on connection: RedisClient) async throws -> [Int] {
            var receivers: [Int] = []
            for start in stride(from: 0, to: numbers.count, by: batch) {
                let replies = try await connection.pipeline(numbers[start..<min(start + batch, numbers.count)].map { ["PUBLISH", channel, String($0)] })
                receivers += replies.map { $0.int ?? 0 }
            }
            return receivers
        }
        let all = Array(1...count)
        var secondTask: Task<[Int], any Error>?
        if fault != .lateSubscriber { secondTask = Task { try await receive(second) } }
        let (receivers, publishSeconds) = try await Measure.time { () async throws -> [Int] in
            switch fault {
            case .twoPublishers:
                // Each publisher keeps its own order; nothing orders the two against each other.
                return try await publish(all.filter { $0 % 2 == 1 }, on: publisher) + publish(all.filter { $0 % 2 == 0 }, on: other)
            case .lateSubscriber:
                let early = try await publish(Array(all.prefix(count / 2)), on: publisher)
                try await second.subscribe(channel)
                secondTask = Task { try await receive(second) }
                return try await early + publish(Array(all.dropFirst(count / 2)), on: publisher)
            default:
                return try await publish(all, on: publisher)
            }
        }
        try await publisher.publish(channel, "end")
        let gotFirst = try await firstTask.value
        let gotSecond = try await secondTask?.value ?? []
        lab.step(
            "Published \(count) numbered messages on \(channel), pipelined \(batch) to a round trip, to two subscribers",
            "PUBLISH reported \(receivers.min() ?? 0)–\(receivers.max() ?? 0) receivers; the subscribers received \(gotFirst.count) and \(gotSecond.count) messages."
        )
        lab.figure("publish rate", Double(count) / max(publishSeconds, 1e-9), "messages/s")
        let complete = [gotFirst, gotSecond].map { Set($0) == Set(all) && $0.count == count }
        lab.check(
            "each of the two subscribers received every message exactly once",
            complete == [true, true],
            expected: "\(count) distinct messages each",
            observed: "first \(gotFirst.count) (\(Set(gotFirst).count) distinct), second \(gotSecond.count) (\(Set(gotSecond).count) distinct)")
        let ordered = [gotFirst, gotSecond].map { $0 == $0.sorted() && !$0.isEmpty }
        let firstDisorder = { (xs: [Int]) in zip(xs, xs.dropFirst()).first { $0 > $1 }.map { "\($0.0) before \($0.1)" } ?? "in order" }
        lab.check(
            "each subscriber received the messages in the order they were published",
            ordered == [true, true],
            expected: "sequence numbers ascending at both subscribers",
            observed: "first: \(firstDisorder(gotFirst)); second: \(firstDisorder(gotSecond))")
    }
}

/// A TTL a lab's service reads on every write and the lab changes between its parts: the
/// counting parts run with a TTL nothing outlives by accident on a slow machine, and the
/// expiry experiment with the TTL under study.
final class TTLSetting: Sendable {
    private let value: Mutex<Duration>
    init(_ d: Duration) { value = Mutex(d) }
    var current: Duration { value.withLock { $0 } }
    func set(_ d: Duration) { value.withLock { $0 = d } }
}
