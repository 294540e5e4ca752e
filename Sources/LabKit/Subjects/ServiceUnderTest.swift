import Foundation
import LabCatalog

// The subject runner for server-shaped labs (DESIGN.md §4, "Your own work: exercise mode"):
// one call, `lab.startService`, gives a lab the base URL of what this run judges — the
// package's reference on port 0, the learner's running server (`--url`), or the learner's
// server started from a command (`--against`) — and takes care of stopping it. The checks
// then speak HTTP to `baseURL` and never need to know which it is.

/// What a service is started with: the contract's `PORT` and `DATABASE_URL`.
public struct ServiceEnvironment: Sendable {
    /// The port to listen on; 0 for the reference, which binds a free one itself.
    public var port: Int
    /// The database the lab provides (a `postgresql://` URL), or nil for in-memory data.
    public var databaseURL: String?
    public init(port: Int, databaseURL: String? = nil) { self.port = port; self.databaseURL = databaseURL }
}

/// What the reference starter returns once its server is listening.
public struct RunningReference: Sendable {
    /// The port it is listening on, on 127.0.0.1.
    public var port: Int
    /// Stops it; called once, as a clean-up.
    public var stop: @Sendable () async -> Void
    public init(port: Int, stop: @escaping @Sendable () async -> Void) { self.port = port; self.stop = stop }
}

/// The learner's server could not be judged: nothing listens, it is not HTTP, it exited
/// before listening. The runner reports the description as the run's error, word for word.
public struct SubjectFailure: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The service a lab's checks run against.
public final class ServiceUnderTest: Sendable {
    /// "http://127.0.0.1:PORT" (no trailing slash); for `--url`, the URL given, normalised.
    public let baseURL: String
    public let subject: LabSubject
    let process: ServerProcess?

    init(baseURL: String, subject: LabSubject, process: ServerProcess? = nil) {
        self.baseURL = baseURL; self.subject = subject; self.process = process
    }

    /// Checks that need the reference's insides (which layer touched storage, what it
    /// logged) run only when this is true, and the report says they were skipped otherwise.
    public var isReference: Bool { subject.kind == .reference }

    /// `--against`: the last lines the server wrote (stdout and stderr together); nil for
    /// the reference and `--url`, whose output the lab cannot see.
    public func outputTail(lines: Int = 20) -> String? { process?.outputTail(lines: lines) }

    /// `--against`: nil while the server runs, else "exited with status 3" or "killed by
    /// signal 11"; nil for the reference and `--url`.
    public var exitDescription: String? { process?.exitDescription }
}

extension LabContext {
    /// Starts what this run judges and registers its stop as a clean-up:
    /// - reference: calls `reference(ServiceEnvironment(port: 0, databaseURL: databaseURL))`
    ///   (the reference binds port 0 itself and returns the bound port);
    /// - `--url URL`: probes it (TCP connect, then one HTTP request to `probePath`, 2 s
    ///   each); nothing listening or not HTTP throws a `SubjectFailure` that says which; a nil
    ///   `probePath` (a service that is not HTTP/1, such as gRPC) only asks for the TCP connection;
    /// - `--against CMD`: runs `sh -c CMD` in its own process group on a free loopback port,
    ///   with `PORT`, `DATABASE_URL` (when given) and `CURRICULUM_LAB_ROOT` in its
    ///   environment, in the folder curriculum was invoked from, its output kept in the
    ///   scratch folder; waits until 127.0.0.1:PORT accepts (up to `startTimeout`), failing
    ///   at once if it exits first. Its clean-up checks that it kept running through the
    ///   checks and that it stops on SIGTERM (SIGKILL after 3 s).
    public func startService(
        probePath: String? = "/health", databaseURL: String? = nil, startTimeout: Duration = .seconds(20),
        reference: @escaping @Sendable (ServiceEnvironment) async throws -> RunningReference
    ) async throws -> ServiceUnderTest {
        switch subject.kind {
        case .reference:
            return try await startReference(databaseURL: databaseURL, reference)
        case .url:
            return try await probeURL(subject.value ?? "", path: probePath)
        case .against:
            return try await startAgainst(subject.value ?? "", databaseURL: databaseURL, timeout: startTimeout)
        case .source, .answers:
            throw LabError("lab \(info.id) judges a running service; it takes \(info.subjectsSentence), not \(subject.kind.flag ?? "")")
        }
    }

