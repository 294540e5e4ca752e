import Foundation
import LabCatalog
import LabKit
import Testing

@testable import DataLabs

/// Every check of the phase-2 PostgreSQL labs and the phase-10 SQLite labs has a breaker: a
/// `break` value (or an experiment knob the lab already had, like `for-update=false`) that
/// plants one realistic mistake in the lab's own reference. Each, run end to end in quick
/// mode, fails exactly the checks listed here, and the lab passes without one. The
/// PostgreSQL labs start a throwaway server each run: like PostgresLabTests, they need
/// PostgreSQL installed and fail without it.
@Suite(.serialized) struct Phase2And10BreakerTests {
    static let labs: [any Lab.Type] = [
        PostgresSetupLab.self, SchemaNormalizationLab.self, SQLMasteryLab.self, QueryPlansLab.self, TransactionsIsolationLab.self,
        EventSourcingLab.self, IdempotencyLab.self,
    ]

    typealias PS = PostgresSetupLab
    typealias SN = SchemaNormalizationLab
    typealias SQ = SQLMasteryLab
    typealias QP = QueryPlansLab
    typealias TI = TransactionsIsolationLab
    typealias ES = EventSourcingLab
    typealias ID = IdempotencyLab

    /// (lab, the parameters that plant the mistake, the checks that must fail: exactly these).
    nonisolated(unsafe) static let breakers: [(any Lab.Type, [String: String], Set<String>)] = [
        (PS.self, ["break": "listen-on-localhost"], [PS.socketOnly]),
        (PS.self, ["break": "version-from-banner"], [PS.binaryVersion]),
        (PS.self, ["break": "major-as-version-num"], [PS.modernRelease]),
        (PS.self, ["break": "role-without-login"], [PS.logsIn]),
        (PS.self, ["break": "trust-logins"], [PS.wrongPasswordRefused]),
        (PS.self, ["break": "rows-off-by-one"], [PS.everyRow]),
        (PS.self, ["break": "real-for-double"], [PS.roundTrips, PS.declaredTypes]),
        (PS.self, ["break": "created-by-superuser"], [PS.ownedByCreator]),
        (SN.self, ["break": "products-without-distinct"], [SN.scriptRuns, SN.rowCounts, SN.revenueAgrees]),
        (SN.self, ["break": "name-as-full-name"], [SN.hasColumns]),
        (SN.self, ["break": "email-on-orders"], [SN.oneHome]),
        (SN.self, ["break": "customers-view"], [SN.cityOneFact, SN.orphanOrderRefused]),
        (SN.self, ["break": "no-line-foreign-keys"], [SN.orphanLineRefused]),
        (SN.self, ["break": "flat-update-by-email"], [SN.flatDisagrees]),
        (SQ.self, ["break": "join-fan-out"], [SQ.check("q1"), SQ.check("q5")]),
        (SQ.self, ["break": "inner-join-for-outer"], [SQ.check("q2")]),
        (SQ.self, ["break": "wrong-group-by"], [SQ.check("q3"), SQ.check("q8")]),
        (SQ.self, ["break": "uncorrelated-subquery"], [SQ.check("q4"), SQ.check("q6")]),
        (SQ.self, ["break": "window-without-partition"], [SQ.check("q7"), SQ.check("q10")]),
        (SQ.self, ["break": "window-without-order"], [SQ.check("q9")]),
        (QP.self, ["break": "index-on-kind"], [QP.usesIndex, QP.indexRows, QP.faster]),
        (QP.self, ["break": "index-before-load"], [QP.seqScanBefore, QP.readEveryRow, QP.faster]),
        (QP.self, ["break": "ids-from-zero"], [QP.indexRows, QP.answersAgree]),
        (
            TI.self, ["break": "serial-sessions"],
            [TI.nonRepeatableRead, TI.lostWithoutLock, TI.bWaited, TI.writeSkewAllowed, TI.serializableRefuses, TI.retryCommits]
        ),
        (TI.self, ["break": "level-outside-transaction"], [TI.sameSnapshot, TI.serializableRefuses, TI.retryCommits]),
        (TI.self, ["break": "lock-first-reader-only"], [TI.bWaited, TI.bReadCommitted, TI.noUpdateLost]),
        // The lab's own experiment: without FOR UPDATE the 4 quick sessions lose dozens of
        // their 60 increments (20 to 40 of 60 in five runs), not one or two.
        (TI.self, ["for-update": "false"], [TI.bWaited, TI.bReadCommitted, TI.noUpdateLost, TI.everyIncrement]),
        (ES.self, ["break": "withdrawal-adds"], [ES.readModelMatches, ES.noLostUpdate]),
        (ES.self, ["break": "zero-based-versions"], [ES.readModelMatches, ES.versionsContiguous, ES.databaseRefusesDuplicate]),
        (ES.self, ["break": "positive-balance-only"], [ES.neverOverdrawn]),
        (ES.self, ["break": "no-unique-version"], [ES.databaseRefusesDuplicate]),
        (ES.self, ["break": "replay-keeps-checkpoint"], [ES.replayMatches]),
        // One writer: with several, a decision on a stale state may also overdraw an account,
        // by luck of the interleaving; alone, only the stale-append scene is affected.
        (ES.self, ["optimistic-concurrency": "false", "writers": "1"], [ES.staleRefused, ES.onlyFreshLanded]),
        (ID.self, ["honour-keys": "false"], [ID.oneChargePerKey, ID.sameResponse, ID.oneCreated, ID.describesRow, ID.differentPayloadRefused]),
        (ID.self, ["break": "no-fingerprint-check"], [ID.differentPayloadRefused]),
        (ID.self, ["break": "receipt-made-twice"], [ID.describesRow]),
        (ID.self, ["break": "sequential-naive"], [ID.naiveDoubleCharges]),
    ]

