import AuthLabs
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LabCatalog
import LabKit
import Testing

@testable import GRPCLabs

/// Phase 9: each lab passes against the reference in quick mode, each breaker fails exactly
/// its checks, knob extremes pass, the starters carry the .proto, the generated Swift is not
/// stale, and the labs judge a server that is not the lab's own (`--url`, `--against`): the
/// C++ server, and the Swift service started by the test itself, plaintext and over TLS.
/// Serialized: each test starts servers; grpc-codegen compiles C++ once (then cached).
@Suite(.serialized) struct GRPCLabsTests {
    static let ids = ["proto-schemas", "grpc-codegen", "grpc-vs-rest", "grpc-streaming", "grpc-tls"]
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func type(_ id: String) throws -> any Lab.Type {
        try #require(GRPCLabs.labs.first { $0.id == id })
    }

    static func run(_ id: String, _ given: [String: String] = [:], subject: LabSubject = .reference) async throws -> LabReport {
        let type = try type(id)
        let parameters = try type.info.resolve(parameters: given, quick: true)
        return await LabRunner.run(type, info: type.info, quick: true, parameters: parameters, subject: subject)
    }

    static func failures(_ r: LabReport) -> String {
        let failed = r.checks.filter { !$0.passed }.map { "\($0.name): expected \($0.expected), observed \($0.observed)" }
        return (failed + [r.error].compactMap { $0 }).joined(separator: "\n")
    }

    @Test func labsAreRegisteredInPlanOrder() {
        #expect(GRPCLabs.labs.map { $0.id } == Self.ids)
        for lab in GRPCLabs.labs {
            #expect(lab.info.phase == 9)
            #expect(FileManager.default.fileExists(atPath: Self.packageRoot.appendingPathComponent(lab.info.source).path), "\(lab.info.source)")
        }
    }