    private func startReference(
        databaseURL: String?,
        _ start: @Sendable (ServiceEnvironment) async throws -> RunningReference
    ) async throws -> ServiceUnderTest {
        let running = try await start(ServiceEnvironment(port: 0, databaseURL: databaseURL))
        onCleanup { await running.stop() }
        let port = running.port
        // The reference is the lab's own code: a port it does not serve is the lab's bug.
        guard (1...65_535).contains(port), await offThread({ Loopback.accepts(port: port, timeout: 2) }) else {
            throw LabError("the reference implementation reported port \(port), but nothing accepts connections on 127.0.0.1:\(port)")
        }
        step("started the reference implementation on 127.0.0.1:\(port)")
        return ServiceUnderTest(baseURL: "http://127.0.0.1:\(port)", subject: subject)
    }

    // MARK: --url

    private func probeURL(_ given: String, path probePath: String?) async throws -> ServiceUnderTest {
        let target = try ServiceURL(given)
        let path = probePath.map { target.path + ($0.hasPrefix("/") ? $0 : "/" + $0) }
        let (host, port) = (target.host, target.port)
        // nil: connected, and no HTTP request asked (a gRPC server speaks HTTP/2 only).
        let answer: Result<Loopback.Answer?, SubjectFailure> = await offThread {
            switch Loopback.connect(host: host, port: port, timeout: 2) {
            case let .refused(reason):
                return .failure(
                    SubjectFailure("nothing is listening at \(target.base) (\(reason)); start your server first, or let the lab start it with --against 'CMD'"))
            case .timedOut:
                return .failure(SubjectFailure("your server at \(target.base) did not accept a connection within 2 s"))
            case let .connected(fd):
                guard let path else { close(fd); return .success(nil) }
                return .success(Loopback.request(fd, host: target.hostHeader, path: path, timeout: 2))
            }
        }
        let answered = try answer.get()
        guard let path, let reply = answered else {
            step("found your server at \(host):\(port)", "it accepted a TCP connection")
            return ServiceUnderTest(baseURL: target.base, subject: subject)
        }
        switch reply {
        case let .http(statusLine):
            step("found your server at \(target.base)", "GET \(path) answered \(statusLine)")
            return ServiceUnderTest(baseURL: target.base, subject: subject)
        case let .notHTTP(bytes):
            throw SubjectFailure("your server at \(target.base) is not HTTP: it answered GET \(path) with \"\(bytes)\"")
        case .closed:
            throw SubjectFailure("your server at \(target.base) is not HTTP: it closed the connection without answering GET \(path)")
        case .noAnswer:
            throw SubjectFailure("your server at \(target.base) accepted a connection but gave no answer within 2 s to GET \(path)")
        }
    }

    // MARK: --against

