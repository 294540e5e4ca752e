// The kit's loopback HTTP client: what every HTTP lab uses to speak to the service it
// judges (the reference or the learner's server). One connection pool (`HTTP1Pool`) per
// run, shut down by the run's clean-up; every request has a time limit; whatever goes wrong
// on the wire becomes one sentence (`HTTPFailure`) that a check records as what it
// observed, so a server that hangs, hangs up or answers gibberish fails a check instead of
// crashing the lab.
import Foundation
import NIOHTTP1
import NIOSSL

/// One answer: status, headers (looked up case-insensitively) and body bytes.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status; self.headers = headers; self.body = body
    }

    /// The first value of a header, whatever the case of its name.
    public func header(_ name: String) -> String? { headerValues(name).first }

    public func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    /// The media type without parameters, lower-cased (`application/problem+json`).
    public var mediaType: String? {
        header("Content-Type").map { $0.split(separator: ";").first.map(String.init) ?? $0 }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as JSON data; nil when it is not JSON.
    public var json: JSONValue? { JSONValue.parse(body) }

    /// The body decoded into `T`.
    public func json<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(T.self, from: Data(body)) }

    /// "201 application/json {…}" for a report, the body cut to `limit` characters.
    public func summary(limit: Int = 160) -> String {
        let t = text.replacingOccurrences(of: "\n", with: " ")
        let body = t.count > limit ? String(t.prefix(limit)) + "…" : t
        return "\(status)\(mediaType.map { " " + $0 } ?? "")\(body.isEmpty ? "" : " " + body)"
    }
}

/// Something went wrong below HTTP, as one sentence ("no answer within 5 s").
public struct HTTPFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A loopback client bound to one base URL (`http://127.0.0.1:PORT`, a path prefix allowed).
public final class LoopbackHTTP: Sendable {
    public let baseURL: String
    public let timeout: Duration
    private let pool: Result<HTTP1Pool, HTTPFailure>
    private let prefix: String

    /// Opens the run's client; the run's clean-up shuts it down. A request waits `timeout`
    /// for its answer, by default the run's `AnswerLimit` (5 s for your server).
    public static func open(for lab: LabContext, baseURL: String, timeout: Duration = AnswerLimit.current) -> LoopbackHTTP {
        let http = LoopbackHTTP(baseURL: baseURL, timeout: timeout)
        lab.onCleanup { await http.shutdown() }
        return http
    }

    /// A client outside a lab run (tests); call `shutdown()` when done.
    public init(baseURL: String, timeout: Duration = .seconds(5)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.timeout = timeout
        let url = URLComponents(string: self.baseURL)
        prefix = url?.percentEncodedPath ?? ""
        guard let url, let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty else {
            pool = .failure(HTTPFailure("\(baseURL) is not an http:// URL"))
            return
        }
        do {
            let tls = scheme == "https" ? TLSConfiguration.makeClientConfiguration() : nil
            pool = .success(
                try HTTP1Pool(host: host, port: url.port ?? (tls == nil ? 80 : 443), tls: tls, idleTimeout: .seconds(2)))
        } catch {
            pool = .failure(HTTPFailure("cannot set up TLS for \(baseURL): \(error)"))
        }
    }

    public func shutdown() async { await (try? pool.get())?.shutdown() }

    /// Sends one request to `baseURL + path` and collects the whole answer (up to 8 MiB).
    public func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        timeout: Duration? = nil
    ) async throws -> HTTPReply {
        let limit = timeout ?? self.timeout
        var headers = headers
        if body != nil, !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            headers.append(("Content-Type", "application/json; charset=utf-8"))
        }
        do {
            return try await pool.get().execute(method, prefix + path, headers: headers, body: body, timeout: limit)
        } catch let error as CancellationError {
            throw error
        } catch {
            throw Self.failure(error, method: method, path: path, limit: limit)
        }
    }

    public func get(_ path: String, headers: [(String, String)] = []) async throws -> HTTPReply {
        try await request("GET", path, headers: headers)
    }

    public func send(_ method: String, _ path: String, json: JSONValue, headers: [(String, String)] = []) async throws -> HTTPReply {
        try await request(method, path, headers: headers, body: json.bytes)
    }

    /// What went wrong, in the words a report shows.
    static func failure(_ error: any Error, method: String, path: String, limit: Duration) -> HTTPFailure {
        let seconds = limit.components.seconds
        let within = limit.components.attoseconds == 0 ? "\(seconds) s" : "\(limit)"
        switch error {
        case let failure as HTTPFailure:
            return failure
        case HTTP1Error.timedOut:
            return HTTPFailure("no answer within \(within) to \(method) \(path)")
        case HTTP1Error.remoteClosed:
            return HTTPFailure("the server closed the connection without answering \(method) \(path)")
        case HTTP1Error.connectTimedOut:
            return HTTPFailure("could not connect within \(within) for \(method) \(path)")
        case HTTP1Error.connectionRefused:
            return HTTPFailure("nothing accepts connections for \(method) \(path) (connection refused)")
        case HTTP1Error.bodyTooLarge(let limit):
            return HTTPFailure("the answer to \(method) \(path) is longer than \(limit >> 20) MiB")
        case is HTTPParserError:
            return HTTPFailure("the reply to \(method) \(path) is not HTTP")
        default:
            let text = String(describing: error)
            if text.localizedCaseInsensitiveContains("reset") {
                return HTTPFailure("the server closed the connection without answering \(method) \(path)")
            }
            return HTTPFailure("\(method) \(path) failed: \(text)")
        }
    }
}

extension LabContext {
    /// A check whose evidence comes from the wire: `body` returns whether it passed and
    /// what was observed; a failure to get an answer (a time-out, a closed connection, a
    /// reply that is not HTTP) or any other error is recorded as a failed check with that
    /// sentence as what was observed, never thrown out of the lab.
    @discardableResult
    public func check(
        _ name: String, expected: String,
        _ body: () async throws -> (passed: Bool, observed: String)
    ) async -> Bool {
        do {
            let (passed, observed) = try await body()
            return check(name, passed, expected: expected, observed: observed)
        } catch {
            return check(name, false, expected: expected, observed: String(describing: error))
        }
    }

    /// A check that applies only to the reference (it needs the service's inside: which
    /// layer touched storage, what was logged). Against the learner's work it is recorded
    /// as a step saying so, not as a pass.
    @discardableResult
    public func referenceOnlyCheck(
        _ name: String, isReference: Bool, expected: String,
        _ body: () async throws -> (passed: Bool, observed: String)
    ) async -> Bool? {
        guard isReference else {
            step("Skipped (reference only): \(name)", "this check needs the inside of the reference service, so it does not judge \(subject)")
            return nil
        }
        return await check(name + " (reference only)", expected: expected, body)
    }
}
