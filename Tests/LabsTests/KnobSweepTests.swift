import Foundation
import LabCatalog
import LabKit
import Labs
import Testing

/// Every numeric knob of the first nineteen labs (phases 2, 4, 6, 8 and 10) at its minimum
/// and at its top, one knob at a time, the others at their quick values: the lab must pass.
/// A check that breaks at a valid value (read-caching's TTL at 0.1 s did) is caught here,
/// and a lab whose knob allows a value where a check cannot hold must say "not observed"
/// rather than fail or pass on nothing.
///
/// The top is the knob's maximum, unless that is above ten times its quick value: size
/// knobs (rows, facts, requests) then run at ten times the quick value, because a larger
/// run repeats the same code longer (20 million facts would take minutes). Booleans and
/// choices are experiments and breakers, proven by the labs' own breaker tests.
/// The PostgreSQL labs start a throwaway server each run, so PostgreSQL must be installed;
/// their cases are a suite of their own, which runs beside the others (each suite one case at
/// a time): a server's start is mostly waiting, and the sweep stays within three minutes.
/// `scripts/test.sh` runs the sweep after every other test, not beside the labs that time
/// requests, whose thresholds a sweep's load on two cores would blur.
@Suite(.serialized) struct KnobSweepTests {
    static let labs = [
        "postgres-setup", "schema-normalization", "sql-mastery", "transactions-isolation", "orm", "query-plans",
        "coroutines", "coroutines-vs-threads", "thread-pools", "shared-resources", "concurrent-services",
        "read-caching", "denormalization", "jsonb", "migrations", "olap-schema", "background-jobs",
        "event-sourcing", "idempotency",
    ]

    struct Case: CustomTestStringConvertible, Sendable {
        var lab: String
        var knob: String
        var value: String
        var testDescription: String { "\(lab) \(knob)=\(value)" }
    }

    /// The value a sweep gives a knob's top end (see the suite's comment).
    static func top(_ p: LabParameter) -> String? {
        let quick = p.quickValue ?? p.defaultValue
        switch p.kind {
        case let .int(_, hi):
            guard let q = Int(quick) else { return String(hi) }
            return String(q > 0 && hi > q * 10 ? q * 10 : hi)
        case let .double(_, hi):
            guard let q = Double(quick) else { return String(hi) }
            return String(q > 0 && hi > q * 10 ? q * 10 : hi)
        case .bool, .choice, .text: return nil
        }
    }

    static func bottom(_ p: LabParameter) -> String? {
        switch p.kind {
        case let .int(lo, _): return String(lo)
        case let .double(lo, _): return String(lo)
        case .bool, .choice, .text: return nil
        }
    }

    static let allCases: [Case] = labs.flatMap { id -> [Case] in
        guard let lab = LabRegistry.lab(id) else { return [Case(lab: id, knob: "?", value: "?")] }
        return lab.info.parameters.flatMap { p in
            Set([bottom(p), top(p)].compactMap { $0 }).sorted().map { Case(lab: id, knob: p.name, value: $0) }
        }
    }

    static func needsPostgres(_ c: Case) -> Bool {
        LabRegistry.lab(c.lab)?.info.needs.contains { $0.name == "PostgreSQL" } ?? false
    }
    static let cases = allCases.filter { !needsPostgres($0) }
    static let postgresCases = allCases.filter(needsPostgres)

    /// Runs one case: the lab must pass with the knob at that value.
    static func passes(_ c: Case) async throws {
        let lab = try #require(LabRegistry.lab(c.lab))
        let parameters = try lab.info.resolve(parameters: [c.knob: c.value], quick: true)
        let report = await LabRunner.run(lab, info: lab.info, quick: true, parameters: parameters)
        let failures = report.checks.filter { !$0.passed }.map { "\($0.name): expected \($0.expected), observed \($0.observed)" }
        #expect(report.outcome == .passed, "\(c.testDescription):\n\((failures + [report.error].compactMap { $0 }).joined(separator: "\n"))")
        #expect(!report.checks.isEmpty, "\(c.testDescription) ran no check")
    }

    @Test func theSweepCoversEveryNumericKnobOfTheNineteen() throws {
        #expect(Self.labs.count == 19)
        for id in Self.labs {
            let lab = try #require(LabRegistry.lab(id), "\(id) is not in the registry")
            let numeric = lab.info.parameters.filter { Self.bottom($0) != nil }
            for p in numeric {
                #expect(Self.allCases.contains { $0.lab == id && $0.knob == p.name && $0.value == Self.bottom(p) })
                #expect(Self.allCases.contains { $0.lab == id && $0.knob == p.name && $0.value == Self.top(p) })
            }
        }
    }

    @Test(arguments: cases)
    func passesAtTheExtreme(_ c: Case) async throws { try await Self.passes(c) }
}

@Suite(.serialized) struct KnobSweepPostgresTests {
    @Test(arguments: KnobSweepTests.postgresCases)
    func passesAtTheExtreme(_ c: KnobSweepTests.Case) async throws { try await KnobSweepTests.passes(c) }
}