    private func startAgainst(_ command: String, databaseURL: String?, timeout: Duration) async throws -> ServiceUnderTest {
        guard !command.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SubjectFailure("--against needs the command that starts your server, e.g. --against './gradlew run'")
        }
        let port = try Loopback.freePort()
        // Names this server's processes, also those that leave its process group; one of
        // its own, so that a lab that starts the learner's server twice tells them apart.
        let serverID = UUID().uuidString.prefix(8).lowercased()
        let marker = "CURRICULUM_LAB_SERVER=\(serverID)"
        var environment = ProcessInfo.processInfo.environment
        environment["PORT"] = String(port)
        // Only the lab's database: a DATABASE_URL left in the learner's shell (their own
        // development database) would mix old data into checks that expect a fresh store.
        environment["DATABASE_URL"] = databaseURL
        // The tracker's sweep (LabHost.processes(under:)) finds the server by this, though
        // its working folder and command line are the learner's, outside the scratch root.
        environment["CURRICULUM_LAB_ROOT"] = scratch.path
        environment["CURRICULUM_LAB_SERVER"] = serverID
        // The labs process runs in the folder curriculum was invoked from (the learner's
        // project), so the child inherits it: `./gradlew run` means their gradlew.
        let directory = FileManager.default.currentDirectoryPath
        let server = try ServerProcess(
            command: command, port: port, environment: environment,
            outputPath: scratch.appendingPathComponent("your-server-\(serverID).log").path,
            marker: marker, directory: directory)
        // Registered before the wait: a server that never listens is stopped all the same.
        onCleanup { [self] in await finish(server) }
        let started = ContinuousClock.now
        try await server.waitUntilListening(timeout: timeout, timeoutText: Self.seconds(timeout))
        step(
            "started your server: sh -c \(command)",
            "PORT=\(port) in \(directory); it accepted connections after \(Self.seconds(ContinuousClock.now - started)).")
        return ServiceUnderTest(baseURL: "http://127.0.0.1:\(port)", subject: subject, process: server)
    }

    /// The clean-up of `--against`: was the server still up when the checks were done (a
    /// crash makes every later check fail for a reason the learner must see), then stop it
    /// and check it honoured SIGTERM. A server that never listened is only stopped: the
    /// run's error already says what happened.
    private func finish(_ server: ServerProcess) async {
        guard server.listened else {
            _ = await server.stop()
            return
        }
        let expectedRunning = "it runs until the lab stops it"
        if let ended = server.exitDescription {
            step(
                "your server stopped while the checks ran",
                "It \(ended) before the lab was done, so the requests after that went unanswered and their checks failed for that reason. Its last output is in the check below."
            )
            check(
                "your server kept running through the checks", false, expected: expectedRunning,
                observed: "it \(ended)." + server.tailBlock())
            _ = await server.stop()
            return
        }
        check(
            "your server kept running through the checks", true, expected: expectedRunning,
            observed: "it was still running when the checks were done")
        let expectedStop = "it exits within \(Int(ServerProcess.grace)) s of SIGTERM (the contract: SIGTERM stops it cleanly)"
        switch await server.stop() {
        case let .exitedOnTerm(seconds):
            check(
                "your server stops on SIGTERM", true, expected: expectedStop,
                observed: "it exited \(Self.seconds(.milliseconds(Int(seconds * 1000)))) after SIGTERM")
        case .killed:
            step(
                "stopped your server with SIGKILL",
                "It was still running \(Int(ServerProcess.grace)) s after SIGTERM. Handle SIGTERM: stop accepting, finish or drop what is in flight, close the database, exit."
            )
            check(
                "your server stops on SIGTERM", false, expected: expectedStop,
                observed: "it was still running \(Int(ServerProcess.grace)) s after SIGTERM and was killed with SIGKILL." + server.tailBlock(lines: 10))
        case .alreadyGone:
            // It ended between the look above and the signal: the crash check is the one to record.
            check("your server stops on SIGTERM", true, expected: expectedStop, observed: "it had already exited")
        }
    }

    /// "20 s", "1.5 s", "0.04 s".
    static func seconds(_ duration: Duration) -> String {
        let s = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        if s == s.rounded() { return "\(Int(s)) s" }
        return s >= 1 ? String(format: "%.1f s", s) : String(format: "%.2f s", s)
    }
}

/// A `--url` as given, normalised: the scheme assumed when missing, scheme and host in lower
/// case, no trailing slash. Only http: the labs speak plain HTTP on loopback.
struct ServiceURL: Sendable {
    var host: String
    var port: Int
    /// A path prefix the service lives under ("" or "/api").
    var path: String
    /// The base URL the checks use.
    var base: String
    var hostHeader: String

    init(_ given: String) throws(SubjectFailure) {
        var text = given.trimmingCharacters(in: .whitespaces)
        if !text.contains("://") { text = "http://" + text }
        guard let parts = URLComponents(string: text), let scheme = parts.scheme?.lowercased(),
            var host = parts.host, !host.isEmpty
        else {
            throw SubjectFailure("--url \(given) is not a URL; give one like http://127.0.0.1:8080")
        }
        guard scheme == "http" else {
            throw SubjectFailure("--url takes an http:// URL (the labs speak plain HTTP), not \(scheme)://")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        host = host.lowercased()
        let bracketed = host.contains(":") ? "[\(host)]" : host
        var path = parts.path
        while path.hasSuffix("/") { path.removeLast() }
        self.host = host
        self.port = parts.port ?? 80
        self.path = path
        self.hostHeader = bracketed + (parts.port.map { ":\($0)" } ?? "")
        self.base = "http://" + hostHeader + path
    }
}
