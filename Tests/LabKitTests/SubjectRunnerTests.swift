import Foundation
import LabCatalog
import Synchronization
import Testing

@testable import LabKit

// The subject runner, judged by the report a learner would see: every scenario runs a small
// lab through `LabRunner.run` against a real server — a tiny in-process reference, or a
// Python fake (Fixtures/fake_server.py) that misbehaves in one way each — and ends with a
// process scan: nothing the run started may still be alive.

/// A lab shaped like the HTTP labs: start the service, GET /health `requests` times, and,
/// on the reference only, read its insides.
struct ServiceProbeLab: Lab {
    static let info = LabInfo(
        id: "kit-service", title: "kit-service", phase: 0, teaches: "a lab for the kit's own tests",
        parameters: [
            LabParameter("requests", .int(min: 1, max: 100), default: "1", help: "GET /health this many times"),
            LabParameter("start-timeout", .double(min: 0.1, max: 60), default: "20", help: "seconds to wait for the port"),
            LabParameter("database-url", .choice(["", "postgresql://lab@127.0.0.1:5999/bookshelf"]), default: "", help: "DATABASE_URL to give"),
        ],
        subjects: [.url, .against], source: "Tests/LabKitTests/SubjectRunnerTests.swift")

    /// The reference each run started, by scratch folder, so a reference-only check can read
    /// its request counter (and the test can see it was stopped).
    static let references = Mutex<[URL: TinyReference]>([:])

    func run(_ lab: LabContext) async throws {
        let requests = try lab.int("requests")
        let timeout = try lab.double("start-timeout")
        let database = try lab.string("database-url")
        let scratch = lab.scratch
        let service = try await lab.startService(
            databaseURL: database.isEmpty ? nil : database,
            startTimeout: .milliseconds(Int(timeout * 1000))
        ) { environment in
            let reference = try TinyReference(environment)
            Self.references.withLock { $0[scratch] = reference }
            return RunningReference(port: reference.port, stop: { await reference.stop() })
        }
        lab.step("judging \(service.baseURL)")
        for i in 1...requests {
            let status = await Self.status(of: service.baseURL, path: "/health")
            if !lab.expect("GET /health #\(i) answers 200", status, equals: "200") {
                // An HTTP lab would go on to its next check here; this one waits (up to 5 s)
                // for the server's exit to be seen, so that the clean-up's verdict on a
                // crashed server does not race the crash.
                var waited = 0
                while service.outputTail() != nil, service.exitDescription == nil, waited < 100 {
                    try await Task.sleep(for: .milliseconds(50))
                    waited += 1
                }
                break
            }
        }
        if service.isReference, let reference = Self.references.withLock({ $0[scratch] }) {
            lab.expect("the reference counted every request", reference.served.load(ordering: .relaxed), equals: requests)
        }
    }

    /// The status code of `GET base+path`, or what happened instead, through the kit's own probe.
    static func status(of base: String, path: String) async -> String {
        guard let url = URLComponents(string: base), let host = url.host, let port = url.port else { return "a bad base URL: \(base)" }
        return await offThread {
            guard case let .connected(fd) = Loopback.connect(host: host, port: port, timeout: 2) else { return "no connection" }
            switch Loopback.request(fd, host: "\(host):\(port)", path: url.path + path, timeout: 2) {
            case let .http(line): return line.split(separator: " ").dropFirst().first.map(String.init) ?? line
            case let .notHTTP(bytes): return "not HTTP: \(bytes)"
            case .closed: return "the connection closed without an answer"
            case .noAnswer: return "no answer"
            }
        }
    }
}

/// Throws what `startService` throws when the learner's server cannot be judged.
struct SubjectFailureLab: Lab {
    static let info = LabInfo(
        id: "kit-subject-failure", title: "kit-subject-failure", phase: 0, teaches: "a lab for the kit's own tests", source: "Tests/LabKitTests")
    func run(_ lab: LabContext) async throws { throw SubjectFailure("your server is not HTTP") }
}

