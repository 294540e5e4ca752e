// Three ways for one server to serve many clients at once. Thread per connection: each
// accepted socket gets a thread that blocks in read(); simple, but a thread (and its stack)
// per client. A thread pool: a fixed number of workers take connections from a queue; the
// threads are bounded, but a connection holds its worker until it closes and the others
// wait their turn (see p99). An epoll event loop: one thread, non-blocking sockets, and the
// kernel says which are ready; no thread per client, but every read may bring half a request
// or three, so each connection keeps its own buffer. The lab loads each model with many
// concurrent clients (some requests split across packets, some pipelined) and records
// latencies in an HdrHistogram. The C++ is Phase05/cpp/multi-client-server/server.cpp;
// your own server runs with --source (compiled here, all three models), --against or --url.
import Foundation
import Histogram
import LabKit
import Synchronization

struct MultiClientServerLab: Lab {
    static let breaker = Knob.choice(
        "break", ["none", "thread-close", "pool-shed", "epoll-one-read", "no-pipelining", "garbage-ok"], default: "none",
        help:
            "Breaks the reference server on purpose: thread-close (closes a connection after one answer), pool-shed (the pool closes connections while two wait), epoll-one-read (the event loop takes one read for one whole request), no-pipelining (requests after the first in a read are dropped), garbage-ok (a malformed request is answered 200)."
    )
    static let connections = Knob.int("connections", 1...512, default: 64, quick: 16, help: "Concurrent client connections per model.")
    static let requests = Knob.int(
        "requests", 1...10_000, default: 100, quick: 20, help: "Requests each connection sends, one after the other (every 5th split across two packets).")
    static let workers = Knob.int("workers", 1...64, default: 4, help: "Worker threads of the pool model (WORKERS).")

    static let info = LabInfo(
        id: "multi-client-server", title: "A server for many clients: thread per connection, thread pool, epoll", phase: 5,
        teaches:
            "One HTTP server three ways, loaded by many concurrent clients: every answer must be right under load, with requests split across packets and pipelined, and the throughput and p50/p99 latency of each model (HdrHistogram) show what a thread per client, a bounded pool and an event loop cost.",
        parameters: [breaker.parameter, connections.parameter, requests.parameter, workers.parameter],
        needs: [Native.compilerNeed], subjects: [.source, .against, .url],
        source: "Sources/Labs/Native/Phase05/MultiClientServer.swift")

    static let models = [("thread", "thread per connection"), ("pool", "thread pool"), ("epoll", "epoll event loop")]
    static func loadAsserts(_ model: String) -> String {
        "\(model): CONNECTIONS clients at once, each sending REQUESTS keep-alive GET /sum?a=X&b=Y (every 5th split across two packets 3 ms apart): every answer is 200 with X+Y"
    }
    static let pipelined = (
        "pipelined requests are answered in order",
        "10 requests written in one send on one connection get 10 answers, in order, each with its own sum (every model)"
    )
    static let malformed = (
        "a malformed request is refused and the server carries on",
        "`BREW /coffee HTTP/1.1` is answered 400; a client that sends half a request and hangs up is shrugged off; a new connection's GET /sum?a=2&b=3 then answers 200 with 5 (every model)"
    )

    static func starter() -> [StarterFile] {
        let stub = """
            // server.cpp: your server, three ways (see README.md). Usage: server thread|pool|epoll
            #include <cstdio>
            #include <string>

            int main(int argc, char** argv) {
                std::string model = argc > 1 ? argv[1] : "";
                // TODO: listen on 127.0.0.1:$PORT, answer GET /sum?a=X&b=Y with X+Y, keep connections
                // alive, with a thread per connection, a pool of $WORKERS threads, or an epoll loop.
                std::fprintf(stderr, "model %s is not written yet\\n", model.c_str());
                return 1;
            }

            """
        return cppStarter(
            info,
            task: """
                Write `server.cpp`: an HTTP/1.1 server started as `server thread`, `server pool` or `server epoll` that listens on 127.0.0.1:$PORT and answers `GET /sum?a=X&b=Y` with `200`, `Content-Length` and the sum as the body; connections stay open (keep-alive) and may carry several requests in one packet (pipelining) or one request across several packets. `thread`: a thread per connection; `pool`: $WORKERS threads (default 4) taking connections from a queue; `epoll`: one thread with non-blocking sockets and epoll. Stop on SIGTERM.
                """,
            files: [StarterFile("server.cpp", stub)],
            checks: models.map { model in
                let asserts = loadAsserts(model.1)
                    .replacingOccurrences(of: "CONNECTIONS", with: "`connections` (\(connections.parameter.defaultValue) by default)")
                    .replacingOccurrences(of: "REQUESTS", with: "`requests` (\(requests.parameter.defaultValue) by default)")
                return ("\(model.1): every response correct under load", asserts)
            } + [pipelined, malformed],
            build: "g++ \(CppBuild.baseFlags.joined(separator: " ")) *.cpp -pthread")
    }

