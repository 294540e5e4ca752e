import Foundation
import LabCatalog
import LabKit
import Testing

@testable import QueueLabs

#if canImport(Glibc)
import Glibc
#endif

/// The message-queue labs against real RabbitMQ brokers. They need rabbitmq-server installed
/// (CI runs scripts/install-deps.sh): without it they fail rather than skip.
///
/// A broker takes seconds to start (an Erlang VM), so the suite keeps starts few: each lab's
/// passing run starts its own broker, as `lab run` does; the breaker runs share one broker
/// (`ThrowawayRabbitMQ.$shared`), each run with queues of its own.
@Suite(.serialized) struct QueueLabTests {
    static func freshRoot() throws -> URL {
        let root = URL(fileURLWithPath: "/tmp/queue-labs-test-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    static func run(
        _ id: String, _ given: [String: String] = [:], root: URL,
        sink: @escaping @Sendable (LabEvent) -> Void = { _ in }
    ) async throws -> LabReport {
        setenv("CURRICULUM_LABS_BIN", try labsBinary().path, 1)
        let type = try #require(QueueLabs.labs.first { $0.id == id })
        let info = type.info
        let parameters = try info.resolve(parameters: given, quick: true)
        return await LabRunner.run(type, info: info, quick: true, parameters: parameters, scratchRoot: root, sink: sink)
    }

    static func failures(_ report: LabReport) -> String {
        let checks = report.checks.filter { !$0.passed }.map { "\($0.name): expected \($0.expected), observed \($0.observed)" }
        return ([report.error].compactMap { $0 } + checks).joined(separator: "\n")
    }

    static func failed(_ report: LabReport) -> Set<String> { Set(report.checks.filter { !$0.passed }.map(\.name)) }

    /// Live (not zombie) processes whose environment or command line names `root`: the
    /// broker's VM, its epmd and helpers, the lab's child consumers.
    static func processes(under root: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard pid != getpid() else { return false }
            if let stat = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
                let text = String(data: stat, encoding: .utf8), let close = text.range(of: ")", options: .backwards),
                text[close.upperBound...].dropFirst().first == "Z"
            {
                return false
            }
            if let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(root)
            {
                return true
            }
            if let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") {
                return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self).hasPrefix("CURRICULUM_LAB_ROOT=\(root)") }
            }
            return false
        }
    }

    static func expectNothingLeft(root: URL, _ comment: String) async throws {
        var left: [Int32] = []
        for _ in 0..<100 {
            left = processes(under: root.path)
            if left.isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(left.isEmpty, "\(comment): processes still running: \(left)")
        let remaining = try FileManager.default.contentsOfDirectory(atPath: root.path)
        #expect(remaining.isEmpty, "\(comment): left in the scratch root: \(remaining)")
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

    // MARK: Each lab passes in quick mode on a broker of its own

    @Test(arguments: ["task-queue", "pubsub-notifications", "retries-dlq"])
    func passesInQuickModeOnItsOwnBroker(_ id: String) async throws {
        let root = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let report = try await Self.run(id, root: root)
        #expect(report.outcome == .passed, "\(id):\n\(Self.failures(report))")
        #expect(report.checks.count >= 4)
        #expect(report.engine?.hasPrefix("RabbitMQ 3.") == true, "\(report.engine ?? "no engine")")
        let startup = report.figures.first { $0.name == "broker start-up" }
        #expect(startup != nil && startup!.value > 0)
        try await Self.expectNothingLeft(root: root, id)
    }

    // MARK: Every breaker fails exactly its checks (one shared broker)

    struct Breaking: Sendable, CustomStringConvertible {
        var lab: String
        var parameters: [String: String]
        var fails: Set<String>
        var description: String { "\(lab) \(parameters)" }
    }

    static let everyTask = "every task done, none lost"
    static let redelivered = "the task of the consumer killed mid-task came back (redelivered) and was done"
    static let once = "each task done exactly once (a redelivered task already done is not done again)"
    static let shared = "the work is shared by every consumer (prefetch 1)"
    static let everyone = "every subscriber gets every notification"
    static let stall = "a slow subscriber does not stall the others"
    static let away = "a subscriber that was away gets what was sent meanwhile (durable queue)"
    static let twice = "no subscriber handles a notification twice (acked after handling)"
    static let backoff = "retries wait as configured (exponential backoff with jitter)"
    static let poison = "poison jobs dead-lettered after exactly max-attempts attempts"
    static let nothingLost = "nothing lost: every job done or in the DLQ, once"
    static let refuses = "a full queue refuses a fast producer"
    static let pressureLoss = "under backpressure nothing is lost: every message consumed once"

    static let breakers: [Breaking] = [
        Breaking(lab: "task-queue", parameters: ["break": "auto-ack"], fails: [everyTask, redelivered]),
        Breaking(lab: "task-queue", parameters: ["break": "ack-early"], fails: [everyTask]),
        Breaking(lab: "task-queue", parameters: ["break": "no-idempotency"], fails: [once]),
        Breaking(lab: "task-queue", parameters: ["break": "no-prefetch"], fails: [shared]),
        Breaking(lab: "pubsub-notifications", parameters: ["break": "shared-queue"], fails: [everyone]),
        Breaking(lab: "pubsub-notifications", parameters: ["break": "single-consumer"], fails: [stall]),
        Breaking(lab: "pubsub-notifications", parameters: ["break": "exclusive-queues"], fails: [away]),
        Breaking(lab: "pubsub-notifications", parameters: ["break": "forget-ack"], fails: [twice]),
        Breaking(lab: "retries-dlq", parameters: ["break": "no-backoff"], fails: [backoff]),
        Breaking(lab: "retries-dlq", parameters: ["break": "no-jitter"], fails: [backoff]),
        Breaking(lab: "retries-dlq", parameters: ["break": "dead-letter-early"], fails: [poison]),
        Breaking(lab: "retries-dlq", parameters: ["break": "no-dlq"], fails: [poison, nothingLost]),
        Breaking(lab: "retries-dlq", parameters: ["break": "no-limit"], fails: [refuses]),
        Breaking(lab: "retries-dlq", parameters: ["break": "drop-refused"], fails: [pressureLoss]),
    ]

    /// Knob extremes that must pass.
    static let extremes: [Breaking] = [
        Breaking(lab: "task-queue", parameters: ["tasks": "4", "consumers": "2", "task-ms": "0"], fails: []),
        Breaking(lab: "task-queue", parameters: ["consumers": "16", "tasks": "200", "task-ms": "2"], fails: []),
        Breaking(lab: "pubsub-notifications", parameters: ["messages": "8", "away": "1", "slow-ms": "1"], fails: []),
        Breaking(
            lab: "retries-dlq",
            parameters: ["max-attempts": "2", "jitter": "0", "base-delay-ms": "20", "queue-limit": "1", "messages": "2", "poison-every": "1"], fails: []),
        Breaking(lab: "retries-dlq", parameters: ["jitter": "0.9"], fails: []),
    ]

    @Test func everyBreakerFailsExactlyItsChecksAndTheExtremesPass() async throws {
        let root = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let broker = try await ThrowawayRabbitMQ.start(in: root.path + "/shared-broker", marker: root.path)
        do {
            try await ThrowawayRabbitMQ.$shared.withValue(broker) {
                for b in Self.breakers + Self.extremes {
                    let report = try await Self.run(b.lab, b.parameters, root: root)
                    #expect(report.error == nil, "\(b): \(report.error ?? "")")
                    #expect(Self.failed(report) == b.fails, "\(b):\n\(Self.failures(report))")
                    #expect(report.checks.count >= 4, "\(b)")
                }
            }
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
        try await Self.expectNothingLeft(root: root, "shared broker")
    }

    // MARK: Interruption and absence

    @Test func sigintToTheLabProcessStopsTheBrokerAndItsConsumers() async throws {
        let binary = try Self.labsBinary()
        let root = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["run", "task-queue", "--quick", "--param", "tasks=2000", "--param", "task-ms=50", "--scratch", root.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
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
            // The broker is up and the consumer processes are about to start: press Ctrl-C.
            if !interrupted, lines.contains(where: { $0.contains("Declared the durable queue") }) {
                interrupted = true
                kill(process.processIdentifier, SIGINT)
            }
        }
        process.waitUntilExit()
        #expect(interrupted, "the lab never reported its consumers: \(lines.suffix(3))")
        #expect(process.terminationStatus == LabExit.interrupted)
        try await Self.expectNothingLeft(root: root, "SIGINT")
    }

    @Test func missingRabbitMQMakesTheLabUnavailable() throws {
        let binary = try Self.labsBinary()
        let empty = try Self.freshRoot()
        defer { try? FileManager.default.removeItem(at: empty) }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["run", "retries-dlq", "--quick", "--scratch", empty.path]
        process.environment = ["PATH": empty.path, "CURRICULUM_PROGRAM_FOLDERS": empty.path, "HOME": "/tmp"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == LabExit.unavailable)
        let last = String(decoding: data, as: UTF8.self).split(separator: "\n").last.flatMap(LabEvent.parse(line:))
        guard case let .report(report) = last else { Issue.record("no report line"); return }
        #expect(report.error?.contains("apt-get install -y rabbitmq-server") == true, "\(report.error ?? "")")
    }

    // MARK: Pure parts

    @Test func theBackoffScheduleDoublesAndPoisonIsEveryNth() {
        #expect((1...4).map { RetriesDLQLab.delayMs(afterAttempt: $0, base: 100) } == [100, 200, 400, 800])
        #expect(RetriesDLQLab.failures(of: 10, poisonEvery: 5, maxAttempts: 4) == nil)
        #expect(RetriesDLQLab.failures(of: 5, poisonEvery: 5, maxAttempts: 4) == nil)
        #expect(RetriesDLQLab.failures(of: 4, poisonEvery: 5, maxAttempts: 4) == 1)
        #expect(RetriesDLQLab.failures(of: 2, poisonEvery: 5, maxAttempts: 2) == 0)
    }
}
