import ConcurrencyLabs
import Foundation
import LabCatalog
import LabKit
import Testing

/// Phase 4 labs. Serialized: coroutines-vs-threads measures this process's memory, so the
/// suite's own labs should not run beside it.
@Suite(.serialized) struct ConcurrencyLabTests {
    static let ids = ["coroutines", "thread-pools", "coroutines-vs-threads", "shared-resources", "concurrent-services"]

    static func runQuick(_ id: String, _ given: [String: String] = [:]) async throws -> LabReport {
        let type = try #require(ConcurrencyLabs.labs.first { $0.id == id })
        let info = type.info
        return await LabRunner.run(type, info: info, quick: true, parameters: try info.resolve(parameters: given, quick: true))
    }

    static func failures(_ r: LabReport) -> String {
        let failed = r.checks.filter { !$0.passed }.map { "\($0.name): expected \($0.expected), observed \($0.observed)" }
        return (failed + [r.error].compactMap { $0 }).joined(separator: "\n")
    }

    @Test(arguments: ids)
    func passesInQuickMode(_ id: String) async throws {
        let report = try await Self.runQuick(id)
        #expect(report.outcome == .passed, "\(Self.failures(report))")
        #expect(report.checks.count >= 3)
        #expect(!report.figures.isEmpty)
    }