    func run(_ lab: LabContext) async throws {
        let connections = lab[Self.connections], requests = lab[Self.requests]
        func asserts(_ model: String) -> String {
            Self.loadAsserts(model).replacingOccurrences(of: "CONNECTIONS", with: "\(connections)").replacingOccurrences(of: "REQUESTS", with: "\(requests)")
        }
        if lab.subject.kind == .url || lab.subject.kind == .against {
            let service = try await lab.startService(probePath: "/sum?a=1&b=2") { _ in throw LabError("the reference is compiled, not started here") }
            guard let port = URLComponents(string: service.baseURL)?.port else { throw SubjectFailure("\(service.baseURL) names no port") }
            await judge(lab, port: port, title: "your server", asserts: asserts("your server"), connections: connections, requests: requests)
            let (ok, seen) = await Self.pipeline(port: port)
            lab.check(Self.pipelined.0, ok, expected: Self.pipelined.1, observed: seen)
            let (refused, answer) = await Self.garbage(port: port)
            lab.check(Self.malformed.0, refused, expected: Self.malformed.1, observed: answer)
            return
        }
        let (sources, headers, flags) = try Native.files(lab, folder: "multi-client-server", harness: [], reference: ["server.cpp"])
        let built = try await lab.compileAll([
            CppBuild(name: "server", sources: sources, headers: headers, flags: flags + Native.breakFlags(lab, lab[Self.breaker]))
        ])
        guard let program = built[0] else { return }
        var pipelines: [String] = [], garbage: [String] = []
        var allPipelined = true, allRefused = true
        for (model, title) in Self.models {
            let server = try await NativeServer.start(lab, program, [model], environment: ["WORKERS": "\(lab[Self.workers])"])
            await judge(lab, port: server.port, title: title, asserts: asserts(title), connections: connections, requests: requests)
            let (ok, seen) = await Self.pipeline(port: server.port)
            allPipelined = allPipelined && ok
            pipelines.append("\(model): \(seen)")
            let (refused, answer) = await Self.garbage(port: server.port)
            allRefused = allRefused && refused
            garbage.append("\(model): \(answer)")
            await server.stop()
        }
        lab.check(Self.pipelined.0, allPipelined, expected: Self.pipelined.1, observed: pipelines.joined(separator: "; "))
        lab.check(Self.malformed.0, allRefused, expected: Self.malformed.1, observed: garbage.joined(separator: "; "))
    }

    /// Loads one server and records its check and figures.
    func judge(_ lab: LabContext, port: Int, title: String, asserts: String, connections: Int, requests: Int) async {
        let result = await Self.load(port: port, connections: connections, requests: requests)
        let total = connections * requests
        let p50 = Double(result.histogram.valueAtPercentile(50)) / 1000, p99 = Double(result.histogram.valueAtPercentile(99)) / 1000
        let throughput = result.seconds > 0 ? Double(result.correct) / result.seconds : 0
        lab.figure("\(title): throughput", throughput.rounded(), "requests/s")
        lab.figure("\(title): p50", p50, "µs")
        lab.figure("\(title): p99", p99, "µs")
        lab.step(
            "\(title): \(connections) connections × \(requests) requests",
            String(
                format: "%d of %d answers correct in %.2f s: %.0f requests/s, p50 %.0f µs, p99 %.0f µs", result.correct, total,
                result.seconds, throughput, p50, p99))
        lab.check(
            "\(title): every response correct under load", result.correct == total, expected: asserts,
            observed: "\(result.correct) of \(total) answers correct"
                + (result.failures.isEmpty ? "" : "; for example: " + result.failures.prefix(3).joined(separator: "; ")))
    }

    struct Load: Sendable {
        var correct = 0
        var failures: [String] = []
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
        var seconds = 0.0
    }

