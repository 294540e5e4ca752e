import Foundation
import LabKit
import Testing

/// The kit's HTTP/1.1 client against a Python server that counts the connections it
/// accepts: connections are reused, bounded, dropped when either side says close, and
/// every way of not getting an answer ends the request in time.
@Suite(.serialized) struct HTTP1PoolTests {
    /// GET /count: connections accepted so far; /slow: answers after 100 ms; /hang: never
    /// answers; /close: answers with Connection: close; /big: 3 MiB; anything else: "ok".
    static let server = """
        import os, threading, time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        lock = threading.Lock(); accepted = [0]
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def setup(self):
                with lock: accepted[0] += 1
                super().setup()
            def log_message(self, *args): pass
            def answer(self, body, close=False):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                if close: self.send_header("Connection", "close")
                self.end_headers(); self.wfile.write(body)
            def do_GET(self):
                if self.path == "/count": return self.answer(str(accepted[0]).encode())
                if self.path == "/slow": time.sleep(0.1)
                if self.path == "/hang": time.sleep(30)
                if self.path == "/big": return self.answer(b"x" * (3 << 20))
                self.answer(b"ok", close=self.path == "/close")
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                self.answer(self.rfile.read(n))
        ThreadingHTTPServer.daemon_threads = True
        ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
        """

    static func withServer(_ body: (Int) async throws -> Void) async throws {
        let port = try HTTPLabsTests.freePort()
        var environment = ProcessInfo.processInfo.environment
        environment["PORT"] = String(port)
        let pid = try Subprocess.spawn("/usr/bin/python3", ["-c", server], environment: environment)
        defer { HTTPLabsTests.stop(pid) }
        let probe = try HTTP1Pool(host: "127.0.0.1", port: port)
        var up = false
        for _ in 0..<100 where !up {
            up = (try? await probe.execute("GET", "/health", timeout: .seconds(1)))?.status == 200
            if !up { try await Task.sleep(for: .milliseconds(50)) }
        }
        await probe.shutdown()
        guard up else { throw LabError("the counting server did not start") }
        try await body(port)
    }

    /// Connections the server has accepted, asked on a connection of its own.
    static func accepted(_ port: Int) async throws -> Int {
        let pool = try HTTP1Pool(host: "127.0.0.1", port: port)
        defer { Task { await pool.shutdown() } }
        return Int(try await pool.execute("GET", "/count").text) ?? -1
    }

    @Test func sequentialRequestsShareOneConnection() async throws {
        try await Self.withServer { port in
            let before = try await Self.accepted(port)
            let pool = try HTTP1Pool(host: "127.0.0.1", port: port)
            for _ in 0..<20 { #expect(try await pool.execute("GET", "/x").text == "ok") }
            let echoed = try await pool.execute("POST", "/echo", body: Array("{\"a\":1}".utf8))
            await pool.shutdown()
            #expect(echoed.text == "{\"a\":1}")
            // 21 requests on one connection, plus the counting request's own.
            #expect(try await Self.accepted(port) - before == 2)
        }
    }

    @Test func concurrentRequestsStayWithinTheLimit() async throws {
        try await Self.withServer { port in
            let before = try await Self.accepted(port)
            let pool = try HTTP1Pool(host: "127.0.0.1", port: port, maxConnections: 3)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<12 { group.addTask { try await pool.execute("GET", "/slow").status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            await pool.shutdown()
            #expect(statuses == Array(repeating: 200, count: 12))
            // Twelve 100 ms requests, three at a time: exactly three connections (plus the count's).
            #expect(try await Self.accepted(port) - before == 4)
        }
    }

    @Test func connectionCloseFromEitherSideIsHonoured() async throws {
        try await Self.withServer { port in
            let before = try await Self.accepted(port)
            let pool = try HTTP1Pool(host: "127.0.0.1", port: port)
            for _ in 0..<3 { _ = try await pool.execute("GET", "/close") }
            for _ in 0..<3 { _ = try await pool.execute("GET", "/x", headers: [("Connection", "close")]) }
            await pool.shutdown()
            #expect(try await Self.accepted(port) - before == 7)
        }
    }

    @Test func aRequestWaitingForABusyPoolTimesOut() async throws {
        try await Self.withServer { port in
            let pool = try HTTP1Pool(host: "127.0.0.1", port: port, maxConnections: 1)
            let hanging = Task { try await pool.execute("GET", "/hang", timeout: .seconds(3)) }
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            await #expect(throws: HTTP1Error.timedOut) { try await pool.execute("GET", "/x", timeout: .milliseconds(300)) }
            #expect(ContinuousClock.now - started < .seconds(2))
            await #expect(throws: HTTP1Error.timedOut) { try await hanging.value }
            // The slot of the timed-out exchange is free again.
            #expect(try await pool.execute("GET", "/x").text == "ok")
            await pool.shutdown()
        }
    }

    @Test func aCancelledRequestEndsAtOnce() async throws {
        try await Self.withServer { port in
            let pool = try HTTP1Pool(host: "127.0.0.1", port: port)
            let task = Task { try await pool.execute("GET", "/hang", timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(ContinuousClock.now - started < .seconds(2))
            await pool.shutdown()
        }
    }

    @Test func aBodyOverTheLimitIsRefused() async throws {
        try await Self.withServer { port in
            let pool = try HTTP1Pool(host: "127.0.0.1", port: port)
            await #expect(throws: HTTP1Error.bodyTooLarge(limit: 1 << 20)) { try await pool.execute("GET", "/big", maxBody: 1 << 20) }
            #expect(try await pool.execute("GET", "/big").body.count == 3 << 20)
            await pool.shutdown()
        }
    }

    @Test func nothingListeningIsConnectionRefused() async throws {
        let port = try HTTPLabsTests.freePort()
        let http = LoopbackHTTP(baseURL: "http://127.0.0.1:\(port)", timeout: .seconds(2))
        do {
            _ = try await http.get("/health")
            Issue.record("a closed port answered")
        } catch {
            #expect(String(describing: error) == "nothing accepts connections for GET /health (connection refused)")
        }
        await http.shutdown()
    }

    @Test func aShutDownPoolRefusesRequests() async throws {
        let pool = try HTTP1Pool(host: "127.0.0.1", port: 9)
        await pool.shutdown()
        await #expect(throws: HTTP1Error.shutDown) { try await pool.execute("GET", "/") }
    }
}
