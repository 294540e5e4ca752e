import LabCatalog
import Testing

@testable import CurriculumKit

/// A plan built in code: `spec` is [(id, phase, requires, parent, due)].
func makePlan(_ spec: [(String, Int, [String], String?, String?)], phaseDue: [Int: String] = [:]) -> Plan {
    var phases: [Phase] = []
    var tasks: [Task] = []
    for (k, s) in spec.enumerated() {
        while phases.count <= s.1 {
            let n = phases.count
            phases.append(Phase(id: "phase-\(n + 1)", number: n + 1, title: "Phase \(n + 1)", due: phaseDue[n].flatMap { Day(iso: $0) }))
        }
        phases[s.1].tasks.append(k)
        tasks.append(
            Task(
                id: s.0, title: s.0.uppercased(), phase: s.1, position: phases[s.1].tasks.count,
                requires: s.2, due: s.4.flatMap { Day(iso: $0) }, decomposedFrom: s.3))
    }
    return Plan(id: "test", title: "Test", phases: phases, tasks: tasks)
}

@Suite struct GraphTests {
    let plan = makePlan(
        [
            ("a", 0, [], nil, nil),
            ("b", 0, ["a"], nil, "2026-12-01"),
            ("c", 0, [], nil, nil),
            ("big", 1, ["phase-1"], nil, nil),
            ("big-1", 1, [], "big", nil),
            ("big-2", 1, ["big-1"], "big", nil),
        ], phaseDue: [0: "2026-12-31"])

    func state(_ done: [String]) -> PlanState {
        PlanState(plan: plan, checked: plan.tasks.map { done.contains($0.id) })
    }

    func ids(_ list: [Int]) -> [String] { list.map { plan.tasks[$0].id } }

    @Test func aTaskIsReadyWhenEveryRequirementIsDone() {
        let s = state([])
        #expect(s.status == [.ready, .blocked, .ready, .blocked, .blocked, .blocked])
        #expect(ids(s.blockers(of: 1).requirements) == ["a"])
        let after = state(["a"])
        #expect(after.status[1] == .ready)
    }

    @Test func aPhaseIdInRequiresMeansEveryTaskOfThePhase() {
        #expect(ids(plan.requires[3]) == ["a", "b", "c"])
        #expect(state(["a", "b"]).status[3] == .blocked)
    }

    @Test func aPartInheritsItsParentsRequirements() {
        let s = state([])
        #expect(ids(s.effectiveRequires[4]) == ["a", "b", "c"])
        #expect(ids(s.effectiveRequires[5]) == ["a", "b", "c", "big-1"])
        #expect(state(["a", "b", "c"]).status[4] == .ready)
    }

    @Test func aParentIsDoneExactlyWhenAllItsPartsAreDone() {
        #expect(state(["a", "b", "c", "big-1"]).done[3] == false)
        #expect(state(["a", "b", "c", "big-1"]).status[3] == .blocked)
        #expect(ids(state(["a", "b", "c", "big-1"]).blockers(of: 3).parts) == ["big-2"])
        #expect(state(["a", "b", "c", "big-1", "big-2"]).done[3] == true)
        // A check-off recorded on the parent itself does not make it done.
        #expect(state(["big"]).done[3] == false)
    }

    @Test func dueDatesAreInheritedFromParentThenPhase() {
        #expect(plan.due(of: 1) == Day(iso: "2026-12-01"))
        #expect(plan.due(of: 0) == Day(iso: "2026-12-31"))
        #expect(plan.due(of: 4) == nil)
    }

    @Test func nextOrdersOverdueThenDueThenUnblocksThenPlanOrder() {
        let s = state([])
        // a and c share the phase's due date; a unblocks b, big, big-1, big-2 (4), c unblocks big, big-1, big-2 (3).
        let n = s.next(today: Day(iso: "2026-11-25")!)
        #expect(ids(n.map(\.task)) == ["a", "c"])
        #expect(n.map(\.unblocks) == [4, 3])
        // After the phase's due date both are overdue; the tie still breaks by unblocks.
        let late = s.next(today: Day(iso: "2027-01-05")!)
        #expect(late.allSatisfy { $0.overdue })
        // Once a is done, b (due 2026-12-01) comes before c (due 2026-12-31).
        #expect(ids(state(["a"]).next(today: Day(iso: "2026-11-25")!).map(\.task)) == ["b", "c"])
    }

    @Test func nextIsDeterministicAndHonoursTheLimit() {
        let s = state([])
        let first = s.next(today: Day(iso: "2026-11-25")!, limit: 1)
        #expect(ids(first.map(\.task)) == ["a"])
        #expect(s.next(today: Day(iso: "2026-11-25")!) == s.next(today: Day(iso: "2026-11-25")!))
    }

    @Test func unblockCountsAreTransitive() {
        let s = state([])
        #expect(s.unblockCounts(of: [0, 2, 4]) == [4, 3, 2])
    }

    @Test func unblockCountsMatchABruteForceWalkOnAGeneratedGraph() {
        // 300 tasks with random back-edges and some parts; compare the bit-parallel counts
        // with a plain graph walk per task.
        var rng = SeededRandom(seed: 7)
        var spec: [(String, Int, [String], String?, String?)] = []
        for i in 0..<300 {
            var req: [String] = []
            if i > 0 { for _ in 0..<Int(rng.next() % 3) { req.append("t\(Int(rng.next() % UInt64(i)))") } }
            var parent: String?
            if i > 5 && rng.next() % 10 == 0 { parent = "t\(i - 1 - Int(rng.next() % 3))" }
            if let p = parent, spec.first(where: { $0.0 == p })?.3 != nil { parent = nil }
            spec.append(("t\(i)", i / 30, parent == nil ? req : [], parent, nil))
        }
        let p = makePlan(spec)
        let s = PlanState(plan: p, checked: p.tasks.indices.map { $0 % 7 == 0 && p.parts[$0].isEmpty })
        let open = p.tasks.indices.filter { !s.done[$0] }
        let counts = s.unblockCounts(of: open)
        for (k, src) in open.enumerated() {
            var seen = Set<Int>(), stack = [src]
            while let u = stack.popLast() {
                var next = s.dependents[u].filter { !s.done[$0] }
                if let par = p.parent[u], !s.done[par] { next.append(par) }
                for v in next where seen.insert(v).inserted { stack.append(v) }
            }
            seen.remove(src)
            #expect(counts[k] == seen.count, "task \(p.tasks[src].id)")
        }
    }

    @Test func daysRoundTripAndRejectImpossibleDates() {
        #expect(Day(iso: "2024-02-29")?.description == "2024-02-29")
        #expect(Day(iso: "2026-02-29") == nil)
        #expect(Day(iso: "2026-13-01") == nil)
        #expect(Day(iso: "26-1-1") == nil)
        #expect(Day(iso: "2026-12-31")!.adding(days: 1).description == "2027-01-01")
        #expect(Day(iso: "1970-01-01")!.ordinal == 0)
    }
}