    /// `connections` client threads at once, each on its own keep-alive connection sending
    /// `requests` requests one after the other; latencies in nanoseconds.
    static func load(port: Int, connections: Int, requests: Int) async -> Load {
        // `stop` is set when the run is interrupted, so the clients end after their current
        // request instead of finishing every request while the lab waits to clean up.
        final class Shared: Sendable {
            let state = Mutex(Load())
            let stop = Atomic<Bool>(false)
        }
        let shared = Shared()
        let started = DispatchTime.now().uptimeNanoseconds
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let group = DispatchGroup()
                for c in 0..<connections {
                    group.enter()
                    let thread = Thread {
                        defer { group.leave() }
                        var latencies: [UInt64] = [], correct = 0, failures: [String] = []
                        let fd = Probe.connect(port: port, timeout: 10)
                        guard fd >= 0 else {
                            shared.state.withLock { $0.failures.append("connection \(c): could not connect (\(String(cString: strerror(errno))))") }
                            return
                        }
                        defer { close(fd) }
                        var buffer: [UInt8] = []
                        var random = SeededRandom(seed: UInt64(c + 1))
                        for i in 0..<requests where !shared.stop.load(ordering: .relaxed) {
                            let a = Int.random(in: 0..<1_000_000, using: &random), b = Int.random(in: 0..<1_000_000, using: &random)
                            let request = "GET /sum?a=\(a)&b=\(b) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                            let t0 = DispatchTime.now().uptimeNanoseconds
                            var sent: Bool
                            if i % 5 == 4 {
                                sent = Probe.send(fd, String(request.prefix(9)))
                                usleep(3_000)
                                sent = sent && Probe.send(fd, String(request.dropFirst(9)))
                            } else {
                                sent = Probe.send(fd, request)
                            }
                            guard sent, let answer = Probe.readResponse(fd, &buffer) else {
                                failures.append("connection \(c), request \(i + 1): \(sent ? "no answer (closed or 10 s without one)" : "could not send")")
                                break
                            }
                            latencies.append(DispatchTime.now().uptimeNanoseconds - t0)
                            if answer.status == 200 && answer.body == String(a + b) {
                                correct += 1
                            } else if failures.count < 3 {
                                failures.append("a=\(a)&b=\(b) → \(answer.status) \"\(answer.body.prefix(40))\"")
                            }
                        }
                        shared.state.withLock { s in
                            s.correct += correct
                            s.failures += failures
                            for l in latencies { _ = s.histogram.record(l) }
                        }
                    }
                    thread.stackSize = 256 * 1024
                    thread.start()
                }
                group.notify(queue: .global()) { done.resume() }
            }
        } onCancel: {
            shared.stop.store(true, ordering: .relaxed)
        }
        var result = shared.state.withLock { $0 }
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return result
    }

    /// A request no server should answer 200, a client that hangs up mid-request, then a good
    /// request on a new connection; whether the first was refused with 400 and the last answered.
    static func garbage(port: Int) async -> (Bool, String) {
        await offThread {
            let refusal = ask(port: port, "BREW /coffee HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let half = Probe.connect(port: port, timeout: 3)
            if half >= 0 {
                _ = Probe.send(half, "GET /sum?a=1")
                close(half)
            }
            let after = ask(port: port, "GET /sum?a=2&b=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let first = refusal.map { "BREW → \($0.status)" } ?? "BREW → no answer"
            let then = after.map { "then /sum?a=2&b=3 → \($0.status) \"\($0.body.prefix(20))\"" } ?? "then no answer on a new connection"
            return (refusal?.status == 400 && after?.status == 200 && after?.body == "5", "\(first); \(then)")
        }
    }

    /// One request on a connection of its own (blocking): the answer, or nil.
    private static func ask(port: Int, _ request: String) -> (status: Int, body: String)? {
        let fd = Probe.connect(port: port, timeout: 3)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer: [UInt8] = []
        return Probe.send(fd, request) ? Probe.readResponse(fd, &buffer) : nil
    }

    /// 10 requests in one send on one connection; whether the 10 answers came in order.
    static func pipeline(port: Int) async -> (Bool, String) {
        await offThread {
            let fd = Probe.connect(port: port, timeout: 3)
            guard fd >= 0 else { return (false, "could not connect") }
            defer { close(fd) }
            let batch = (1...10).map { "GET /sum?a=\($0)&b=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" }.joined()
            guard Probe.send(fd, batch) else { return (false, "could not send") }
            var buffer: [UInt8] = [], bodies: [String] = []
            for _ in 1...10 {
                guard let answer = Probe.readResponse(fd, &buffer) else { break }
                bodies.append(answer.body)
            }
            let want = (1...10).map { String($0 + 1000) }
            return (bodies == want, "\(bodies.count) of 10 answers" + (bodies == want ? ", in order" : ": \(bodies.joined(separator: ","))"))
        }
    }
}
