// Sessions and query results kept in Redis.
//
// A session is a random token the client sends back (here `Authorization: Bearer …`)
// naming a Redis key, `session:<token>`, that holds who is logged in. Redis enforces its
// lifetime: the key is written with a TTL and simply disappears, so every instance of the
// service agrees the session is over. Logging out deletes the key.
//
// A query's result can be cached the same way (`query:books:author=3`). The hard part is
// invalidation: a write that changes what a cached query would return must delete that
// entry, or readers see the old answer until the TTL runs out. The service remembers
// every cached books query in a Redis set and a write deletes them all in one atomic Lua
// script (EVAL), so no reader can slip in between.
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import LabCatalog
import LabKit
import Synchronization

struct RedisSessionsLab: Lab {
    enum Fault: String, CaseIterable, Sendable {
        case none
        case globalSession = "global-session"
        case noExpiry = "no-expiry"
        case logoutKeepsSession = "logout-keeps-session"
        case noQueryCache = "no-query-cache"
        case noInvalidation = "no-invalidation"

        var effect: String {
            switch self {
            case .none: "nothing broken"
            case .globalSession: "the service answers with the last user who logged in, kept in a global variable"
            case .noExpiry: "sessions are stored without a TTL"
            case .logoutKeepsSession: "logout answers 204 but leaves the session in Redis"
            case .noQueryCache: "the books query is never cached"
            case .noInvalidation: "a new book does not invalidate the cached queries"
            }
        }
    }

    static let sessionTTL = Knob.int(
        "session-ttl-ms", 100...600_000, default: 1500, quick: 400,
        help: "Milliseconds a session lives in Redis.")
    static let queryTTL = Knob.int("query-ttl-s", 1...86400, default: 300, help: "Seconds a cached query result lives.")
    static let fault = Knob<Fault>.choice(
        "break", default: .none,
        help: "Breaks the service so one check fails: " + Fault.allCases.dropFirst().map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + ".")

    static let info = LabInfo(
        id: "redis-sessions", title: "Sessions and cached queries in Redis", phase: 7,
        teaches:
            "Sessions as Redis keys with a TTL (expiry enforced by the server, logout deletes), and query results cached in Redis and invalidated by writes in one atomic Lua script.",
        parameters: [sessionTTL.parameter, queryTTL.parameter, fault.parameter],
        needs: [.redis],
        source: "Sources/Labs/Cache/Phase07/RedisSessions.swift")

    static let cacheHeader = HTTPField.Name("X-Cache")!

    /// Deletes every key listed in the set KEYS[1], then the set: atomically.
    static let invalidateScript = """
        local keys = redis.call('SMEMBERS', KEYS[1])
        for _, k in ipairs(keys) do redis.call('DEL', k) end
        redis.call('DEL', KEYS[1])
        return #keys
        """

    struct Login: Codable { var user: String }
    struct NewBook: Codable { var title: String; var authorID: Int }

    /// The global-session breaker's global: the last user who logged in.
    final class LastUser: Sendable { let name = Mutex<String?>(nil) }

    static func token(_ request: Request) -> String? {
        guard let h = request.headers[.authorization], h.hasPrefix("Bearer ") else { return nil }
        return String(h.dropFirst("Bearer ".count))
    }

