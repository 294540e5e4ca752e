import Foundation
import LabCatalog
import LabKit
import Testing

@testable import HTTPLabs

/// The phase-1 HTTP labs: each passes against the reference, each breaker fails exactly
/// its checks, the starter folders are written, and an independent Python implementation
/// of the contract passes rest-api over --url (and fails exactly the check it violates).
/// Serialized: each test starts servers and sends a few hundred requests; fifty of them at
/// once on a loaded two-core machine starve each other past the client's 5 s time limit.
@Suite(.serialized) struct HTTPLabsTests {
    static let ids = ["rest-api", "layered-architecture", "dtos", "logging-errors", "openapi-docs"]

    static func type(_ id: String) throws -> any Lab.Type {
        try #require(HTTPLabs.labs.first { $0.id == id })
    }

    static func run(_ id: String, _ given: [String: String] = [:], subject: LabSubject = .reference) async throws -> LabReport {
        let type = try type(id)
        return await LabRunner.run(
            type, info: type.info, quick: true,
            parameters: try type.info.resolve(parameters: given, quick: true), subject: subject)
    }

    static func failures(_ r: LabReport) -> String {
        let failed = r.checks.filter { !$0.passed }.map { "\($0.name): expected \($0.expected), observed \($0.observed)" }
        return (failed + [r.error].compactMap { $0 }).joined(separator: "\n")
    }

    @Test func labsAreRegisteredInPlanOrder() {
        #expect(HTTPLabs.labs.map { $0.id } == Self.ids)
        for lab in HTTPLabs.labs {
            #expect(lab.info.phase == 1)
            #expect(lab.info.subjects == [.url, .against])
            #expect(FileManager.default.fileExists(atPath: Self.packageRoot.appendingPathComponent(lab.info.source).path), "\(lab.info.source)")
        }
    }

