import Foundation
import LabCatalog
import LabKit
import Testing

@testable import DataLabs

/// The PostgreSQL labs against a real server. They need PostgreSQL installed (CI runs
/// scripts/install-deps.sh): without it they fail rather than skip.
@Suite(.serialized) struct PostgresLabTests {
    static let ids = [
        "postgres-setup", "schema-normalization", "sql-mastery", "transactions-isolation",
        "query-plans", "olap-schema", "jsonb", "background-jobs",
    ]

    // MARK: Helpers

    static func freshRoot() throws -> URL {
        let root = URL(fileURLWithPath: "/tmp/pg-labs-test-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    static func run(
        _ id: String, _ given: [String: String] = [:], root: URL,
        sink: @escaping @Sendable (LabEvent) -> Void = { _ in }
    ) async throws -> LabReport {
        let type = try #require(DataLabs.labs.first { $0.id == id })
        let info = type.info
        let parameters = try info.resolve(parameters: given, quick: true)
        return await LabRunner.run(type, info: info, quick: true, parameters: parameters, scratchRoot: root, sink: sink)
    }

    static func failures(_ report: LabReport) -> String {
        let checks = report.checks.filter { !$0.passed }.map { "\($0.name): expected \($0.expected), observed \($0.observed)" }
        return ([report.error].compactMap { $0 } + checks).joined(separator: "\n")
    }

    /// The `cluster_name=` the throwaway server announced in its first step.
    static func clusterNames(_ report: LabReport) -> [String] {
        report.steps.compactMap { step in
            guard let detail = step.detail, let r = detail.range(of: "cluster_name=") else { return nil }
            return String(detail[r.upperBound...].prefix { $0 != ";" })
        }
    }

    /// Pids whose command line mentions `needle`: the postmaster shows its data directory,
    /// every other server process its cluster name ("postgres: <name>: checkpointer").
    static func processes(mentioning needle: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(needle)
        }
    }

