import Foundation
import LabCatalog
import LabKit
import Testing

@testable import AuthLabs

/// The phase-3 labs: each passes against the reference in quick mode, each breaker fails
/// exactly its check, the starter folders are written, and an independent Python server
/// (Fixtures/bookshelf_auth.py) passes jwt-auth and rbac over --url, and fails exactly the
/// alg: none check when told to accept alg: none. Serialized: each test starts servers.
@Suite(.serialized) struct AuthLabsTests {
    static let ids = ["jwt-auth", "rbac", "https-tls", "input-validation", "token-refresh", "rate-limiting"]

    static func type(_ id: String) throws -> any Lab.Type {
        try #require(AuthLabs.labs.first { $0.id == id })
    }

    static func run(
        _ id: String, _ given: [String: String] = [:], subject: LabSubject = .reference,
        clock: LabClock = .system()
    ) async throws -> LabReport {
        let type = try type(id)
        let parameters = try type.info.resolve(parameters: given, quick: true)
        return await LabRunner.run(type, info: type.info, quick: true, parameters: parameters, subject: subject, clock: clock)
    }

    static func failures(_ r: LabReport) -> String {
        let failed = r.checks.filter { !$0.passed }.map { "\($0.name): expected \($0.expected), observed \($0.observed)" }
        return (failed + [r.error].compactMap { $0 }).joined(separator: "\n")
    }

    @Test func labsAreRegisteredInPlanOrder() {
        #expect(AuthLabs.labs.map { $0.id } == Self.ids)
        for lab in AuthLabs.labs {
            #expect(lab.info.phase == 3)
            #expect(FileManager.default.fileExists(atPath: Self.packageRoot.appendingPathComponent(lab.info.source).path), "\(lab.info.source)")
        }
    }