/// The reference for these tests: a plain POSIX accept loop on 127.0.0.1:0, on a thread of
/// its own, answering every request 200 and counting them (the "insides" that only a
/// reference-only check may read). No Hummingbird: the runner must not depend on it.
final class TinyReference: Sendable {
    let port: Int
    let served = Atomic<Int>(0)
    private let listener: Int32
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    init(_ environment: ServiceEnvironment) throws {
        #expect(environment.port == 0, "the reference binds a port of its own choosing")
        let fd = socket(AF_INET, Loopback.stream, 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                guard fd >= 0, bind(fd, address, length) == 0, listen(fd, 16) == 0 else { return false }
                return getsockname(fd, address, &length) == 0
            }
        }
        guard ok else {
            if fd >= 0 { close(fd) }
            throw LabError("the test reference could not listen: \(String(cString: strerror(errno)))")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in serve() }.start()
    }

    private func serve() {
        // Polls with a short timeout rather than blocking in accept: closing a socket does
        // not wake a thread blocked on it, a flag checked every 50 ms does.
        while !stopping.load(ordering: .relaxed) {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 50) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            var request: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1024)
            // Read the request head (up to the blank line), giving up after 2 s of silence.
            while !request.suffix(4).elementsEqual([13, 10, 13, 10]) {
                var cfd = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
                guard poll(&cfd, 1, 2000) > 0 else { break }
                let n = recv(client, &chunk, chunk.count, 0)
                guard n > 0 else { break }
                request += chunk[0..<n]
            }
            // A bare connect (the runner's check that the port accepts) is not a request.
            guard !request.isEmpty else { close(client); continue }
            served.add(1, ordering: .relaxed)
            let answer = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}".utf8)
            _ = answer.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Loopback.noSignal) }
            close(client)
        }
        close(listener)
        finished.store(true, ordering: .releasing)
    }

    func stop() async {
        stopping.store(true, ordering: .relaxed)
        while !finished.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(10)) }
    }
}

@Suite("The subject runner: reference, --url, --against", .serialized) struct SubjectRunnerTests {
    static let fake = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fake_server.py").path

    /// The system's Python when there is one: a pyenv shim on PATH costs a second or two of
    /// start-up on a busy machine, which time limits in these tests would have to absorb.
    static let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    /// `python3 fake_server.py ARGS` as a shell command.
    static func fakeCommand(_ args: String) -> String { "\(python) '\(fake)' \(args)" }

    /// One scenario's scratch root, and the scan that proves nothing it started survived:
    /// every process the runner starts carries CURRICULUM_LAB_ROOT inside this root, and so
    /// do the servers a `--url` test starts itself.
    struct Box {
        let root: URL

        init() throws {
            root = URL(fileURLWithPath: "/tmp/labkit-subject-test-\(UUID().uuidString.prefix(8))", isDirectory: true)
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        }

        func run(_ subject: LabSubject, requests: Int = 1, startTimeout: Double = 20, databaseURL: String = "") async -> LabReport {
            await LabRunner.run(
                ServiceProbeLab.self, info: ServiceProbeLab.info, quick: false,
                parameters: ["requests": "\(requests)", "start-timeout": "\(startTimeout)", "database-url": databaseURL],
                subject: subject, scratchRoot: root)
        }

        /// Live processes whose environment places them under this root.
        func survivors() -> [pid_t] {
            let prefix = Array("CURRICULUM_LAB_ROOT=\(root.path)/".utf8)
            return ProcessTable.pids().filter { pid in
                guard let status = ProcessTable.status(of: pid), status.state != "Z" else { return false }
                return ProcessTable.environment(of: pid).contains { $0.starts(with: prefix) }
            }
        }

