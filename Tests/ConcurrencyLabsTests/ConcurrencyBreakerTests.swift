import ConcurrencyLabs
import Foundation
import LabCatalog
import LabKit
import Testing

/// Every check of these phase-4 labs has a breaker: a `break` value that plants one realistic
/// mistake in the lab's own code. Each breaker, run end to end in quick mode, fails exactly
/// the checks listed here, and the lab passes without one. The breakers are deterministic (a
/// gate or a barrier decides the interleaving, not the scheduler), so this holds on a loaded
/// machine too.
@Suite(.serialized) struct ConcurrencyBreakerTests {
    typealias CO = CoroutinesLab
    typealias CT = CoroutinesVsThreadsLab
    typealias TP = ThreadPoolsLab
    typealias CS = ConcurrentServicesLab

    static let labs: [any Lab.Type] = [CO.self, CT.self, TP.self, CS.self]

    /// Check names that carry a knob's value, at the quick defaults.
    static let overdrawn = CS.overdrawn(racers: 3)  // racers: 3 in quick mode

    /// (lab, its `break` value, the checks that must fail: exactly these).
    nonisolated(unsafe) static let breakers: [(any Lab.Type, String, Set<String>)] = [
        (CO.self, "swallow-cancellation", [CO.everyChildCancelled, CO.noChildSleptToEnd]),
        (CO.self, "stale-cancel-check", [CO.parentSawCancel]),
        (CO.self, "forward-cancel", [CO.looseNotCancelled]),
        (CO.self, "first-result-only", [CO.everyResult, CO.resultsSum]),
        (CO.self, "unbounded-buffer", [CO.producerHeldBack]),
        (CO.self, "dropping-buffer", [CO.producerHeldBack, CO.channelDelivered, CO.channelSum]),
        (CO.self, "dropping-stream", [CO.streamDelivered]),
        (CO.self, "stream-via-channel", [CO.streamRanAhead]),
        (CO.self, "filter-before-map", [CO.flowEqualsEager, CO.chunksEqualEager]),
        (CO.self, "reuse-stream", [CO.chunksEqualEager]),
        (CT.self, "forget-tasks", [CT.tasksCompleted]),
        (CT.self, "forget-threads", [CT.threadsCompleted]),
        (CT.self, "unit-slip", [CT.reallySlept]),
        (CT.self, "buffer-per-task", [CT.tasksLighter]),
        (TP.self, "thread-per-job", [TP.poolBounded, TP.poolFills, TP.poolThreads]),
        (TP.self, "job-under-lock", [TP.poolFills]),
        (TP.self, "shutdown-now", [TP.poolRanAll]),
        (TP.self, "hand-off-to-threads", [TP.queueBounded]),
        (TP.self, "cancel-on-first", [TP.queueRanAll]),
        (TP.self, "bind-late", [TP.asyncLetSees]),
        (TP.self, "detached-children", [TP.childrenSee]),
        (TP.self, "detached-for-task", [TP.taskSees]),
        (TP.self, "shared-context", [TP.detachedBlind, TP.dispatchBlind, TP.goneAfter]),
        (TP.self, "chunk-remainder", [TP.eachIndexOnce, TP.noIndexTwiceOrSkipped]),
        (CS.self, "check-await-act", [CS.neverNegative, CS.replayAgrees]),
        (CS.self, "stale-write", [CS.totalUnchanged, CS.replayAgrees]),
        (CS.self, "floor-split", [CS.everyTransferAnswered]),
        (CS.self, "sequential-withdrawals", [CS.suspendedTogether, CS.allAccepted, overdrawn]),
        (CS.self, "recheck-before-await", [CS.oneAccepted(CS.recheckFix), CS.noOverdraft(CS.recheckFix)]),
        (CS.self, "log-between", [CS.oneAccepted(CS.noGapFix), CS.noOverdraft(CS.noGapFix)]),
    ]

    static func run(_ type: any Lab.Type, _ given: [String: String] = [:]) async throws -> LabReport {
        try await ConcurrencyLabTests.runQuick(type.info.id, given)
    }

    @Test(arguments: 0..<breakers.count)
    func breakerFailsExactlyItsChecks(_ i: Int) async throws {
        let (type, breaker, expected) = Self.breakers[i]
        let report = try await Self.run(type, ["break": breaker])
        let failed = Set(report.checks.filter { !$0.passed }.map(\.name))
        #expect(report.error == nil, "\(type.info.id) break=\(breaker): \(report.error ?? "")")
        #expect(report.outcome == .failed, "\(type.info.id) break=\(breaker)")
        #expect(failed == expected, "\(type.info.id) break=\(breaker):\n\(ConcurrencyLabTests.failures(report))")
    }

    /// Without a breaker the lab passes; every one of its checks is failed by at least one
    /// breaker, and every breaker it offers is tested above.
    @Test(arguments: 0..<labs.count)
    func passesWithoutABreakerAndEveryCheckHasOne(_ i: Int) async throws {
        let type = Self.labs[i]
        let report = try await Self.run(type)
        #expect(report.outcome == .passed, "\(type.info.id):\n\(ConcurrencyLabTests.failures(report))")
        let mine = Self.breakers.filter { $0.0.info.id == type.info.id }
        let covered = mine.reduce(into: Set<String>()) { $0.formUnion($1.2) }
        #expect(Set(report.checks.map(\.name)).subtracting(covered).isEmpty, "\(type.info.id): checks without a breaker")
        #expect(covered.isSubset(of: Set(report.checks.map(\.name))), "\(type.info.id): a breaker names a check the lab does not make")
        let offered = type.info.parameters.first { $0.name == "break" }.map { p -> Set<String> in
            if case let .choice(options) = p.kind { return Set(options).subtracting(["none"]) }
            return []
        }
        #expect(offered == Set(mine.map(\.1)), "\(type.info.id): breakers offered vs tested")
    }
}
