import Foundation
import LabCatalog
import LabKit
import Testing

@testable import NativeLabs

/// Phase 5: the C++ labs, compiled at run time. Serialized: each run compiles with g++ and
/// several load the machine (threads, sockets); one at a time keeps timings honest.
@Suite(.serialized) struct NativeLabsTests {
    static let ids = ["cpp-rest-api", "cpp-libpqxx", "raw-sockets", "memory-pools", "cpp-threads", "multi-client-server"]
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let cppFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/Labs/Native/Phase05/cpp")

    static func run(_ id: String, _ given: [String: String] = [:], subject: LabSubject = .reference) async throws -> LabReport {
        let type = try #require(NativeLabs.labs.first { $0.id == id })
        let info = type.info
        return await LabRunner.run(type, info: info, quick: true, parameters: try info.resolve(parameters: given, quick: true), subject: subject)
    }

    static func failures(_ r: LabReport) -> String {
        let failed = r.checks.filter { !$0.passed }.map { "\($0.name): expected \($0.expected), observed \($0.observed)" }
        return (failed + [r.error].compactMap { $0 }).joined(separator: "\n")
    }

    // MARK: The embedded C++ is the C++ in the package

    @Test func embeddedSourcesAreTheFilesUnderCpp() throws {
        let fm = FileManager.default
        var onDisk: [String: String] = [:]
        let walker = try #require(fm.enumerator(at: Self.cppFolder, includingPropertiesForKeys: nil))
        for case let url as URL in walker where ["cpp", "hpp", "h", "cc"].contains(url.pathExtension) {
            let relative = String(url.standardizedFileURL.path.dropFirst(Self.cppFolder.standardizedFileURL.path.count + 1))
            onDisk[relative] = try String(contentsOf: url, encoding: .utf8)
        }
        #expect(!onDisk.isEmpty)
        #expect(Set(onDisk.keys) == Set(CppSources.files.keys), "run sh scripts/embed-cpp.sh")
        for (path, text) in onDisk {
            #expect(CppSources.files[path] == text, "\(path) differs from its embedded copy: run sh scripts/embed-cpp.sh")
        }
    }

    // MARK: Every lab passes on its reference