        func expectNothingLeft(sourceLocation: SourceLocation = #_sourceLocation) {
            // A process killed a moment ago may take a little while to go on a loaded
            // machine; one still there after 3 s was really left running.
            var left = survivors()
            let deadline = Date().addingTimeInterval(3)
            while !left.isEmpty && Date() < deadline {
                usleep(50_000)
                left = survivors()
            }
            #expect(left.isEmpty, "processes left running: \(left)", sourceLocation: sourceLocation)
            for pid in left { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(at: root)
        }

        /// Starts a fake server for a `--url` test, marked so `survivors` sees it, and waits
        /// until `port` accepts. The caller stops it with `kill(-pid, SIGKILL)`.
        func startFake(_ args: String, port: Int) async throws -> pid_t {
            var environment = ProcessInfo.processInfo.environment
            environment["CURRICULUM_LAB_ROOT"] = root.path + "/url-fixture"
            environment["PORT"] = String(port)
            let log = root.appendingPathComponent("fixture.log").path
            let pid = try Subprocess.spawn("/bin/sh", ["-c", SubjectRunnerTests.fakeCommand(args)], environment: environment, output: log)
            var accepted = false
            for _ in 0..<200 where !accepted {
                accepted = Loopback.accepts(port: port)
                if !accepted { try await Task.sleep(for: .milliseconds(50)) }
            }
            guard accepted else {
                stopFake(pid)
                throw LabError("the fixture server did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            return pid
        }

        /// Kills a fixture server's process group and reaps its shell (blocking: it is quick,
        /// and it must also run in a `defer`).
        func stopFake(_ pid: pid_t) {
            kill(-pid, SIGKILL)
            _ = Subprocess.waitBlocking(pid, timeout: 5)
        }
    }

    static func check(_ r: LabReport, _ name: String) -> LabReport.Check? { r.checks.first { $0.name == name } }

    /// The port the runner gave the server, from its "started your server" step.
    static func startedPort(_ r: LabReport) -> Int? {
        guard let detail = r.steps.first(where: { $0.title.hasPrefix("started your server") })?.detail,
            let range = detail.range(of: #"PORT=(\d+)"#, options: .regularExpression)
        else { return nil }
        return Int(detail[range].dropFirst(5))
    }

    // MARK: The reference

    @Test func theReferenceIsStartedOnPortZeroJudgedAndStopped() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let r = await box.run(.reference, requests: 3)
        #expect(r.outcome == .passed, "\(r.error ?? "") \(r.checks)")
        #expect(r.subject == nil, "a reference run records no subject")
        let step = try #require(r.steps.first { $0.title.hasPrefix("judging http://127.0.0.1:") }, "\(r.steps)")
        let port = try #require(Int(step.title.dropFirst("judging http://127.0.0.1:".count)))
        #expect(r.steps.contains { $0.title == "started the reference implementation on 127.0.0.1:\(port)" })
        // The reference-only check ran, and saw every request.
        #expect(Self.check(r, "the reference counted every request")?.passed == true)
        // No --against bookkeeping for the reference.
        #expect(Self.check(r, "your server stops on SIGTERM") == nil)
        #expect(!Loopback.accepts(port: port), "the reference was stopped by its clean-up")
    }

    // MARK: --against

    @Test func aGoodServerPassesAndStopsOnSIGTERM() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let r = await box.run(LabSubject(.against, Self.fakeCommand("good")), requests: 2)
        #expect(r.outcome == .passed, "\(r.error ?? "") \(r.checks)")
        #expect(r.subject == LabSubject(.against, Self.fakeCommand("good")))
        let port = try #require(Self.startedPort(r), "\(r.steps)")
        #expect(r.steps.contains { $0.title == "judging http://127.0.0.1:\(port)" })
        #expect(
            r.checks.map(\.name) == [
                "GET /health #1 answers 200", "GET /health #2 answers 200",
                "your server kept running through the checks", "your server stops on SIGTERM",
            ])
        #expect(Self.check(r, "the reference counted every request") == nil, "reference-only checks skip the learner's server")
        #expect(!Loopback.accepts(port: port))
    }

    @Test func theServerGetsPortDatabaseURLScratchMarkerAndTheInvokingFolder() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let seen = box.root.appendingPathComponent("environment.txt").path
        let database = "postgresql://lab@127.0.0.1:5999/bookshelf"
        let command = #"printf '%s\n' "$PORT" "${DATABASE_URL-unset}" "$CURRICULUM_LAB_ROOT" "$(pwd)" > '\#(seen)'; "# + Self.fakeCommand("good")
        let r = await box.run(LabSubject(.against, command), databaseURL: database)
        #expect(r.outcome == .passed, "\(r.error ?? "") \(r.checks)")
        let lines = try String(contentsOfFile: seen, encoding: .utf8).split(separator: "\n").map(String.init)
        try #require(lines.count == 4, "\(lines)")
        #expect(Int(lines[0]) == Self.startedPort(r))
        #expect(lines[1] == database)
        #expect(lines[2].hasPrefix(box.root.path + "/lab-kit-service-"), "the run's scratch folder, inside the root: \(lines[2])")
        #expect(lines[3] == FileManager.default.currentDirectoryPath, "the folder curriculum was invoked from")
    }