    @Test(arguments: ids)
    func passesInQuickModeAgainstTheReference(_ id: String) async throws {
        let report = try await Self.run(id)
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count >= 4)
    }

    static let codegen = [
        "the Swift client ↔ the Swift server", "the C++ client ↔ the Swift server",
        "the Swift client ↔ the C++ server", "the C++ client ↔ the C++ server",
    ]

    /// Every breaker and the checks it must fail (by prefix: check names carry the port).
    static let breakers: [(lab: String, fault: String, failing: [String])] = [
        ("proto-schemas", "varint-one-byte", ["hand decoding equals swift-protobuf's"]),
        ("proto-schemas", "drop-unknown", ["an old reader skips the new fields and keeps them"]),
        ("proto-schemas", "no-skip", ["the hand decoder skips unknown fields by their wire type"]),
        ("proto-schemas", "rename-only", ["a renumbered field breaks compatibility"]),
        ("grpc-codegen", "swift-drop-tags", [codegen[0], codegen[1]]),
        ("grpc-codegen", "cpp-missing-ok", [codegen[2], codegen[3]]),
        ("grpc-vs-rest", "stale-title", ["REST and gRPC give the same answer for every book"]),
        ("grpc-vs-rest", "missing-internal", ["a missing book is 404 over REST and NOT_FOUND over gRPC"]),
        ("grpc-vs-rest", "proto-padding", ["protobuf's payload is smaller than JSON's"]),
        ("grpc-vs-rest", "grpc-fail-late", ["every timed call answered, both protocols"]),
        ("grpc-streaming", "ticker-skip", ["every tick arrived"]),
        ("grpc-streaming", "ticker-shuffle", ["ticks in order"]),
        ("grpc-streaming", "chat-drop", ["every chat message answered, in order"]),
        ("grpc-streaming", "chat-buffer", ["chat answers while the client is still sending"]),
        ("grpc-streaming", "ignore-cancel", ["cancelling stops the server's stream"]),
        ("grpc-tls", "wrong-name", ["a client trusting the CA gets answers over TLS"]),
        // A plaintext server: the TLS client cannot talk to it, and the plaintext one gets in.
        ("grpc-tls", "no-tls", ["a client trusting the CA gets answers over TLS", "a plaintext client is refused"]),
        ("grpc-tls", "untrusting-no-verify", ["a client that does not trust the CA is refused"]),
        ("grpc-tls", "expired-still-valid", ["an expired certificate is refused by the trusting client"]),
    ]

    @Test(arguments: breakers.indices)
    func eachBreakerFailsExactlyItsChecks(_ index: Int) async throws {
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
        // The C++ build's check fails only when the compiler refuses the code.
        for check in report.checks where !check.name.hasPrefix("the C++ server and client compile") {
            #expect(broken.contains { check.name.hasPrefix($0) }, "\(id): no breaker fails \(check.name)")
        }
    }

    /// LABS.md: every knob's minimum and maximum runs in quick mode, except grpc-vs-rest's
    /// calls=100000 (two hundred thousand calls one at a time: minutes), for which 1000 stands.
    static let extremes: [(lab: String, parameters: [String: String])] = [
        ("proto-schemas", ["samples": "1", "seed": "0"]),
        ("proto-schemas", ["samples": "100000", "seed": "1000000"]),
        ("grpc-codegen", ["rounds": "20"]),
        ("grpc-vs-rest", ["books": "1", "calls": "10"]),
        ("grpc-vs-rest", ["books": "1000", "calls": "1000"]),
        ("grpc-streaming", ["ticks": "3", "interval-ms": "0", "messages": "3", "cancel-after": "1"]),
        ("grpc-streaming", ["ticks": "5000", "interval-ms": "0", "messages": "500", "cancel-after": "100"]),
        ("grpc-streaming", ["ticks": "10", "interval-ms": "200"]),
        ("grpc-tls", ["calls": "1"]),
        ("grpc-tls", ["calls": "200"]),
    ]

    @Test(arguments: extremes.indices)
    func knobExtremesPass(_ index: Int) async throws {
        let (id, parameters) = Self.extremes[index]
        let report = try await Self.run(id, parameters)
        #expect(report.outcome == .passed, "\(id) \(parameters): \(Self.failures(report))")
    }

    @Test(arguments: ["grpc-codegen", "grpc-streaming", "grpc-tls"])
    func starterHasReadmeAndTheProto(_ id: String) throws {
        let type = try Self.type(id)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("starter-\(id)-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try LabStarter.write(type, into: folder)
        let readme = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("curriculum lab run \(id)"))
        let proto = try String(contentsOf: folder.appendingPathComponent("bookshelf.proto"), encoding: .utf8)
        #expect(proto == BookshelfProto.text)
    }

    // MARK: The generated code

    static let protoFile = packageRoot.appendingPathComponent("Sources/Labs/GRPC/Proto/bookshelf.proto")

    /// Always on: the .proto the generated Swift was made from (embedded beside it by
    /// scripts/generate-grpc.sh) is the file on disk.
    @Test func theGeneratedCodeWasMadeFromTheProtoOnDisk() throws {
        let onDisk = try String(contentsOf: Self.protoFile, encoding: .utf8)
        #expect(onDisk == BookshelfProto.text, "bookshelf.proto changed since the Swift was generated: run bash scripts/generate-grpc.sh")
    }

    /// The C++ the lab compiles is the file under Phase09/cpp (embedded by scripts/embed-cpp.sh).
    @Test func theEmbeddedCppIsTheFileOnDisk() throws {
        let file = Self.packageRoot.appendingPathComponent("Sources/Labs/GRPC/Phase09/cpp/bookshelf-grpc/main.cpp")
        #expect(
            CppSources.files["bookshelf-grpc/main.cpp"] == (try String(contentsOf: file, encoding: .utf8)),
            "Phase09/cpp changed since it was embedded: run sh scripts/embed-cpp.sh")
    }

    /// With the plugins at hand (PROTOC_PLUGINS_DIR, or the folder the plugins were built in on
    /// the development machine): regenerating gives exactly the committed files.
    @Test func theCommittedSwiftEqualsARegeneration() async throws {
        let env = ProcessInfo.processInfo.environment
        let dir = env["PROTOC_PLUGINS_DIR"] ?? "/tmp/protoc-plugins/.build/release"
        let swiftPlugin = dir + "/protoc-gen-swift", grpcPlugin = dir + "/protoc-gen-grpc-swift-2"
        guard let protoc = ProgramFinder.locate("protoc"),
            FileManager.default.isExecutableFile(atPath: swiftPlugin), FileManager.default.isExecutableFile(atPath: grpcPlugin)
        else {
            print("skipped: protoc-gen-swift and protoc-gen-grpc-swift-2 are not built (set PROTOC_PLUGINS_DIR; scripts/generate-grpc.sh builds them)")
            return
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-gen-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        let proto = Self.protoFile.deletingLastPathComponent().path
        let r = try await Subprocess.capture(
            protoc,
            [
                "-I", proto, "--plugin=protoc-gen-swift=\(swiftPlugin)", "--swift_out=\(out.path)", "--swift_opt=Visibility=Internal",
                "--plugin=protoc-gen-grpc-swift-2=\(grpcPlugin)", "--grpc-swift-2_out=\(out.path)",
                "--grpc-swift-2_opt=Visibility=Internal,Client=true,Server=true", Self.protoFile.path,
            ])
        #expect(r.termination.succeeded, "\(r.output)")
        let committed = Self.packageRoot.appendingPathComponent("Sources/Labs/GRPC/Generated")
        for name in ["bookshelf.pb.swift", "bookshelf.grpc.swift"] {
            let fresh = try String(contentsOf: out.appendingPathComponent(name), encoding: .utf8)
            let kept = try String(contentsOf: committed.appendingPathComponent(name), encoding: .utf8)
            #expect(fresh == kept, "\(name) is stale: run bash scripts/generate-grpc.sh")
        }
    }

    // MARK: A server that is not the lab's own

    /// The Swift service started by the test, outside any lab run, on a free port.
    static func startServer(security: HTTP2ServerTransport.Posix.TransportSecurity = .plaintext) async throws -> (port: Int, stop: @Sendable () async -> Void) {
        let server = GRPCServer(
            transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: security),
            services: [BookshelfGRPCService()])
        let task = Task { try await server.serve() }
        let port = try #require(try await server.listeningAddress?.ipv4?.port)
        return (
            port,
            {
                server.beginGracefulShutdown(); _ = try? await task.value
            }
        )
    }

    @Test func streamingJudgesAServerGivenByURL() async throws {
        let server = try await Self.startServer()
        let report = try await Self.run("grpc-streaming", subject: LabSubject(.url, "127.0.0.1:\(server.port)"))
        await server.stop()
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count == 5)
    }

    @Test func codegenJudgesTheCppServerStartedWithAgainst() async throws {
        // The reference run compiles (or finds in the cache) the C++ binary; the same one is the "learner's" server.
        let warm = try await Self.run("grpc-codegen")
        #expect(warm.outcome == .passed, "\(Self.failures(warm))")
        let binary = try #require(Self.cachedCppBinary(), "the C++ bookshelf_grpc is not in the build cache")
        let report = try await Self.run("grpc-codegen", subject: LabSubject(.against, "exec '\(binary)' server"))
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        let names = report.checks.map(\.name)
        #expect(names.contains { $0.hasPrefix("the Swift client ↔ your server") })
        #expect(names.contains { $0.hasPrefix("the C++ client ↔ your server") })
    }

    @Test func codegenFailsAServerThatAnswersOKForAMissingBook() async throws {
        let binary = try #require(Self.cachedCppBinary(), "the C++ bookshelf_grpc is not in the build cache")
        let report = try await Self.run("grpc-codegen", subject: LabSubject(.against, "LAB_BREAK=cpp-missing-ok exec '\(binary)' server"))
        let failed = report.checks.filter { !$0.passed }.map(\.name)
        #expect(failed.count == 2 && failed.allSatisfy { $0.contains("↔ your server") }, "\(failed)")
    }

    @Test func tlsJudgesALearnersServerWithItsOwnCA() async throws {
        let now = Date()
        let pki = try LabPKI(now: now)
        let (cert, key) = try pki.issue(from: now.addingTimeInterval(-60), until: now.addingTimeInterval(3600))
        let server = try await Self.startServer(security: try GRPCTLSLab.serverTLS(cert, key))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-tls-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("ca.pem"), other = dir.appendingPathComponent("other-ca.pem")
        try pki.ca.serializeAsPEM().pemString.write(to: good, atomically: true, encoding: .utf8)
        try LabPKI(now: now).ca.serializeAsPEM().pemString.write(to: other, atomically: true, encoding: .utf8)

        let trusted = try await Self.run("grpc-tls", ["ca": good.path], subject: LabSubject(.url, "localhost:\(server.port)"))
        let wrongCA = try await Self.run("grpc-tls", ["ca": other.path], subject: LabSubject(.url, "localhost:\(server.port)"))
        await server.stop()
        #expect(trusted.outcome == .passed, "\(Self.failures(trusted))")
        #expect(trusted.checks.count == 3)
        #expect(wrongCA.checks.filter { !$0.passed }.map(\.name) == ["a client trusting the CA gets answers over TLS"])
    }

    /// The newest bookshelf_grpc in the C++ build cache.
    static func cachedCppBinary() -> String? {
        let root = CppBuild.cacheFolder().appendingPathComponent("cpp")
        let folders = (try? FileManager.default.contentsOfDirectory(at: root, includingPropertiesForKeys: [.contentModificationDateKey])) ?? []
        return folders.filter { $0.lastPathComponent.hasPrefix("bookshelf_grpc-") }
            .map { $0.appendingPathComponent("bookshelf_grpc") }
            .filter { FileManager.default.isExecutableFile(atPath: $0.path) }
            .max { a, b in
                let da = (try? a.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
                let db = (try? b.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
                return da < db
            }?.path
    }
}