    @Test(arguments: ids)
    func passesInQuickModeAgainstTheReference(_ id: String) async throws {
        let report = try await Self.run(id)
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count >= 5)
    }

    /// LABS.md: every knob's minimum and maximum runs in quick mode.
    @Test(arguments: [21, 300])
    func restAPIPassesAtTheBooksKnobsBounds(_ books: Int) async throws {
        let report = try await Self.run("rest-api", ["books": String(books)])
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.steps.contains { $0.title == "Created \(books) more books for the list" })
    }

    /// Every breaker of every lab, and the checks it must fail (by name; reference-only
    /// checks carry a suffix in the report, so names are matched by prefix).
    static let breakers: [(lab: String, fault: BookshelfFault, failing: [String])] = [
        ("rest-api", .skipLocation, [RESTAPILab.created.name]),
        ("rest-api", .dropISBN, [RESTAPILab.read.name]),
        ("rest-api", .putIgnored, [RESTAPILab.replaced.name]),
        ("rest-api", .deleteKeeps, [RESTAPILab.deleted.name]),
        ("rest-api", .plainErrors, [RESTAPILab.missing.name]),
        ("rest-api", .noAllowHeader, [RESTAPILab.notAllowed.name]),
        ("rest-api", .ignoreLimit, [RESTAPILab.paged.name]),
        ("rest-api", .caseSensitiveSearch, [RESTAPILab.filtered.name]),
        ("rest-api", .clampLimit, [RESTAPILab.badPage.name]),
        ("layered-architecture", .dropISBN, [LayeredArchitectureLab.roundTrip.name]),
        ("layered-architecture", .putIgnored, [LayeredArchitectureLab.replace.name]),
        ("layered-architecture", .deleteKeeps, [LayeredArchitectureLab.remove.name]),
        ("layered-architecture", .caseSensitiveSearch, [LayeredArchitectureLab.query.name]),
        ("layered-architecture", .sqliteDrift, [LayeredArchitectureLab.identical.name]),
        ("layered-architecture", .bypassService, [LayeredArchitectureLab.throughService.name]),
        ("layered-architecture", .sqliteInMemory, [LayeredArchitectureLab.realSQLite.name]),
        ("dtos", .leakInternal, [DTOsLab.closedAnswers.name]),
        ("dtos", .acceptUnknownFields, [DTOsLab.unknownFields.name]),
        ("dtos", .malformedAs422, [DTOsLab.malformed.name]),
        ("dtos", .skipISBNCheck, [DTOsLab.invalid.name]),
        ("dtos", .yearOffByOne, [DTOsLab.years.name]),
        ("dtos", .ratingUnchecked, [DTOsLab.reviews.name]),
        ("dtos", .localTimestamps, [DTOsLab.timestamps.name]),
        ("logging-errors", .plainErrors, [LoggingErrorsLab.problems.name]),
        ("logging-errors", .errorsAs500, [LoggingErrorsLab.mapping.name]),
        ("logging-errors", .noRequestID, [LoggingErrorsLab.echoed.name]),
        ("logging-errors", .echoAnyRequestID, [LoggingErrorsLab.generated.name]),
        ("logging-errors", .stackTraces, [LoggingErrorsLab.hidden500.name]),
        ("logging-errors", .logSkipErrors, [LoggingErrorsLab.oneLine.name]),
        ("logging-errors", .logNoLatency, [LoggingErrorsLab.lineFields.name]),
        ("openapi-docs", .docInvalid, [OpenAPIDocsLab.valid.name]),
        ("openapi-docs", .undocumentedRoute, [OpenAPIDocsLab.documented.name]),
        ("openapi-docs", .phantomRoute, [OpenAPIDocsLab.served.name]),
        ("openapi-docs", .docDrift, [OpenAPIDocsLab.conforming.name]),
        ("openapi-docs", .problemNoTitle, [OpenAPIDocsLab.problemConforms.name]),
        ("openapi-docs", .openSchemas, [OpenAPIDocsLab.closed.name]),
    ]

    @Test(arguments: breakers.indices)
    func eachBreakerFailsExactlyItsCheck(_ index: Int) async throws {
        let (id, fault, failing) = Self.breakers[index]
        let report = try await Self.run(id, ["break": fault.rawValue])
        let failed = report.checks.filter { !$0.passed }.map(\.name)
        #expect(report.outcome == .failed)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(
            failed.count == failing.count && failing.allSatisfy { name in failed.contains { $0.hasPrefix(name) } },
            "\(id) break=\(fault.rawValue): failed \(failed), want \(failing)")
    }

    @Test func everyBreakerOfEveryLabIsTested() throws {
        for id in Self.ids {
            let parameter = try #require(try Self.type(id).info.parameter("break"))
            guard case let .choice(options) = parameter.kind else { Issue.record("break is not a choice"); continue }
            let tested = Set(Self.breakers.filter { $0.lab == id }.map(\.fault.rawValue))
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
    func starterHasReadmeAndOpenAPIDocument(_ id: String) throws {
        let type = try Self.type(id)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("starter-\(id)-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let written = try LabStarter.write(type, into: folder)
        #expect(written.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted() == ["README.md", "openapi.json"])
        let readme = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("curriculum lab run \(id) --against"))
        #expect(readme.contains("--url"))
        let document = try Data(contentsOf: folder.appendingPathComponent("openapi.json"))
        let json = try #require(JSONValue.parse(document))
        #expect(json["openapi"]?.string?.hasPrefix("3.1") == true)
        #expect(json["paths"]?["/books/{id}"] != nil)
    }

    // MARK: A learner's server: the Python fixture over --url

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Starts Tests/HTTPLabsTests/Fixtures/bookshelf.py on a free port; returns its base URL and pid.
    static func startPython(violation: String? = nil, openAPIFile: String? = nil) async throws -> (url: String, pid: pid_t) {
        let port = try freePort()
        var environment = ProcessInfo.processInfo.environment
        if let openAPIFile { environment["OPENAPI_FILE"] = openAPIFile }
        environment["PORT"] = String(port)
        if let violation { environment["BOOKSHELF_VIOLATION"] = violation }
        let script = packageRoot.appendingPathComponent("Tests/HTTPLabsTests/Fixtures/bookshelf.py").path
        let pid = try Subprocess.spawn("/usr/bin/python3", [script], environment: environment)
        let url = "http://127.0.0.1:\(port)"
        let probe = LoopbackHTTP(baseURL: url, timeout: .seconds(1))
        defer { Task { await probe.shutdown() } }
        for _ in 0..<100 {
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

    static func freePort() throws -> Int { try Loopback.freePort() }

    @Test func aPythonServerWrittenFromTheContractPassesRESTAPI() async throws {
        let server = try await Self.startPython()
        defer { Self.stop(server.pid) }
        let report = try await Self.run("rest-api", subject: LabSubject(.url, server.url))
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count == RESTAPILab.checks.count)
    }

    @Test func thePythonServerWithoutLocationFailsExactlyTheLocationCheck() async throws {
        let server = try await Self.startPython(violation: "skip-location")
        defer { Self.stop(server.pid) }
        let report = try await Self.run("rest-api", subject: LabSubject(.url, server.url))
        #expect(report.checks.filter { !$0.passed }.map(\.name) == [RESTAPILab.created.name], "\(Self.failures(report))")
    }

    @Test func referenceOnlyChecksAreSkippedNotPassedAgainstALearnersServer() async throws {
        let server = try await Self.startPython()
        defer { Self.stop(server.pid) }
        let report = try await Self.run("logging-errors", subject: LabSubject(.url, server.url))
        let referenceOnly = LoggingErrorsLab.checks.filter(\.referenceOnly).map(\.name)
        #expect(!report.checks.contains { c in referenceOnly.contains { c.name.hasPrefix($0) } })
        #expect(report.steps.filter { $0.title.hasPrefix("Skipped (reference only)") }.count == referenceOnly.count)
        #expect(report.outcome == .passed, "\(Self.failures(report))")
    }

    /// openapi-docs judges a server written in Python that serves the openapi.json of
    /// `lab init`: every check passes; served a document that names the year
    /// `published_year`, exactly the check of answers against their schemas fails.
    @Test func aPythonServerServingTheStartersDocumentPassesOpenAPIDocs() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-docs-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try LabStarter.write(OpenAPIDocsLab.self, into: folder)
        let starter = folder.appendingPathComponent("openapi.json").path
        let server = try await Self.startPython(openAPIFile: starter)
        defer { Self.stop(server.pid) }
        let report = try await Self.run("openapi-docs", subject: LabSubject(.url, server.url))
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count == OpenAPIDocsLab.checks.count)

        let drifted = folder.appendingPathComponent("drifted.json")
        try Data(try BookshelfOpenAPI.json(fault: .docDrift)).write(to: drifted)
        let lying = try await Self.startPython(openAPIFile: drifted.path)
        defer { Self.stop(lying.pid) }
        let judged = try await Self.run("openapi-docs", subject: LabSubject(.url, lying.url))
        #expect(judged.checks.filter { !$0.passed }.map(\.name) == [OpenAPIDocsLab.conforming.name], "\(Self.failures(judged))")
    }
}