    @Test func aServerThatExitsAtOnceFailsAtOnceWithItsStatusAndOutput() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        // A start limit far beyond the run's length: a run that waited for it would show.
        let r = await box.run(LabSubject(.against, "echo 'config.toml: no such file' >&2; exit 3"), startTimeout: 300)
        #expect(r.outcome == .failed)
        let error = try #require(r.error)
        #expect(error.hasPrefix("your server exited with status 3 before it listened on 127.0.0.1:"), "\(error)")
        #expect(error.contains("The last lines of its output:\n      config.toml: no such file"), "\(error)")
        #expect(r.seconds < 120, "it failed when the server exited, not at the 300 s limit: \(r.seconds) s")
        #expect(r.checks.isEmpty, "no clean-up check after a failed start: \(r.checks)")
    }

    @Test func aMissingProgramIsAFailedStartNotACrash() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let r = await box.run(LabSubject(.against, "no-such-server-\(UUID().uuidString.prefix(6)) --port \"$PORT\""))
        #expect(r.outcome == .failed)
        let error = try #require(r.error)
        #expect(error.hasPrefix("your server exited with status 127 before it listened on 127.0.0.1:"), "\(error)")
        #expect(error.contains("not found"), "the shell's own complaint is in the tail: \(error)")
    }

    @Test func aServerThatNeverListensTimesOutWithItsOutput() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let r = await box.run(LabSubject(.against, Self.fakeCommand("never-listens")), startTimeout: 3)
        #expect(r.outcome == .failed)
        let error = try #require(r.error)
        #expect(error.range(of: #"^your server did not accept connections on 127\.0\.0\.1:\d+ within 3 s\. "#, options: .regularExpression) != nil, "\(error)")
        #expect(!error.contains("instead"), "it listens nowhere: \(error)")
        #expect(error.contains("starting up slowly..."), "\(error)")
        #expect(r.seconds >= 3)
    }

    @Test func aServerOnAnotherPortIsToldToReadPORT() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let other = try Loopback.freePort()
        // Long enough for Python to start on a busy machine: the port is found only once bound.
        let r = await box.run(LabSubject(.against, Self.fakeCommand("other-port \(other)")), startTimeout: 6)
        #expect(r.outcome == .failed)
        let error = try #require(r.error)
        #expect(error.contains("within 6 s; it is listening on 127.0.0.1:\(other) instead — read the port from $PORT."), "\(error)")
        #expect(
            error.contains("listening on 127.0.0.1:\(other)\n") || error.hasSuffix("listening on 127.0.0.1:\(other)"),
            "its own log line is in the tail: \(error)")
        #expect(!Loopback.accepts(port: other), "the server on the other port was stopped too")
    }

    @Test func aServerThatDiesMidRunFailsTheRunAndSaysSo() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let r = await box.run(LabSubject(.against, Self.fakeCommand("die-after 1")), requests: 3)
        #expect(r.outcome == .failed)
        #expect(r.error == nil, "the run itself did not throw: \(r.error ?? "")")
        #expect(Self.check(r, "GET /health #1 answers 200")?.passed == true)
        #expect(Self.check(r, "GET /health #2 answers 200")?.passed == false)
        let crash = try #require(Self.check(r, "your server kept running through the checks"), "\(r.checks)")
        #expect(!crash.passed)
        #expect(crash.observed.hasPrefix("it exited with status 3."), "\(crash.observed)")
        #expect(crash.observed.contains("fatal: request 2 is one too many"), "\(crash.observed)")
        #expect(r.steps.contains { $0.title == "your server stopped while the checks ran" })
        #expect(Self.check(r, "your server stops on SIGTERM") == nil, "a dead server cannot be asked to stop")
    }

    @Test func aServerThatIgnoresSIGTERMIsKilledAndFails() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let r = await box.run(LabSubject(.against, Self.fakeCommand("ignore-term")))
        #expect(r.outcome == .failed)
        #expect(Self.check(r, "your server kept running through the checks")?.passed == true)
        let stop = try #require(Self.check(r, "your server stops on SIGTERM"), "\(r.checks)")
        #expect(!stop.passed)
        #expect(stop.observed.hasPrefix("it was still running 3 s after SIGTERM and was killed with SIGKILL."), "\(stop.observed)")
        #expect(stop.observed.contains("SIGTERM? never heard of it"), "\(stop.observed)")
        #expect(r.steps.contains { $0.title == "stopped your server with SIGKILL" })
        #expect(r.seconds >= 3, "it had its grace period")
    }

    @Test func aServerThatLeavesItsProcessGroupIsStillFollowedAndStopped() async throws {
        // `setsid -f` forks the server into a session of its own and exits 0 at once, as a
        // build tool's daemon would: the shell's exit is not the server's, and a signal to
        // the group would miss it. The server is followed by its CURRICULUM_LAB_SERVER.
        let box = try Box(); defer { box.expectNothingLeft() }
        let r = await box.run(LabSubject(.against, "setsid -f " + Self.fakeCommand("good")))
        #expect(r.outcome == .passed, "\(r.error ?? "") \(r.checks)")
        #expect(Self.check(r, "your server stops on SIGTERM")?.passed == true)
    }

    // MARK: --url

    @Test func aRunningServerIsFoundByURLAndTheURLIsNormalised() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let port = try Loopback.freePort()
        let pid = try await box.startFake("good", port: port)
        defer { box.stopFake(pid) }
        let r = await box.run(LabSubject(.url, "127.0.0.1:\(port)/"), requests: 2)
        #expect(r.outcome == .passed, "\(r.error ?? "") \(r.checks)")
        #expect(r.steps.contains { $0.title == "found your server at http://127.0.0.1:\(port)" && $0.detail?.hasSuffix(" 200 OK") == true }, "\(r.steps)")
        #expect(r.steps.contains { $0.title == "judging http://127.0.0.1:\(port)" })
        #expect(Self.check(r, "your server stops on SIGTERM") == nil, "--url servers are the learner's to stop")
    }

    @Test func aURLWhereNothingListensSaysSo() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let port = try Loopback.freePort()
        let r = await box.run(LabSubject(.url, "http://127.0.0.1:\(port)"))
        #expect(r.outcome == .failed)
        #expect(
            r.error
                == "nothing is listening at http://127.0.0.1:\(port) (Connection refused); start your server first, or let the lab start it with --against 'CMD'"
        )
    }

    @Test func aURLThatAnswersGarbageIsNotHTTP() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let port = try Loopback.freePort()
        let pid = try await box.startFake("garbage \(port)", port: port)
        defer { box.stopFake(pid) }
        let r = await box.run(LabSubject(.url, "http://127.0.0.1:\(port)"))
        #expect(r.outcome == .failed)
        #expect(
            r.error == #"your server at http://127.0.0.1:\#(port) is not HTTP: it answered GET /health with "\x00\x01SSH-2.0-nope\r\n""#, "\(r.error ?? "")")
    }

    @Test func aURLThatNeverAnswersTimesOutAfterTwoSeconds() async throws {
        let box = try Box(); defer { box.expectNothingLeft() }
        let port = try Loopback.freePort()
        let pid = try await box.startFake("silent \(port)", port: port)
        defer { box.stopFake(pid) }
        let started = ContinuousClock.now
        let r = await box.run(LabSubject(.url, "http://127.0.0.1:\(port)/api"))
        let waited = ContinuousClock.now - started
        #expect(r.outcome == .failed)
        #expect(r.error == "your server at http://127.0.0.1:\(port)/api accepted a connection but gave no answer within 2 s to GET /api/health")
        #expect(waited >= .seconds(2) && waited < .seconds(60), "it waited its 2 s, and did not hang")
    }

    @Test func aSubjectFailureIsTheRunsErrorWordForWord() async throws {
        let r = await LabRunner.run(SubjectFailureLab.self, info: SubjectFailureLab.info, quick: false, parameters: [:])
        #expect(r.outcome == .failed)
        #expect(r.error == "your server is not HTTP", "not \"the lab stopped with an error: …\"")
    }

    // MARK: Pieces

    @Test(arguments: [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("HTTP://LocalHost:8080/", "http://localhost:8080"),
        ("http://127.0.0.1:8080/api//", "http://127.0.0.1:8080/api"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
        ("http://example.test", "http://example.test"),
    ])
    func urlsAreNormalised(given: String, base: String) throws {
        #expect(try ServiceURL(given).base == base)
    }

    @Test func onlyHTTPURLsAreTaken() {
        #expect(throws: SubjectFailure.self) { try ServiceURL("https://127.0.0.1:8443") }
        #expect(throws: SubjectFailure.self) { try ServiceURL("http://") }
    }

    @Test func procNetAddressesAreDecoded() {
        #expect(ProcessTable.decode("0100007F:1F90") == "127.0.0.1:8080")
        #expect(ProcessTable.decode("00000000:0050") == "0.0.0.0:80")
        #expect(ProcessTable.decode("00000000000000000000000001000000:1F90") == "[::1]:8080")
        #expect(ProcessTable.decode("00000000000000000000000000000000:01BB") == "[::]:443")
        #expect(ProcessTable.decode("nonsense") == nil)
    }
}