    @Test func everyLabIsInPhaseFourAndHasKnobsWithQuickValues() throws {
        for id in Self.ids {
            let info = try #require(ConcurrencyLabs.labs.first { $0.id == id }).info
            #expect(info.phase == 4)
            #expect(!info.parameters.isEmpty)
            for p in info.parameters { #expect(p.validate(p.quickValue ?? p.defaultValue) == nil, "\(id).\(p.name)") }
        }
    }

    // MARK: Checks fail when the experiment is broken

    /// Runs `body` as a lab (under the real catalogue entry of `id`) and returns its report.
    static func judged(_ id: String, _ body: @escaping @Sendable (LabContext) async -> Void) async throws -> LabReport {
        let info = try #require(ConcurrencyLabs.labs.first { $0.id == id }).info
        return await ProbeLab.$body.withValue(body) {
            await LabRunner.run(ProbeLab.self, info: info, quick: true, parameters: [:])
        }
    }

    static func failed(_ r: LabReport) -> [String] { r.checks.filter { !$0.passed }.map(\.name) }

    /// Each breaker of shared-resources fails exactly its own check (two threads on this
    /// two-core machine: the racy counter's contrast is asserted, not assumed).
    @Test(arguments: [
        ("mutex-split", "the Mutex-protected counter is exact"),
        ("atomic-split", "the Atomic counter is exact"),
        ("racy-serialised", "the unsynchronised counter lost updates (the race is real)"),
    ])
    func sharedResourcesBreakers(breaker: String, check: String) async throws {
        try #require(ProcessInfo.processInfo.activeProcessorCount > 1, "needs two cores for a race")
        let r = try await Self.runQuick("shared-resources", ["break": breaker, "threads": "4"])
        #expect(Self.failed(r) == [check], "break=\(breaker)")
    }

    @Test func coroutinesAssertsThatTheUnboundedStreamRunsAhead() async throws {
        let r = try await Self.runQuick("coroutines")
        #expect(r.checks.contains { $0.name == "the unbounded stream let the producer run further ahead than the bound" && $0.passed })
        let still = try await Self.runQuick("coroutines", ["consumer-delay-us": "0"])
        #expect(still.steps.contains { $0.title.hasPrefix("Unbounded lead: not observable") })
    }

    /// check-await-act overdraws every time, not 18 runs in 20: its await is a rendezvous
    /// of all clients, not a `Task.yield()`.
    @Test func checkAwaitActOverdrawsEveryRun() async throws {
        for seed in 0..<20 {
            let h = await ConcurrentServicesLab.hammer(accounts: 5, transfers: 2000, clients: 8, seed: UInt64(seed), breaker: .checkAwaitAct)
            #expect(ConcurrentServicesLab.replayLedger(h.ledger, from: h.opening).firstOverdraft != nil, "seed \(seed)")
        }
        let r = try await Self.runQuick("concurrent-services", ["break": "check-await-act"])
        #expect(Self.failed(r).contains("replaying the ledger one by one never overdraws and ends at the final balances"))
    }

    @Test func sharedResourcesWithOneThreadSaysNotObserved() async throws {
        let r = try await Self.runQuick("shared-resources", ["threads": "1"])
        #expect(r.outcome == .passed)
        #expect(!r.checks.contains { $0.name.contains("lost updates") })
        #expect(r.steps.contains { $0.title.hasPrefix("Lost updates: not observed") })
    }

    @Test func synchronisedCountersAreExact() async {
        #expect(await SharedResourcesLab.mutexCount(threads: 3, increments: 10_000).total == 30_000)
        #expect(await SharedResourcesLab.atomicCount(threads: 3, increments: 10_000).total == 30_000)
        let racy = await SharedResourcesLab.racyCount(threads: 3, increments: 10_000)
        #expect(racy.tallies == 30_000)
        #expect(racy.total <= racy.tallies)
    }

    @Test func theBankWithoutTheFixOverdraws() async throws {
        let naive = await ConcurrentServicesLab.reentrancy(.naive, racers: 2)
        #expect(naive.accepted == 2)
        #expect(naive.finalBalance == -20)
        // Judged as if it were fixed, the unfixed bank fails.
        let report = try await Self.judged("concurrent-services") { ConcurrentServicesLab.judgeFixed(naive, fix: "none", $0) }
        #expect(report.outcome == .failed)
        for style in [ConcurrentServicesLab.WithdrawStyle.recheckAfterAwait, .noSuspensionBetweenCheckAndAct] {
            let fixed = await ConcurrentServicesLab.reentrancy(style, racers: 4)
            #expect(fixed.accepted == 1 && fixed.finalBalance == 40)
        }
    }

    @Test func theLedgerReplayFindsAnOverdraft() {
        let t = ConcurrentServicesLab.Transfer.self
        let ledger = [t.init(from: 0, to: 1, amount: 60), t.init(from: 0, to: 1, amount: 60)]
        let replay = ConcurrentServicesLab.replayLedger(ledger, from: [100, 0])
        #expect(replay.firstOverdraft == 1)
        #expect(replay.balances == [-20, 120])
    }

    @Test func theHammerIsRepeatableAndBalanced() async {
        let h = await ConcurrentServicesLab.hammer(accounts: 4, transfers: 500, clients: 5, seed: 7)
        #expect(h.final.reduce(0, +) == 4000)
        #expect(h.accepted + h.refused == 500)
        #expect(ConcurrentServicesLab.replayLedger(h.ledger, from: h.opening).balances == h.final)
    }

    @Test func anUnboundedStreamFailsTheBackpressureCheck() async throws {
        let unbounded = await CoroutinesLab.measureLead(.unboundedStream, items: 200, consumerDelayMicros: 100)
        let report = try await Self.judged("coroutines") { CoroutinesLab.judgeBackpressure(unbounded, bound: 5, items: 200, $0) }
        #expect(report.outcome == .failed, "max lead \(unbounded.maxLead)")
        let rendezvous = await CoroutinesLab.measureLead(.channel(buffer: 0), items: 200, consumerDelayMicros: 0)
        #expect(rendezvous.maxLead <= 1)
        #expect(rendezvous.received == 200 && rendezvous.sum == 20_100)
    }

    @Test func cancellationReachesEveryChild() async {
        let c = await CoroutinesLab.cancelParent(children: 50)
        #expect(c.cancelled == 50 && c.completed == 0 && !c.unstructuredWasCancelled)
    }

    @Test func theFlowMatchesTheEagerPipeline() async {
        for n in [1, 2, 10, 37] {
            #expect(await CoroutinesLab.flowPipeline(n: n) == CoroutinesLab.eagerPipeline(n: n))
        }
    }

    @Test func aPoolOverItsSizeFailsItsCheck() async throws {
        var o = ThreadPoolsLab.PoolOutcome()
        o.maxConcurrent = 5; o.completed = 10; o.distinctThreads = 5
        let broken = o
        let report = try await Self.judged("thread-pools") { ThreadPoolsLab.judgePool(broken, size: 4, jobs: 10, $0) }
        #expect(report.outcome == .failed)
        let pool = await ThreadPoolsLab.runWorkerPool(size: 2, jobs: 6, jobMillis: 1)
        #expect(pool.maxConcurrent == 2 && pool.completed == 6)
    }

    @Test func taskLocalsStopAtDetachedTasks() async throws {
        let p = await ThreadPoolsLab.propagation(id: "r1")
        #expect(p.asyncLet == "r1" && p.detached == nil && p.dispatchBlock == nil)
        let report = try await Self.judged("thread-pools") { ThreadPoolsLab.judgePropagation(p, id: "r2", $0) }
        #expect(report.outcome == .failed)
    }

    /// The verdict on one task side and one thread side of `sleepers` each, which added
    /// `taskBytes` and `threadBytes` of resident memory.
    static func judgedMemory(sleepers: Int, taskBytes: Int, threadBytes: Int) async throws -> LabReport {
        func side(_ bytes: Int, threads: Int) -> CoroutinesVsThreadsLab.SideOutcome {
            .init(sleepers: sleepers, completed: sleepers, seconds: 1, residentIncrease: bytes, osThreadsAdded: threads, shortestSleep: .seconds(1))
        }
        let task = side(taskBytes, threads: 0), thread = side(threadBytes, threads: sleepers)
        return try await Self.judged("coroutines-vs-threads") {
            CoroutinesVsThreadsLab.judge(tasks: [task], threads: [thread], sleepMs: 10, $0)
        }
    }

    @Test func threadsLighterThanTasksFailsTheMemoryCheck() async throws {
        let report = try await Self.judgedMemory(sleepers: 100, taskBytes: 2_000_000, threadBytes: 1_000_000)
        #expect(report.outcome == .failed)
        #expect(Self.failed(report) == [CoroutinesVsThreadsLab.tasksLighter])
    }

    @Test func aFewSleepersAreNotJudgedOnMemory() async throws {
        // One thread's stack against one task is page noise: the lab says so instead of judging.
        let report = try await Self.judgedMemory(sleepers: 1, taskBytes: 8192, threadBytes: 4096)
        #expect(report.outcome == .passed)
        #expect(!report.checks.contains { $0.name == CoroutinesVsThreadsLab.tasksLighter })
        #expect(report.steps.contains { $0.title.hasPrefix("Memory per sleeper: not judged") })
    }
}

/// A lab whose body a test supplies through a task-local, to run a lab's verdict on
/// outcomes the test made up.
struct ProbeLab: Lab {
    static let info = LabInfo(id: "probe", title: "probe", phase: 4, teaches: "a test lab", source: "Tests")
    @TaskLocal static var body: (@Sendable (LabContext) async -> Void)?
    func run(_ lab: LabContext) async throws { await Self.body?(lab) }
}