    @Test(arguments: ids)
    func passesInQuickMode(_ id: String) async throws {
        let report = try await Self.run(id)
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count >= 5, "a compile check and at least 4 real checks")
    }

    @Test func everyLabIsInPhaseFiveWithKebabCaseKnobs() throws {
        let ids: [String] = NativeLabs.labs.map { $0.id }
        #expect(ids == Self.ids)
        for type in NativeLabs.labs {
            let info = type.info
            #expect(info.phase == 5)
            #expect(info.subjects.contains(.source))
            #expect(!type.starter().isEmpty)
            for p in info.parameters {
                #expect(p.name.range(of: "^[a-z]+(-[a-z]+)*$", options: .regularExpression) != nil, "\(info.id).\(p.name)")
                #expect(p.validate(p.quickValue ?? p.defaultValue) == nil, "\(info.id).\(p.name)")
            }
        }
        for id in ["cpp-rest-api", "multi-client-server"] {
            let info = try #require(NativeLabs.labs.first { $0.id == id }).info
            #expect(info.subjects.contains(.url) && info.subjects.contains(.against), "\(id)")
        }
    }

    // MARK: Each breaker fails exactly its check

    static let breakers: [(String, String, String)] = [
        ("cpp-threads", "skip-item", "every item is consumed exactly once"),
        ("cpp-threads", "unbounded", "push blocks while full, pop while empty, and each wakes"),
        ("cpp-threads", "close-no-wake", "close() wakes every blocked consumer and refuses later pushes"),
        ("cpp-threads", "no-lock", "ThreadSanitizer finds no data race"),
        ("memory-pools", "overlap", "no two live blocks overlap"),
        ("memory-pools", "no-reuse", "freed blocks are reused"),
        ("memory-pools", "misalign", "the arena aligns, does not overlap and resets"),
        ("memory-pools", "overflow", "AddressSanitizer and UBSan report nothing"),
        ("raw-sockets", "little-endian", "frames are a 4-byte big-endian length then the bytes"),
        ("raw-sockets", "single-read", "a frame split across reads is reassembled"),
        ("raw-sockets", "single-write", "partial writes are finished"),
        ("raw-sockets", "nodelay-noop", "TCP_NODELAY removes the Nagle stall"),
        ("cpp-libpqxx", "find-latest", "rows round-trip through libpqxx"),
        ("cpp-libpqxx", "concat", "a title full of SQL is stored as text"),
        ("cpp-libpqxx", "exec-params", "the store's statements are prepared"),
        ("cpp-libpqxx", "autocommit", "a failed transaction leaves nothing behind"),
        ("cpp-libpqxx", "no-commit", "a good transaction commits every row"),
        ("cpp-rest-api", "skip-location", "POST creates: 201 with Location and the resource"),
        ("cpp-rest-api", "drop-isbn", "GET /books/{id} reads the book back"),
        ("cpp-rest-api", "put-ignored", "PUT /books/{id} replaces the book"),
        ("cpp-rest-api", "ignore-offset", "GET /books pages by limit and offset, ordered by id"),
        ("cpp-rest-api", "case-sensitive-q", "GET /books filters by author_id and q"),
        ("cpp-rest-api", "clamp-limit", "GET /books refuses a bad page with 400"),
        ("cpp-rest-api", "plain-404", "Unknown resources and paths are 404 problem+json"),
        ("cpp-rest-api", "no-allow", "A known path with another method is 405 with Allow"),
        ("cpp-rest-api", "delete-keeps", "DELETE /books/{id} answers 204, then the book is gone"),
        ("multi-client-server", "thread-close", "thread per connection: every response correct under load"),
        ("multi-client-server", "pool-shed", "thread pool: every response correct under load"),
        ("multi-client-server", "epoll-one-read", "epoll event loop: every response correct under load"),
        ("multi-client-server", "no-pipelining", "pipelined requests are answered in order"),
        ("multi-client-server", "garbage-ok", "a malformed request is refused and the server carries on"),
    ]

    @Test(arguments: 0..<breakers.count)
    func breakerFailsExactlyItsCheck(_ index: Int) async throws {
        let (id, breaker, check) = Self.breakers[index]
        let report = try await Self.run(id, ["break": breaker])
        #expect(report.outcome == .failed)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.checks.filter { !$0.passed }.map(\.name) == [check], "\(id) break=\(breaker): \(Self.failures(report))")
    }

    // MARK: Exercise mode: the learner's C++ through the same harness

    @Test func aRacyQueueFailsWithThreadSanitizersFindingQuoted() async throws {
        let path = Self.fixtures.appendingPathComponent("racy-queue").path
        let report = try await Self.run("cpp-threads", subject: LabSubject(.source, path))
        #expect(report.outcome == .failed)
        let tsan = try #require(report.checks.first { $0.name == "ThreadSanitizer finds no data race" })
        #expect(!tsan.passed)
        #expect(tsan.observed.contains("WARNING: ThreadSanitizer: data race"), "\(tsan.observed)")
        #expect(report.checks.filter { !$0.passed }.count == 1, "\(Self.failures(report))")
    }

    @Test func anOverlappingPoolFailsWithAddressSanitizersFindingQuoted() async throws {
        let path = Self.fixtures.appendingPathComponent("overlapping-pool").path
        let report = try await Self.run("memory-pools", subject: LabSubject(.source, path))
        #expect(report.outcome == .failed)
        let asan = try #require(report.checks.first { $0.name == "AddressSanitizer and UBSan report nothing" })
        #expect(!asan.passed)
        #expect(asan.observed.contains("AddressSanitizer: heap-buffer-overflow"), "\(asan.observed)")
        let overlap = try #require(report.checks.first { $0.name == "no two live blocks overlap" })
        #expect(!overlap.passed)
    }

    @Test func codeWithAWarningFailsTheCompileCheckWithTheCompilersWords() async throws {
        let path = Self.fixtures.appendingPathComponent("warning/framing.cpp").path
        let report = try await Self.run("raw-sockets", subject: LabSubject(.source, path))
        #expect(report.outcome == .failed)
        #expect(report.error == nil)
        let compile = try #require(report.checks.first)
        #expect(!compile.passed)
        #expect(compile.observed.contains("unused variable"), "\(compile.observed)")
        #expect(report.checks.count == 1)
    }

    /// The server-shaped labs judge a running server too: the reference binary, built by the
    /// kit, started by the lab with --against.
    @Test func theServerLabsJudgeAServerStartedWithAgainst() async throws {
        let bookshelf = try await CppBuild(name: "bookshelf", sources: [Native.file("cpp-rest-api/bookshelf.cpp")], pkgConfig: ["cpp-httplib"]).build()
        guard case let .built(rest) = bookshelf else { Issue.record("the reference did not build"); return }
        let report = try await Self.run("cpp-rest-api", subject: LabSubject(.against, rest.url.path))
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.contains { $0.name == "your server stops on SIGTERM" && $0.passed })

        let server = try await CppBuild(name: "server", sources: [Native.file("multi-client-server/server.cpp")]).build()
        guard case let .built(multi) = server else { Issue.record("the reference did not build"); return }
        let loaded = try await Self.run("multi-client-server", subject: LabSubject(.against, "\(multi.url.path) epoll"))
        #expect(loaded.outcome == .passed, "\(Self.failures(loaded))")
        #expect(loaded.checks.contains { $0.name == "your server: every response correct under load" && $0.passed })
        #expect(loaded.checks.contains { $0.name == MultiClientServerLab.malformed.0 && $0.passed })

        // A learner's server that answers anything with 200 fails exactly the malformed-request check.
        let lax = try await CppBuild(name: "server", sources: [Native.file("multi-client-server/server.cpp")], flags: ["-DLAB_BREAK_GARBAGE_OK"]).build()
        guard case let .built(laxServer) = lax else { Issue.record("the lax server did not build"); return }
        let judged = try await Self.run("multi-client-server", subject: LabSubject(.against, "\(laxServer.url.path) thread"))
        #expect(judged.checks.filter { !$0.passed }.map(\.name) == [MultiClientServerLab.malformed.0], "\(Self.failures(judged))")
    }

    /// The server-shaped labs judge servers written from the contract and the README alone,
    /// in Python: the bookshelf of HTTPLabsTests passes cpp-rest-api; a thread-per-connection
    /// sum server passes multi-client-server, and with its garbage-ok fault fails exactly the
    /// malformed-request check.
    @Test func serversWrittenInPythonFromTheReadmeAreJudged() async throws {
        let root = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent()
        let bookshelf = root.appendingPathComponent("HTTPLabsTests/Fixtures/bookshelf.py").path
        let rest = try await Self.run("cpp-rest-api", subject: LabSubject(.against, "exec python3 \(bookshelf)"))
        #expect(rest.outcome == .passed, "\(Self.failures(rest))")
        #expect(rest.checks.count == 11, "the nine rest-api checks and the two --against ones")

        let sum = Self.fixtures.appendingPathComponent("sum-server/sum_server.py").path
        let good = try await Self.run("multi-client-server", subject: LabSubject(.against, "exec python3 \(sum)"))
        #expect(good.outcome == .passed, "\(Self.failures(good))")
        #expect(good.checks.contains { $0.name == MultiClientServerLab.malformed.0 && $0.passed })
        let lax = try await Self.run("multi-client-server", subject: LabSubject(.against, "SUM_VIOLATION=garbage-ok exec python3 \(sum)"))
        #expect(lax.checks.filter { !$0.passed }.map(\.name) == [MultiClientServerLab.malformed.0], "\(Self.failures(lax))")
    }

    /// Every check of every phase-5 lab but the compile checks has a breaker in `breakers`
    /// (the compile checks fail on the learner's own code: codeWithAWarningFails…).
    @Test(arguments: ids)
    func everyCheckHasABreaker(_ id: String) async throws {
        let report = try await Self.run(id)
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        let judged = Set(report.checks.map(\.name).filter { !$0.contains(" compiles with ") })
        let broken = Set(Self.breakers.filter { $0.0 == id }.map(\.2))
        #expect(judged.subtracting(broken).isEmpty, "\(id): no breaker for \(judged.subtracting(broken).sorted())")
    }

    /// `lab init`'s stub compiles (the compile checks pass) and fails the lab.
    @Test(arguments: ids)
    func theStarterStubCompilesAndFails(_ id: String) async throws {
        let type = try #require(NativeLabs.labs.first { $0.id == id })
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("native-starter-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let written = try LabStarter.write(type, into: folder)
        #expect(written.contains { $0.hasSuffix("README.md") })
        let report = try await Self.run(id, subject: LabSubject(.source, folder.path))
        #expect(report.outcome == .failed)
        let compiles = report.checks.filter { $0.name.contains("compiles with") }
        #expect(!compiles.isEmpty && compiles.allSatisfy(\.passed), "\(Self.failures(report))")
        // A stub fails a check, or (a server stub that exits at once) ends the run with one sentence.
        #expect(report.checks.contains { !$0.passed } || report.error?.contains("before it listened") == true, "\(Self.failures(report))")
    }

    // MARK: The build helper

    @Test func aSecondBuildComesFromTheCacheAndAnyChangeRebuilds() async throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("cppbuild-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: cache) }
        let main = CppBuild.File("main.cpp", "#include <cstdio>\nint main() { std::puts(\"hi\"); return 0; }\n")
        let build = CppBuild(name: "hello", sources: [main])
        guard case let .built(first) = try await build.build(cacheFolder: cache) else { Issue.record("did not build"); return }
        #expect(!first.cached)
        guard case let .built(second) = try await build.build(cacheFolder: cache) else { Issue.record("did not build"); return }
        #expect(second.cached && second.url == first.url)
        let changed = CppBuild(name: "hello", sources: [main], flags: ["-DCHANGED"])
        guard case let .built(third) = try await changed.build(cacheFolder: cache) else { Issue.record("did not build"); return }
        #expect(!third.cached && third.url != first.url)
        let run = try await Subprocess.capture(first.url.path, [])
        #expect(run.output == "hi\n")
    }

    @Test func compilerErrorsAreAnOutcomeCutAtFortyLines() async throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("cppbuild-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: cache) }
        let broken = (0..<30).map { "int f\($0)() { return undefined_\($0); }" }.joined(separator: "\n") + "\nint main() {}\n"
        let outcome = try await CppBuild(name: "broken", sources: [CppBuild.File("main.cpp", broken)]).build(cacheFolder: cache)
        guard case let .failed(failure) = outcome else { Issue.record("built broken code"); return }
        #expect(failure.diagnostics.contains("undefined_0"))
        #expect(failure.diagnostics.split(separator: "\n").count <= 41)
        #expect(failure.diagnostics.contains("more lines"))
    }

    @Test func aMissingLibraryIsUnavailableWithTheInstallLine() async throws {
        let error = await #expect(throws: LabUnavailable.self) {
            _ = try await CppBuild(name: "x", sources: [CppBuild.File("main.cpp", "int main() {}\n")], pkgConfig: ["no-such-library-xyz"]).build()
        }
        #expect(error?.description.contains("apt-get install -y g++ no-such-library-xyz pkg-config") == true, "\(String(describing: error))")
    }

    @Test func theCacheFolderFollowsTheEnvironment() {
        #expect(CppBuild.cacheFolder(environment: ["CURRICULUM_CACHE": "/c"]).path == "/c")
        #expect(CppBuild.cacheFolder(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]).path == "/x/curriculum")
        #expect(CppBuild.cacheFolder(environment: ["HOME": "/h"]).path == "/h/.cache/curriculum")
    }

    @Test func sanitizerFindingsAreQuotedFromTheirHeadline() {
        let text = "RESULT x pass ok\n==================\nWARNING: ThreadSanitizer: data race (pid=1)\n  Write of size 8\n    #0 push q.hpp:20\n"
        #expect(CppBuild.sanitizerFinding(in: text)?.hasPrefix("WARNING: ThreadSanitizer: data race") == true)
        #expect(CppBuild.sanitizerFinding(in: "RESULT x pass ok\n") == nil)
    }
}
