// Three HTTP settings that cost nothing in code and matter in production.
//
// gzip: JSON is repetitive text, so a client that says `Accept-Encoding: gzip` can get it
// several times smaller (`Content-Encoding: gzip`) and inflate it back to the very same
// bytes. Keep-alive: HTTP/1.1 keeps a connection open for the next request, which saves a
// TCP handshake and the connection's set-up each time; `Connection: close` turns that off.
// A connection pool: a client that sends many requests at once reuses a bounded set of
// open connections instead of opening one per request. Every request goes through a relay
// that counts the TCP connections it accepts (each one a connection the server would have
// accepted), so reuse is observed on the wire, for the lab's own service and for yours.
//
// Your own bookshelf (exercise mode, `--url` or `--against`): the lab adds 100 books
// through the API, then asks GET /books?limit=100 with and without gzip and GET /health
// for keep-alive and the pool (docs/bookshelf.md "Phase 7").
import CZlib
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import LabCatalog
import LabKit

struct HTTPTuningLab: Lab {
    enum Fault: String, CaseIterable, Sendable {
        case none
        case noGzip = "no-gzip"
        case gzipTruncated = "gzip-truncated"
        case serverCloses = "server-closes"
        case noPool = "no-pool"

        var effect: String {
            switch self {
            case .none: "nothing broken"
            case .noGzip: "the server ignores Accept-Encoding"
            case .gzipTruncated: "the server compresses only the first 16 KiB of the body"
            case .serverCloses: "GET /health answers with Connection: close"
            case .noPool: "the pooled client sends Connection: close, opening a connection per request"
            }
        }
    }

    static let books = Knob.int(
        "books", 10...100_000, default: 2000, quick: 1000, help: "Books in the reference's JSON listing that is compressed (your server is sent 100).")
    static let requests = Knob.int("requests", 5...10_000, default: 200, quick: 60, help: "Sequential requests with and without keep-alive.")
    static let poolSize = Knob.int("pool-size", 1...64, default: 4, help: "Connections the pooled client may open.")
    static let concurrency = Knob.int("concurrency", 1...256, default: 16, help: "Requests in flight at once in the pool experiment.")
    static let fault = Knob<Fault>.choice(
        "break", default: .none,
        help: "Breaks the experiment so a check fails: " + Fault.allCases.dropFirst().map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + ".")

    static let info = LabInfo(
        id: "http-tuning", title: "gzip, keep-alive and a connection pool, on and off", phase: 7,
        teaches:
            "gzip shrinks JSON by a printed ratio and inflates to the same bytes; keep-alive serves many requests on one connection (counted by the server) and faster; a pool bounds the connections concurrent requests open.",
        parameters: [books.parameter, requests.parameter, poolSize.parameter, concurrency.parameter, fault.parameter],
        needs: [], subjects: [.url, .against],
        source: "Sources/Labs/Cache/Phase07/HTTPTuning.swift")