    static func router(
        dbQueue: DatabaseQueue, redis: RedisClient, sessionTTL: TTLSetting, queryTTL: Duration,
        fault: Fault
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let lastUser = LastUser()
        router.post("/login") { request, context in
            let login = try await request.decode(as: Login.self, context: context)
            var rng = SystemRandomNumberGenerator()
            let token = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
            try await redis.set("session:\(token)", login.user, ttl: fault == .noExpiry ? nil : sessionTTL.current)
            lastUser.name.withLock { $0 = login.user }
            return jsonResponse(try encodeJSON(["token": token]), status: .created)
        }
        router.get("/me") { request, _ in
            guard let token = token(request), let user = try await redis.get("session:\(token)") else {
                return jsonResponse(Array(#"{"error":"not logged in"}"#.utf8), status: .unauthorized)
            }
            let shown = fault == .globalSession ? (lastUser.name.withLock { $0 } ?? user) : user
            return jsonResponse(try encodeJSON(["user": shown]))
        }
        router.post("/logout") { request, _ in
            if let token = token(request), fault != .logoutKeepsSession { try await redis.del("session:\(token)") }
            return Response(status: .noContent)
        }
        router.get("/books") { request, _ in
            let author = request.uri.queryParameters.get("author", as: Int.self) ?? 0
            let key = "query:books:author=\(author)"
            if fault != .noQueryCache, let cached = try await redis.get(key) {
                return jsonResponse(Array(cached.utf8), headers: [cacheHeader: "hit"])
            }
            let rows = try await dbQueue.read { db in
                try Row.fetchAll(db, sql: "SELECT id, title, year, author_id FROM book WHERE author_id = ? ORDER BY id", arguments: [author])
                    .map { ShelfBook(id: $0[0], title: $0[1], year: $0[2], authorID: $0[3]) }
            }
            let json = try encodeJSON(rows)
            if fault != .noQueryCache {
                _ = try await redis.pipeline([
                    ["SET", key, String(decoding: json, as: UTF8.self), "PX", String(queryTTL.components.seconds * 1000)],
                    ["SADD", "query-keys:books", key],
                ])
            }
            return jsonResponse(json, headers: [cacheHeader: "miss"])
        }
        router.post("/books") { request, context in
            let input = try await request.decode(as: NewBook.self, context: context)
            let id = try await dbQueue.write { db -> Int64 in
                try db.execute(sql: "INSERT INTO book (title, year, author_id) VALUES (?, 2025, ?)", arguments: [input.title, input.authorID])
                return db.lastInsertedRowID
            }
            if fault != .noInvalidation { _ = try await redis.eval(invalidateScript, keys: ["query-keys:books"]) }
            return jsonResponse(try encodeJSON(["id": Int(id)]), status: .created)
        }
        return router
    }

    func run(_ lab: LabContext) async throws {
        let fault = lab[Self.fault]
        let sessionTTL = Duration.milliseconds(lab[Self.sessionTTL])
        // Sessions of the other parts live long enough that none expires on a slow machine;
        // the expiry part logs in with the TTL under study.
        let ttlSetting = TTLSetting(.seconds(600))
        let (redis, client) = try await lab.startRedis()
        let log = StatementLog()
        let dbQueue = try SQLiteLab.open(in: lab.scratch, name: "shelf.sqlite", log: log)
        try await dbQueue.write { try Shelf.create($0, books: 60, authors: 6) }
        let service = try await LabService.start(
            lab,
            router: Self.router(
                dbQueue: dbQueue, redis: try await redis.connect(), sessionTTL: ttlSetting,
                queryTTL: .seconds(lab[Self.queryTTL]), fault: fault), name: "sessions")
        let http = LoopbackHTTP.open(for: lab, baseURL: service.baseURL)
        lab.step(
            "Started a service at \(service.baseURL): POST /login, GET /me, POST /logout; GET /books?author= cached in Redis, POST /books",
            fault == .none ? nil : "broken on purpose: \(fault.effect)")

        func login(_ user: String) async throws -> String {
            let reply = try await http.send("POST", "/login", json: .object(["user": .string(user)]))
            guard reply.status == 201, let token = reply.json?["token"]?.string else { throw LabError("POST /login answered \(reply.summary())") }
            return token
        }
        func me(_ token: String) async throws -> (Int, String?) {
            let reply = try await http.get("/me", headers: [("Authorization", "Bearer \(token)")])
            return (reply.status, reply.json?["user"]?.string)
        }

        // 1. Sessions identify their user; a made-up token is refused.
        let alice = try await login("alice")
        let bob = try await login("bob")
        let asAlice = try await me(alice), asBob = try await me(bob), forged = try await me(String(repeating: "0", count: 32))
        lab.step(
            "Logged in alice and bob, then asked GET /me with each token and with a made-up one",
            "alice's token: \(asAlice.0) \(asAlice.1 ?? "-"); bob's: \(asBob.0) \(asBob.1 ?? "-"); made-up: \(forged.0)")
        lab.check(
            "each session token identifies its own user; a made-up token gets 401",
            asAlice == (200, "alice") && asBob == (200, "bob") && forged.0 == 401,
            expected: "200 alice, 200 bob, 401",
            observed: "\(asAlice.0) \(asAlice.1 ?? "-"), \(asBob.0) \(asBob.1 ?? "-"), \(forged.0)")

        // 2. Expiry, enforced by Redis. "At once" must come before the TTL runs out: when a
        // loaded machine takes longer than the TTL from login to the first GET /me, that try
        // proves nothing, and the lab tries again with the TTL doubled (up to four times).
        var ttl = sessionTTL, tries = 0
        var carol = "", pttl = 0, early = 0
        repeat {
            tries += 1
            ttlSetting.set(ttl)
            let loggedIn = ContinuousClock.now
            carol = try await login("carol")
            ttlSetting.set(.seconds(600))
            pttl = try await client.pttl("session:\(carol)")
            early = try await me(carol).0
            if early == 200 || ContinuousClock.now - loggedIn < ttl || tries == 4 { break }
            ttl *= 2
        } while true
        lab.figure("session PTTL just after login", Double(pttl), "ms")
        try await Task.sleep(for: ttl + .milliseconds(150))
        let late = try await me(carol).0
        let keyLeft = try await client.exists("session:\(carol)")
        let ttlMS = Int(Measure.seconds(ttl) * 1000)
        lab.step(
            "Logged in carol (session TTL \(ttlMS) ms) and asked GET /me at once and after the TTL",
            (tries > 1
                ? "The first GET /me of \(tries - 1) earlier tr\(tries == 2 ? "y" : "ies") came after the TTL had run out on this machine, so the TTL was doubled. "
                : "")
                + "PTTL \(pttl) ms; at once \(early); after \(ttlMS + 150) ms \(late), and the key \(keyLeft ? "was still in Redis" : "was gone from Redis")."
        )
        lab.check(
            "a session expires after its TTL: 200 before, 401 after, the key gone from Redis",
            early == 200 && late == 401 && !keyLeft,
            expected: "200, then 401, no key", observed: "\(early), then \(late), key \(keyLeft ? "present (PTTL \(pttl))" : "gone")")

        // 3. Logout (a fresh session: the earlier ones may have expired by now).
        let dave = try await login("dave")
        let before = try await me(dave).0
        _ = try await http.request("POST", "/logout", headers: [("Authorization", "Bearer \(dave)")])
        let after = try await me(dave).0
        lab.step("dave logged in and out", "GET /me with his token: \(before) before, \(after) after.")
        lab.check(
            "logout ends the session at once (401 with the old token)", before == 200 && after == 401,
            expected: "200 before, 401 after", observed: "\(before) before, \(after) after")

        // 4. A repeated query comes from Redis.
        try await client.resetStats()
        log.reset()
        let (firstRead, missSeconds) = try await Measure.time { try await http.get("/books?author=3") }
        let firstQueries = log.queries.count
        log.reset()
        let (secondRead, hitSeconds) = try await Measure.time { try await http.get("/books?author=3") }
        lab.figure("query, from SQLite (miss)", missSeconds * 1e3, "ms")
        lab.figure("query, from Redis (hit)", hitSeconds * 1e3, "ms")
        let secondQueries = log.queries.count
        let stats = try await client.info("stats")
        lab.step(
            "GET /books?author=3 twice",
            "First: \(firstRead.header("X-Cache") ?? "?"), \(firstQueries) SQLite queries; second: \(secondRead.header("X-Cache") ?? "?"), \(secondQueries) queries. Redis: \(stats.keyspaceHits) hits, \(stats.keyspaceMisses) misses."
        )
        lab.check(
            "the repeated query is answered from Redis: no database query the second time, one keyspace hit",
            firstQueries == 1 && secondQueries == 0 && stats.keyspaceHits == 1 && firstRead.body == secondRead.body,
            expected: "1 query then 0, 1 hit, the same body",
            observed:
                "\(firstQueries) then \(secondQueries), \(stats.keyspaceHits) hit(s), \(firstRead.body == secondRead.body ? "same body" : "different bodies")")

        // 5. A write invalidates it.
        let countBefore = firstRead.json?.array?.count ?? -1
        let created = try await http.send("POST", "/books", json: .object(["title": .string("Fresh Book"), "authorID": .int(3)]))
        let afterWrite = try await http.get("/books?author=3")
        let countAfter = afterWrite.json?.array?.count ?? -1
        let cachedKeys: [String] = {
            if case let .array(items?) = $0 { return items.compactMap(\.string) } else { return [] }
        }(try await client.command("KEYS", "query:*"))
        lab.step(
            "POST /books added a book by author 3 (\(created.status)); GET /books?author=3 again",
            "\(countBefore) books before, \(countAfter) after (\(afterWrite.header("X-Cache") ?? "?")); cached queries left after the write's EVAL: \(cachedKeys)"
        )
        lab.check(
            "a write invalidates the cached query: the next read includes the new book",
            created.status == 201 && countAfter == countBefore + 1 && afterWrite.text.contains("Fresh Book"),
            expected: "\(countBefore + 1) books, the new one among them",
            observed: "\(countAfter) books, \(afterWrite.text.contains("Fresh Book") ? "the new one among them" : "the new one missing (stale cache)")")
    }
}