    /// Nothing of the run is left: no server process, no scratch folder. Server processes
    /// leave right after the postmaster stops; allow them a few seconds to be reaped.
    static func expectNothingLeft(root: URL, clusters: [String], _ comment: String) async throws {
        let needles = [root.path] + clusters.map { "postgres: \($0)" }
        var left: [Int32] = []
        for _ in 0..<50 {
            left = needles.flatMap(processes(mentioning:))
            if left.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(left.isEmpty, "\(comment): server processes still running: \(left)")
        let remaining = try FileManager.default.contentsOfDirectory(atPath: root.path)
        #expect(remaining.isEmpty, "\(comment): left in the scratch root: \(remaining)")
    }

    // MARK: Every lab passes in quick mode

    @Test(arguments: ids)
    func passesInQuickMode(_ id: String) async throws {
        let root = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let report = try await Self.run(id, root: root)
        #expect(report.outcome == .passed, "\(id) did not pass:\n\(Self.failures(report))")
        #expect(report.checks.count >= 3, "\(id) makes \(report.checks.count) checks")
        #expect(report.engine?.hasPrefix("PostgreSQL") == true)
        #expect(!report.figures.isEmpty)
        let clusters = Self.clusterNames(report)
        #expect(!clusters.isEmpty, "the server announced its cluster")
        try await Self.expectNothingLeft(root: root, clusters: clusters, id)
    }

    // MARK: Broken experiments fail, and still clean up

    @Test func withoutForUpdateTheLostUpdateFailsTheLab() async throws {
        let root = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let report = try await Self.run("transactions-isolation", ["for-update": "false"], root: root)
        #expect(report.outcome == .failed)
        let failed = Set(report.checks.filter { !$0.passed }.map(\.name))
        #expect(failed.contains("no update lost: 100 + 10 + 20"), "failed: \(failed)")
        #expect(failed.contains("B's locking read waited for A's transaction"))
        try await Self.expectNothingLeft(root: root, clusters: Self.clusterNames(report), "failing run")
    }

    @Test func withoutAnIndexThePlanCheckFails() async throws {
        let root = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let report = try await Self.run("query-plans", ["index": "none"], root: root)
        #expect(report.outcome == .failed)
        let failed = report.checks.filter { !$0.passed }.map(\.name)
        #expect(failed.contains { $0.hasPrefix("after the index the plan uses it") }, "failed: \(failed)")
        // The answers are still right: only the plan is wrong.
        #expect(report.checks.first { $0.name.hasPrefix("both runs return the answer") }?.passed == true)
        try await Self.expectNothingLeft(root: root, clusters: Self.clusterNames(report), "failing run")
    }

    /// users=1 (every row matches) is a valid knob value where a sequential scan is the right
    /// plan: the lab passes and says why it does not judge the index; index=none fails both
    /// the plan check and the speed check.
    @Test func queryPlansJudgesTheIndexOnlyWhenSelective() async throws {
        let root = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let one = try await Self.run("query-plans", ["users": "1"], root: root)
        #expect(one.outcome == .passed, "\(Self.failures(one))")
        #expect(one.steps.contains { $0.title == "Not selective enough to judge the index" })
        let none = try await Self.run("query-plans", ["index": "none"], root: root)
        let failed = Set(none.checks.filter { !$0.passed }.map(\.name))
        #expect(failed.contains("with the index the executor is at least 2× faster (EXPLAIN ANALYZE)"), "failed: \(failed)")
    }

    @Test func theIndependentAnswersAreRightOnATinyCase() {
        // Rows 1…10, 3 users: row i is user (i × 7919) mod 3.
        let mine = (1...10).filter { ($0 * 7_919) % 3 == 1 }
        #expect(QueryPlansLab.expected(rows: 10, users: 3, user: 1) == (mine.count, mine.reduce(0, +)))
        #expect(OLAPSchemaLab.Warehouse.month(ofDay: 31) == 1)
        #expect(OLAPSchemaLab.Warehouse.month(ofDay: 32) == 2)
        #expect(OLAPSchemaLab.Warehouse.month(ofDay: 365) == 12)
    }

    // MARK: Interrupted runs clean up

    @Test func cancellingTheRunMidLabStopsTheServer() async throws {
        let root = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let (started, signal) = AsyncStream.makeStream(of: String.self)
        // Long enough that it is surely still working when cancelled.
        let task = Task {
            try await Self.run("background-jobs", ["jobs": "20000", "job-ms": "20"], root: root) { event in
                if case let .step(step) = event, step.title.hasPrefix("Enqueued") { signal.yield(step.title) }
            }
        }
        var iterator = started.makeAsyncIterator()
        _ = await iterator.next()
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let report = try await task.value
        #expect(report.outcome == .failed)
        #expect(report.error == "interrupted", "\(report.error ?? "")")
        try await Self.expectNothingLeft(root: root, clusters: Self.clusterNames(report), "cancelled run")
    }

    @Test func sigintToTheLabProcessStopsTheServer() async throws {
        let binary = try Self.labsBinary()
        let root = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let process = Process()
        process.executableURL = binary
        process.arguments = [
            "run", "background-jobs", "--quick", "--param", "jobs=20000", "--param", "job-ms=20",
            "--scratch", root.path,
        ]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()

        // Read events until the jobs are enqueued (the server is up), then press Ctrl-C.
        var lines: [String] = []
        var buffer = Data()
        var interrupted = false
        while true {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let nl = buffer.firstIndex(of: 10) {
                lines.append(String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self))
                buffer.removeSubrange(buffer.startIndex...nl)
            }
            if !interrupted, lines.contains(where: { $0.contains("\"Enqueued ") }) {
                interrupted = true
                kill(process.processIdentifier, SIGINT)
            }
        }
        process.waitUntilExit()
        #expect(interrupted, "the lab never reported its jobs enqueued: \(lines.suffix(3))")
        #expect(process.terminationStatus == LabExit.interrupted)
        let last = try #require(lines.last.flatMap(LabEvent.parse(line:)))
        guard case let .report(report) = last else { Issue.record("the last line is not the report"); return }
        #expect(report.error == "interrupted")
        try await Self.expectNothingLeft(root: root, clusters: Self.clusterNames(report), "SIGINT")
    }

    @Test func missingPostgresMakesTheLabUnavailable() throws {
        let binary = try Self.labsBinary()
        let empty = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: empty) }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["run", "postgres-setup", "--quick", "--scratch", empty.path]
        process.environment = ["PG_BIN": empty.path, "PATH": "/usr/bin:/bin", "HOME": "/tmp"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == LabExit.unavailable)
        let last = String(decoding: data, as: UTF8.self).split(separator: "\n").last.flatMap(LabEvent.parse(line:))
        guard case let .report(report) = last else { Issue.record("no report line"); return }
        #expect(report.outcome == .unavailable)
        #expect(report.error?.contains("apt-get install -y postgresql") == true, "\(report.error ?? "")")
    }

    /// The `curriculum-labs` executable `swift test` built next to the test bundle.
    static func labsBinary() throws -> URL {
        var candidates: [URL] = []
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(me.deletingLastPathComponent().appendingPathComponent("curriculum-labs"))
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("curriculum-labs"))
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("curriculum-labs"))
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(package.appendingPathComponent(".build/debug/curriculum-labs"))
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
        return try #require(found, "curriculum-labs is not built; tried \(candidates.map(\.path))")
    }
}