    static func router(listing: [UInt8], fault: Fault) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let closing: HTTPFields = fault == .serverCloses ? [.connection: "close"] : [:]
        router.get("/books") { request, _ in
            let accepts = (request.headers[.acceptEncoding] ?? "").split(separator: ",")
                .contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("gzip") }
            guard accepts, fault != .noGzip else { return jsonResponse(listing) }
            let compressed = try Gzip.compress(fault == .gzipTruncated ? Array(listing.prefix(16_384)) : listing)
            return jsonResponse(compressed, headers: [.contentEncoding: "gzip", .vary: "Accept-Encoding"])
        }
        router.get("/health") { _, _ in jsonResponse(Array(#"{"status":"ok"}"#.utf8), headers: closing) }
        // The pool experiment's endpoint (the server-closes breaker leaves it alone).
        router.get("/status") { _, _ in jsonResponse(Array(#"{"ok":true}"#.utf8)) }
        return router
    }

    /// A client of its own, with its own pool, talking to the relay on 127.0.0.1.
    static func client(poolSize: Int, port: Int) throws -> HTTP1Pool {
        try HTTP1Pool(host: "127.0.0.1", port: port, maxConnections: poolSize, idleTimeout: .seconds(10))
    }

    static func get(_ client: HTTP1Pool, _ path: String, headers: [(String, String)] = []) async throws -> HTTPReply {
        try await client.execute("GET", path, headers: headers, timeout: .seconds(30), maxBody: 64 << 20)
    }

    /// The starter folder: the task, how to run, and what each check asserts.
    static func starter() -> [StarterFile] {
        let readme = """
            # \(info.title)

            Make your bookshelf (docs/bookshelf.md) cheap to talk to:
            - answer `GET /books` gzip-encoded (`Content-Encoding: gzip`, `Vary: Accept-Encoding`)
              when the request says `Accept-Encoding: gzip`, and plain otherwise;
            - keep HTTP/1.1 connections open between requests (no `Connection: close`);
            - serve many concurrent requests on a few kept-alive connections.

            ## Run the checks
                curriculum lab run \(info.id) --against './run.sh'
                curriculum lab run \(info.id) --url http://127.0.0.1:8080

            The lab adds 100 books through `POST /authors` and `POST /books`, then sends its
            requests through a relay on 127.0.0.1 that counts the TCP connections your server
            is given. Without `--url`/`--against` it judges its own service (\(info.source)).

            ## What the checks assert
            - GET /books?limit=100 with `Accept-Encoding: gzip` comes back `Content-Encoding: gzip` and at least 3× smaller;
            - it inflates to exactly the bytes of the plain answer;
            - `requests` sequential GET /health on a kept-alive client use one connection, and one each with `Connection: close`;
            - `requests` GET /health, `concurrency` at a time, through a client pooling `pool-size` connections, are all answered on at most `pool-size` connections.

            """
        return [StarterFile("README.md", readme)]
    }

    func run(_ lab: LabContext) async throws {
        let fault = lab[Self.fault], n = lab[Self.requests], poolSize = lab[Self.poolSize], concurrency = lab[Self.concurrency]
        let listing = try encodeJSON(
            (1...lab[Self.books]).map {
                ListedBook(
                    id: $0, title: "Book \($0): a study of \(["caching", "latency", "queues", "indexes"][$0 % 4])", year: 1900 + $0 % 120,
                    author: "Author \($0 % 97)")
            })
        let subject = try await lab.startService(probePath: "/health") { _ in
            let service = try await LabService.start(lab, router: Self.router(listing: listing, fault: fault), name: "tuning")
            return RunningReference(port: service.port, stop: {})
        }
        if subject.isReference {
            lab.step(
                "Started a service at \(subject.baseURL): GET /books (\(listing.count) bytes of JSON), GET /health",
                fault == .none ? nil : "broken on purpose: \(fault.effect)")
        } else {
            // The learner's bookshelf gets 100 books, so its listing has something to compress.
            let http = LoopbackHTTP.open(for: lab, baseURL: subject.baseURL, timeout: .seconds(10))
            _ = try await seedBookshelf(lab, http, authors: 1, books: 100)
        }
        let relay = try CountingRelay.start(lab, to: subject.baseURL)
        // The pool's endpoint: on the reference one the server-closes breaker leaves alone.
        let statusPath = subject.isReference ? "/status" : "/health"
        lab.step("Every request goes through a relay at \(relay.baseURL) that counts the connections it is given")
        // A fresh client (and pool) per experiment, so no idle connection carries over.
        func withClient<T>(_ body: (HTTP1Pool) async throws -> T) async throws -> T {
            let client = try Self.client(poolSize: poolSize, port: relay.port)
            do {
                let value = try await body(client)
                await client.shutdown()
                return value
            } catch {
                await client.shutdown()
                throw error
            }
        }

        // 1 and 2. gzip.
        let plainReply = try await withClient { try await Self.get($0, "/books?limit=100") }
        let gzReply = try await withClient { try await Self.get($0, "/books?limit=100", headers: [("Accept-Encoding", "gzip")]) }
        let plain = plainReply.body, gz = gzReply.body
        let encoding = gzReply.header("Content-Encoding") ?? "identity"
        let ratio = Double(plain.count) / Double(max(gz.count, 1))
        lab.step(
            "GET /books?limit=100 without and with Accept-Encoding: gzip",
            "\(plain.count) bytes (\(plainReply.header("Content-Encoding") ?? "identity")) and \(gz.count) bytes (Content-Encoding: \(encoding)): "
                + String(format: "%.1f× smaller", ratio))
        lab.figure("gzip ratio", ratio, "×")
        lab.check(
            "with Accept-Encoding: gzip the JSON comes gzip-encoded and at least 3× smaller",
            encoding == "gzip" && ratio >= 3, expected: "Content-Encoding: gzip, ratio ≥ 3",
            observed: "Content-Encoding: \(encoding), " + String(format: "ratio %.2f", ratio))
        let decoded: [UInt8]
        var decodeNote = ""
        if encoding == "gzip" {
            do { decoded = try Gzip.decompress(gz) } catch { decoded = []; decodeNote = " (\(error))" }
        } else {
            decoded = gz
        }
        lab.check(
            "what the client decodes is byte for byte the uncompressed JSON", decoded == plain,
            expected: "\(plain.count) identical bytes",
            observed: decoded == plain ? "\(decoded.count) identical bytes" : "\(decoded.count) bytes, different\(decodeNote)")

        // 3 and 4. Keep-alive: sequential requests, connections counted by the server.
        func sequential(close: Bool) async throws -> (connections: Int, latencies: [Double]) {
            // Let the previous experiment's connections go first.
            try await Task.sleep(for: .milliseconds(50))
            relay.reset()
            let latencies = try await withClient { client in
                var latencies: [Double] = []
                for _ in 0..<n {
                    let (reply, seconds) = try await Measure.time {
                        try await Self.get(client, "/health", headers: close ? [("Connection", "close")] : [])
                    }
                    guard reply.status == 200 else { throw LabError("GET /health answered \(reply.status)") }
                    latencies.append(seconds)
                }
                return latencies
            }
            return (relay.connections, latencies)
        }
        // Alternate halves, so load on the machine falls on both sides alike.
        let k1 = try await sequential(close: false), c1 = try await sequential(close: true)
        let k2 = try await sequential(close: false), c2 = try await sequential(close: true)
        // Timing: the two clients side by side, request by request in turn, so the machine's
        // load falls on both alike.
        let (keepTimes, closeTimes) = try await withClient { keep in
            try await withClient { fresh in
                var k: [Double] = [], c: [Double] = []
                for _ in 0..<n {
                    k.append(try await Measure.time { try await Self.get(keep, "/health") }.1)
                    c.append(try await Measure.time { try await Self.get(fresh, "/health", headers: [("Connection", "close")]) }.1)
                }
                return (k, c)
            }
        }
        let keepAlive = median(keepTimes), closed = median(closeTimes)
        lab.step(
            "\(n) sequential GET /health with keep-alive, and \(n) with Connection: close (twice each, alternating)",
            "The server accepted \(k1.connections) and \(k2.connections) connections with keep-alive, \(c1.connections) and \(c2.connections) without.")
        lab.figure("median request, keep-alive", keepAlive * 1e3, "ms")
        lab.figure("median request, new connection each", closed * 1e3, "ms")
        lab.check(
            "keep-alive serves every request on one connection; without it, one connection per request (counted on the wire)",
            [k1.connections, k2.connections] == [1, 1] && [c1.connections, c2.connections] == [n, n],
            expected: "1 connection with keep-alive, \(n) without",
            observed: "\(k1.connections) and \(k2.connections) with keep-alive, \(c1.connections) and \(c2.connections) without")
        let speedup = closed / max(keepAlive, 1e-9)
        // A figure, not a check: on loopback a handshake costs a fraction of a millisecond,
        // and on a loaded machine (a CI run measured 1.17×) scheduling noise can hide it;
        // the connection count above is what keep-alive provably changes.
        lab.figure("keep-alive speed-up (median, new connection each ÷ keep-alive)", speedup, "×")
        if keepAlive >= 0.030 && speedup < 1 {
            lab.step(
                "Kept-alive requests are the slow ones here (median \(String(format: "%.0f", keepAlive * 1e3)) ms)",
                "About 40 ms a request is the signature of Nagle's algorithm meeting delayed ACKs: a server that writes the headers and the body in two small writes on a kept-alive connection waits for the client's ACK before sending the second. Write the response in one go, or set TCP_NODELAY on accepted sockets."
            )
        }

        // 5. A pool: concurrent requests share a bounded set of connections.
        func concurrent(close: Bool) async throws -> (connections: Int, ok: Int, seconds: Double) {
            try await Task.sleep(for: .milliseconds(50))
            relay.reset()
            let total = max(n, concurrency * 4)
            let (ok, seconds) = try await withClient { pooled in
                try await Measure.time {
                    try await withThrowingTaskGroup(of: Int.self) { group in
                        let headers: [(String, String)] = close ? [("Connection", "close")] : []
                        var sent = 0, ok = 0
                        while sent < min(concurrency, total) {
                            group.addTask { try await Self.get(pooled, statusPath, headers: headers).status }
                            sent += 1
                        }
                        while let status = try await group.next() {
                            if status == 200 { ok += 1 }
                            if sent < total {
                                group.addTask { try await Self.get(pooled, statusPath, headers: headers).status }
                                sent += 1
                            }
                        }
                        return ok
                    }
                }
            }
            return (relay.connections, ok, seconds)
        }
        let total = max(n, concurrency * 4)
        let pool = try await concurrent(close: fault == .noPool)
        let noPool = try await concurrent(close: true)
        lab.step(
            "\(total) GET \(statusPath), \(concurrency) at a time, through a client pooling at most \(poolSize) connections, then opening one per request",
            String(
                format: "pooled: %d connections, %d answered, %.0f requests/s; one per request: %d connections, %.0f requests/s",
                pool.connections, pool.ok, Double(total) / pool.seconds, noPool.connections, Double(total) / noPool.seconds))
        lab.figure("throughput, pooled", Double(total) / pool.seconds, "requests/s")
        lab.figure("throughput, a connection per request", Double(total) / noPool.seconds, "requests/s")
        lab.check(
            "the pool answers every request on at most \(poolSize) connections; without it, one per request",
            pool.ok == total && pool.connections >= 1 && pool.connections <= poolSize && noPool.connections == total,
            expected: "\(total) answered on 1…\(poolSize) connections; \(total) connections without",
            observed: "\(pool.ok) answered on \(pool.connections) connections; \(noPool.connections) without")
    }
}
