import Foundation
import LabCatalog
import LabKit
import Testing

@testable import DataLabs

/// Every check of these labs has a breaker: a `break` value that breaks the lab's own
/// reference in one realistic way. Each breaker, run end to end in quick mode, fails exactly
/// the checks listed here, and the lab passes without one. The PostgreSQL labs among them
/// start a throwaway server each run: like PostgresLabTests, they need PostgreSQL installed
/// and fail without it.
@Suite(.serialized) struct BreakerTests {
    static func run(_ type: any Lab.Type, _ given: [String: String] = [:]) async throws -> LabReport {
        try await SQLiteLabTests.run(type, given)
    }

    static func failures(_ report: LabReport) -> String { SQLiteLabTests.failures(report) }

    static let labs: [any Lab.Type] = [
        ReadCachingLab.self, DenormalizationLab.self, JSONBLab.self, OLAPSchemaLab.self, MigrationsLab.self, BackgroundJobsLab.self,
    ]

    typealias RC = ReadCachingLab
    typealias DN = DenormalizationLab
    typealias JB = JSONBLab
    typealias OL = OLAPSchemaLab
    typealias MG = MigrationsLab
    typealias BJ = BackgroundJobsLab

    /// Check names that carry a knob's value, at the quick defaults.
    static let denormalisedReads = DN.identicalReads(300)  // 300 author pages
    static let failingRan = MG.failingRan(statements: 5)  // V4 (fail-at) runs 5 statements
    static let rolledBack = MG.rolledBack(failAt: 4)
    static let validatedFirst = MG.validatedFirst(added: 7)  // V7, added with the edit

    /// (lab, its `break` value, the checks that must fail: exactly these).
    nonisolated(unsafe) static let breakers: [(any Lab.Type, String, Set<String>)] = [
        (RC.self, "fifo-eviction", [RC.agreesWithSimulation, RC.evictionOrder, RC.leastRecentlyUsed]),
        (RC.self, "no-expiry", [RC.agreesWithSimulation, RC.expiry]),
        (RC.self, "double-load", [RC.missRunsQuery, RC.expiry]),
        (RC.self, "refresh-on-hit", [RC.missRunsQuery, RC.expiry, RC.staleWithout]),
        (RC.self, "skip-invalidation", [RC.freshWith]),
        (DN.self, "early-triggers", [DN.forgottenIsStale, DN.staleAnswersDiffer]),
        (DN.self, "skip-rebuild", [denormalisedReads, DN.inSync, DN.pagesIdentical]),
        (DN.self, "touch-parent", [DN.normalisedTouchesOne, DN.denormalisedTouchesCopies]),
        (DN.self, "no-review-trigger", [DN.denormalisedTouchesCopies, DN.inSync, DN.pagesIdentical]),
        (DN.self, "rating-not-summed", [DN.pagesIdentical]),
        (JB.self, "capitalised-colors", [JB.answers(JB.probes[0]), JB.answers(JB.probes[1])]),
        (JB.self, "tags-as-string", [JB.answers(JB.probes[2])]),
        (JB.self, "null-warranty", [JB.answers(JB.probes[3])]),
        (JB.self, "dims-as-strings", [JB.answers(JB.probes[4])]),
        (JB.self, "uncast-extraction", [JB.answers(JB.probes[5])]),
        (JB.self, "tags-only-index", [JB.indexAnswers(JB.probes[0]), JB.indexAnswers(JB.probes[4])]),
        (OL.self, "plain-group-by", [OL.rollupMatches, OL.grandTotalsAgree]),
        (OL.self, "rollup-for-cube", [OL.cubeMatches]),
        (OL.self, "date-off-by-one", [OL.cubeMatches, OL.dashboardMatches]),
        (OL.self, "unrefreshed-summary", [OL.summaryMatches]),
        (OL.self, "plain-view", [OL.summaryFaster]),
        (MG.self, "swallow-failure", [MG.failureReported]),
        (MG.self, "continue-after-failure", [MG.appliedInOrder, MG.checksumsRecorded, rolledBack, MG.fixedApplies]),
        (MG.self, "checksum-includes-description", [MG.checksumsRecorded]),
        (MG.self, "first-statement-only", [failingRan, rolledBack, MG.fixedApplies, MG.repeatAppliesNothing]),
        (MG.self, "no-transaction", [rolledBack, MG.fixedApplies, MG.repeatAppliesNothing]),
        (MG.self, "off-by-one-pending", [MG.fixedApplies, MG.repeatAppliesNothing]),
        (MG.self, "checksum-ignores-comments", [MG.editDetected, validatedFirst]),
        (MG.self, "validate-after-apply", [validatedFirst]),
        (BJ.self, "abandon-in-flight", [BJ.inFlightFinish]),
        (BJ.self, "ack-before-work", [BJ.inFlightFinish, BJ.shutdownClean, BJ.exactlyOnce, BJ.resultsAddUp]),
        (BJ.self, "stale-payload", [BJ.resultsAddUp]),
        (BJ.self, "ignore-run-at", [BJ.onTime]),
    ]

    @Test(arguments: 0..<breakers.count)
    func breakerFailsExactlyItsChecks(_ i: Int) async throws {
        let (type, breaker, expected) = Self.breakers[i]
        // Delayed jobs due in a minute (the knob's maximum), not quick mode's 300 ms: loaded CI
        // runs took longer than 300 ms, and once longer than 5 s, over the ready jobs, so the
        // delayed ones were due by the time a worker took them even with the claim ignoring
        // run_at. The broken claim runs them at once, so the run does not wait the minute.
        let extra = breaker == "ignore-run-at" ? ["delay-ms": "60000"] : [:]
        let report = try await Self.run(type, extra.merging(["break": breaker]) { a, _ in a })
        let failed = Set(report.checks.filter { !$0.passed }.map(\.name))
        #expect(report.error == nil, "\(type.id) break=\(breaker): \(report.error ?? "")")
        #expect(report.outcome == .failed, "\(type.id) break=\(breaker)")
        #expect(failed == expected, "\(type.id) break=\(breaker):\n\(Self.failures(report))")
    }

    /// Without a breaker the lab passes; every one of its checks is failed by at least one
    /// breaker, and every breaker it offers is tested above.
    @Test(arguments: 0..<labs.count)
    func passesWithoutABreakerAndEveryCheckHasOne(_ i: Int) async throws {
        let type = Self.labs[i]
        let report = try await Self.run(type)
        #expect(report.outcome == .passed, "\(type.id):\n\(Self.failures(report))")
        let mine = Self.breakers.filter { $0.0.id == type.id }
        let covered = mine.reduce(into: Set<String>()) { $0.formUnion($1.2) }
        #expect(Set(report.checks.map(\.name)).subtracting(covered).isEmpty, "\(type.id): checks without a breaker")
        let offered = type.info.parameters.first { $0.name == "break" }.map { p -> Set<String> in
            if case let .choice(options) = p.kind { return Set(options).subtracting(["none"]) }
            return []
        }
        #expect(offered == Set(mine.map(\.1)), "\(type.id): breakers offered vs tested")
    }
}