    @Test(arguments: 0..<breakers.count)
    func breakerFailsExactlyItsChecks(_ i: Int) async throws {
        let (type, given, expected) = Self.breakers[i]
        try await Self.expectFailsExactly(type, given, expected)
    }

    @Test(arguments: 0..<labs.count)
    func passesWithoutABreakerAndEveryCheckHasOne(_ i: Int) async throws {
        try await Self.expectPassesAndEveryCheckHasABreaker(Self.labs[i], Self.breakers.map { ($0.0, $0.1, $0.2) })
    }

    // MARK: The two judgements, for any table of breakers

    /// `type` run in quick mode with `given` fails exactly `expected`, without an error.
    static func expectFailsExactly(_ type: any Lab.Type, _ given: [String: String], _ expected: Set<String>) async throws {
        let report = try await BreakerTests.run(type, given)
        let failed = Set(report.checks.filter { !$0.passed }.map(\.name))
        #expect(report.error == nil, "\(type.id) \(given): \(report.error ?? "")")
        #expect(report.outcome == .failed, "\(type.id) \(given)")
        #expect(failed == expected, "\(type.id) \(given):\n\(BreakerTests.failures(report))")
    }

    /// Without a breaker `type` passes; every one of its checks is failed by at least one
    /// entry of `breakers`, and every `break` value it offers has an entry.
    static func expectPassesAndEveryCheckHasABreaker(
        _ type: any Lab.Type, _ breakers: [(any Lab.Type, [String: String], Set<String>)]
    ) async throws {
        let report = try await BreakerTests.run(type)
        #expect(report.outcome == .passed, "\(type.id):\n\(BreakerTests.failures(report))")
        let mine = breakers.filter { $0.0.id == type.id }
        let covered = mine.reduce(into: Set<String>()) { $0.formUnion($1.2) }
        let uncovered = Set(report.checks.map(\.name)).subtracting(covered)
        #expect(uncovered.isEmpty, "\(type.id): checks without a breaker: \(uncovered.sorted())")
        let offered = type.info.parameters.first { $0.name == "break" }.map { p -> Set<String> in
            if case let .choice(options) = p.kind { return Set(options).subtracting(["none"]) }
            return []
        }
        #expect(offered == Set(mine.compactMap { $0.1["break"] }), "\(type.id): breakers offered vs tested")
    }
}