    @Test(arguments: ids)
    func passesInQuickModeAgainstTheReference(_ id: String) async throws {
        let report = try await Self.run(id)
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count >= 5)
    }

    @Test func jwtAuthPassesWithES256() async throws {
        let report = try await Self.run("jwt-auth", ["alg": "es256"])
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count == JWTAuthLab.checks.count)
    }

    /// Every breaker of every lab and the check it must fail (matched by prefix: reference-only
    /// checks carry a suffix in the report).
    static let breakers: [(lab: String, fault: String, failing: [String])] = [
        ("jwt-auth", "user-enumeration", [JWTAuthLab.login.name]),
        ("jwt-auth", "verify-other-key", [JWTAuthLab.valid.name]),
        ("jwt-auth", "signature-cache", [JWTAuthLab.tampered.name]),
        ("jwt-auth", "dev-key", [JWTAuthLab.wrongKey.name]),
        ("jwt-auth", "alg-none", [JWTAuthLab.algNone.name]),
        ("jwt-auth", "ignore-exp", [JWTAuthLab.expired.name]),
        ("jwt-auth", "ignore-nbf", [JWTAuthLab.notYet.name]),
        ("rbac", "anonymous-writes", [RBACLab.anonymous.name]),
        ("rbac", "reader-writes", [RBACLab.reader.name]),
        ("rbac", "editor-denied", [RBACLab.editor.name]),
        ("rbac", "editor-deletes", [RBACLab.delete.name]),
        ("rbac", "anyone-sets-roles", [RBACLab.roles.name]),
        ("rbac", "stale-role-cache", [RBACLab.nextToken.name]),
        ("https-tls", "tls12-max", [HTTPSTLSLab.trusted.name]),
        ("https-tls", "no-verify", [HTTPSTLSLab.untrusted.name]),
        ("https-tls", "no-hostname-check", [HTTPSTLSLab.mismatch.name]),
        ("https-tls", "expired-still-valid", [HTTPSTLSLab.expired.name]),
        ("https-tls", "allow-tls10", [HTTPSTLSLab.oldVersions.name]),
        ("input-validation", "unsafe-binds", [InputValidationLab.leaks.name]),
        ("input-validation", "safe-concatenates", [InputValidationLab.bound.name]),
        ("input-validation", "no-escape", [InputValidationLab.escaped.name]),
        ("input-validation", "no-size-limit", [InputValidationLab.oversized.name]),
        ("input-validation", "malformed-500", [InputValidationLab.malformed.name]),
        ("input-validation", "search-concatenated", [InputValidationLab.shelfSearch.name]),
        ("input-validation", "reviews-as-html", [InputValidationLab.shelfMarkup.name]),
        ("input-validation", "client-errors-as-500", [InputValidationLab.shelfBodies.name]),
        ("token-refresh", "no-rotation", [TokenRefreshLab.rotates.name]),
        ("token-refresh", "reuse-allowed", [TokenRefreshLab.spent.name]),
        ("token-refresh", "no-family-revoke", [TokenRefreshLab.family.name]),
        ("token-refresh", "no-expiry", [TokenRefreshLab.accessExpires.name]),
        ("token-refresh", "refresh-no-expiry", [TokenRefreshLab.refreshExpires.name]),
        ("token-refresh", "refresh-plaintext", [TokenRefreshLab.hashed.name]),
        ("rate-limiting", "racy-bucket", [RateLimitingLab.bucket.name]),
        ("rate-limiting", "fixed-window", [RateLimitingLab.window.name]),
        ("rate-limiting", "uncapped-refill", [RateLimitingLab.refill.name]),
        ("rate-limiting", "redis-get-set", [RateLimitingLab.redisBucket.name]),
        ("rate-limiting", "redis-fixed-window", [RateLimitingLab.redisWindow.name]),
        // Without a limit there is no 429 whose Retry-After could be judged.
        ("rate-limiting", "no-login-limit", [RateLimitingLab.login.name, RateLimitingLab.retryAfter.name]),
        ("rate-limiting", "retry-after-zero", [RateLimitingLab.retryAfter.name]),
    ]

    @Test(arguments: breakers.indices)
    func eachBreakerFailsExactlyItsCheck(_ index: Int) async throws {
        let (id, fault, failing) = Self.breakers[index]
        let report = try await Self.run(id, ["break": fault])
        let failed = report.checks.filter { !$0.passed }.map(\.name)
        #expect(report.outcome == .failed)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(
            failed.count == failing.count && failing.allSatisfy { name in failed.contains { $0.hasPrefix(name) } },
            "\(id) break=\(fault): failed \(failed), want \(failing)")
    }

    @Test func everyBreakerOfEveryLabIsTested() throws {
        for id in Self.ids {
            let parameter = try #require(try Self.type(id).info.parameter("break"))
            guard case let .choice(options) = parameter.kind else { Issue.record("break is not a choice"); continue }
            let tested = Set(Self.breakers.filter { $0.lab == id }.map(\.fault))
            #expect(Set(options.filter { $0 != "none" }) == tested, "\(id)")
        }
    }

    @Test(arguments: ids)
    func everyCheckHasABreaker(_ id: String) async throws {
        let report = try await Self.run(id)
        let broken = Set(Self.breakers.filter { $0.lab == id }.flatMap(\.failing))
        for check in report.checks {
            #expect(broken.contains { check.name.hasPrefix($0) }, "\(id): no breaker fails \(check.name)")
        }
    }

    @Test(arguments: ids)
    func starterHasReadmeAndContract(_ id: String) throws {
        let type = try Self.type(id)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("starter-\(id)-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let written = try LabStarter.write(type, into: folder)
        #expect(written.map { URL(fileURLWithPath: $0).lastPathComponent }.contains("README.md"))
        let readme = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("curriculum lab run \(id)"))
    }

    // MARK: A learner's server: the Python fixture over --url

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Starts Fixtures/bookshelf_auth.py on a free port; returns its base URL and pid.
    static func startPython(violation: String? = nil, environment extra: [String: String] = [:]) async throws -> (url: String, pid: pid_t) {
        let port = try Loopback.freePort()
        var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        environment["PORT"] = String(port)
        if let violation { environment["AUTH_VIOLATION"] = violation }
        let script = packageRoot.appendingPathComponent("Tests/AuthLabsTests/Fixtures/bookshelf_auth.py").path
        let pid = try Subprocess.spawn("/usr/bin/python3", [script], environment: environment)
        let url = "http://127.0.0.1:\(port)"
        let probe = LoopbackHTTP(baseURL: url, timeout: .seconds(1))
        defer { Task { await probe.shutdown() } }
        for _ in 0..<400 {
            if let r = try? await probe.get("/health"), r.status == 200 { return (url, pid) }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        stop(pid)
        throw LabError("the Python bookshelf did not answer /health on port \(port)")
    }

    static func stop(_ pid: pid_t) {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// openssl(1), run in `directory`; throws with its output when it fails.
    static func openssl(_ arguments: [String], in directory: URL) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = arguments
        p.currentDirectoryURL = directory
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw LabError("openssl \(arguments.first ?? ""): " + String(decoding: output, as: UTF8.self)) }
    }

    /// A CA and a `localhost` certificate it signed, made with openssl (not the lab's code).
    static func makePKI(in dir: URL, caName: String) throws {
        try openssl(
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "2", "-subj", "/CN=\(caName)",
            ], in: dir)
        try openssl(
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key",
                "-out", "server.csr", "-subj", "/CN=localhost",
            ], in: dir)
        try "subjectAltName=DNS:localhost\n".write(to: dir.appendingPathComponent("san.ext"), atomically: true, encoding: .utf8)
        try openssl(
            [
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.pem", "-days", "2", "-extfile", "san.ext",
            ], in: dir)
    }

    /// https-tls in exercise mode: a learner's own TLS endpoint (Python's ssl module, with a
    /// CA made by openssl) passes with its CA given as --param ca=FILE, and the same
    /// endpoint judged with a CA that did not sign it fails the trust check.
    @Test func aLearnersTLSEndpointIsCheckedWithItsOwnCA() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tls-learner-\(UUID().uuidString.prefix(8))")
        let other = dir.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.makePKI(in: dir, caName: "Learner CA")
        try Self.makePKI(in: other, caName: "Someone else's CA")

        let port = try Loopback.freePort()
        var environment = ProcessInfo.processInfo.environment
        environment["PORT"] = String(port)
        environment["CERT"] = dir.appendingPathComponent("server.pem").path
        environment["KEY"] = dir.appendingPathComponent("server.key").path
        let script = Self.packageRoot.appendingPathComponent("Tests/AuthLabsTests/Fixtures/tls_health.py").path
        let pid = try Subprocess.spawn("/usr/bin/python3", [script], environment: environment)
        defer { Self.stop(pid) }
        var listening = false
        for _ in 0..<400 where !listening {
            listening = Loopback.accepts(port: port)
            if !listening { try await Task.sleep(for: .milliseconds(50)) }
        }
        try #require(listening, "the Python TLS server did not listen on \(port)")

        let url = LabSubject(.url, "https://127.0.0.1:\(port)")
        let good = try await Self.run("https-tls", ["ca": dir.appendingPathComponent("ca.pem").path], subject: url)
        #expect(good.outcome == .passed, "\(Self.failures(good))")
        #expect(good.checks.count >= 4)

        let wrongCA = try await Self.run("https-tls", ["ca": other.appendingPathComponent("ca.pem").path], subject: url)
        #expect(wrongCA.checks.filter { !$0.passed }.map(\.name).contains(HTTPSTLSLab.trusted.name))

        // A CA file that is not there is one clear sentence naming the knob, and no check is judged.
        let missing = try await Self.run("https-tls", ["ca": dir.appendingPathComponent("nope.pem").path], subject: url)
        #expect(missing.outcome != .passed)
        #expect(missing.checks.isEmpty)
        #expect(missing.error?.contains("--param ca=") == true, "\(Self.failures(missing))")
    }

    @Test(arguments: ["jwt-auth", "rbac"])
    func aPythonServerWrittenFromTheContractPasses(_ id: String) async throws {
        let server = try await Self.startPython()
        defer { Self.stop(server.pid) }
        let report = try await Self.run(id, subject: LabSubject(.url, server.url))
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count >= 5)
    }

    /// The fixture writes `exp` in whole seconds, as most servers do, so a token lives between
    /// ttl − 1 and ttl seconds: a 1 s lifetime can end before the first request on a loaded
    /// machine (CI saw it). Three seconds leaves two of margin.
    @Test func thePythonServerPassesTokenRefreshWithShortExpiries() async throws {
        let server = try await Self.startPython(environment: ["ACCESS_TTL": "3", "REFRESH_TTL": "5"])
        defer { Self.stop(server.pid) }
        let report = try await Self.run("token-refresh", ["access-ttl": "3", "refresh-ttl": "5"], subject: LabSubject(.url, server.url))
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count == TokenRefreshLab.checks.count - 1)
    }

    @Test func thePythonServerPassesTheLoginRateLimitChecks() async throws {
        let server = try await Self.startPython()
        defer { Self.stop(server.pid) }
        let report = try await Self.run("rate-limiting", subject: LabSubject(.url, server.url))
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.map(\.name) == [RateLimitingLab.login.name, RateLimitingLab.retryAfter.name])
    }

    /// The login check sends login-limit + 8 attempts at least, so it can fail at any limit the
    /// knob allows: the reference passes at both ends, and a server allowing one more fails.
    @Test(arguments: [1, 100])
    func theLoginLimitCheckHoldsAtBothEndsOfItsKnob(_ limit: Int) async throws {
        let report = try await Self.run("rate-limiting", ["login-limit": String(limit)])
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        let server = try await Self.startPython(environment: ["LOGIN_LIMIT": String(limit + 1)])
        defer { Self.stop(server.pid) }
        let loose = try await Self.run("rate-limiting", ["login-limit": String(limit)], subject: LabSubject(.url, server.url))
        #expect(loose.checks.filter { !$0.passed }.map(\.name) == [RateLimitingLab.login.name], "\(Self.failures(loose))")
    }

    /// Input validation judges the reference at both ends of its postgres knob.
    @Test func inputValidationPassesWithPostgreSQL() async throws {
        let report = try await Self.run("input-validation", ["postgres": "true"])
        #expect(report.outcome == .passed, "\(Self.failures(report))")
    }

    @Test func thePythonServerAcceptingAlgNoneFailsExactlyTheAlgNoneCheck() async throws {
        let server = try await Self.startPython(violation: "alg-none")
        defer { Self.stop(server.pid) }
        let report = try await Self.run("jwt-auth", subject: LabSubject(.url, server.url))
        #expect(report.checks.filter { !$0.passed }.map(\.name) == [JWTAuthLab.algNone.name], "\(Self.failures(report))")
    }
}
