import Foundation
import Testing

@testable import CurriculumKit

/// The hand-written JSON must be byte for byte what JSONEncoder prints, and the plan cache
/// must give back the plan it stored.
@Suite struct JSONWriterTests {
    /// Titles and notes with everything that needs escaping (or must not be escaped).
    let plan: Plan = {
        let phases = [
            Phase(id: "p1", number: 1, icon: "🏗️", title: "Tab\there \"quoted\" a/b", due: Day(iso: "2026-12-31"), tasks: [0, 1, 2]),
            Phase(id: "p2", number: 2, title: "Empty", tasks: []),
        ]
        let tasks = [
            Task(
                id: "a", title: "Back \\ slash / nl \n cr \r ff \u{0C} bs \u{08} ctl \u{01}\u{1F} del \u{7F}", phase: 0, position: 1,
                labs: ["lab-x"], due: Day(iso: "2026-11-01")),
            Task(id: "b", title: "é 🎉 \u{2028}", phase: 0, position: 2, requires: ["a"], generatedFrom: "note.md"),
            Task(id: "c", title: "part", phase: 0, position: 3, requires: ["p1"], decomposedFrom: "b"),
        ]
        return Plan(
            id: "esc", title: "Esc \"plan\"", generatedFrom: "x/y.md", start: Day(iso: "2026-09-01"),
            phases: phases, tasks: tasks)
    }()

    func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }

    func progress() -> Tracker.Progress {
        var p = Tracker.Progress()
        p.byTask[0] = TaskProgress(
            task: "a", doneOn: "2026-10-02", checkedAt: "2026-10-02T10:00:00.000Z",
            verified: true, regressed: false, note: "a \"note\"\twith / and \\", event: 1)
        p.orphans = [
            TaskProgress(
                task: "gone", doneOn: "2026-10-01", checkedAt: "2026-10-01T10:00:00.000Z",
                verified: false, regressed: false, note: nil, event: 2)
        ]
        return p
    }

    @Test func planJSONMatchesJSONEncoder() throws {
        for done in [[false, false, false], [true, false, false], [true, false, true]] {
            let state = PlanState(plan: plan, checked: done)
            let value = PlanJSON(state: state, progress: progress(), today: Day(iso: "2026-11-15") ?? Day(ordinal: 0))
            let expected = String(decoding: try encoder().encode(value), as: UTF8.self)
            #expect(value.prettyJSON == expected)
            // Streamed in small pieces: the same bytes.
            var streamed: [UInt8] = []
            PlanJSON.writeStreaming(
                state: state, progress: progress(), today: Day(iso: "2026-11-15") ?? Day(ordinal: 0),
                chunk: 64
            ) { streamed += Array($0) }
            #expect(String(decoding: streamed, as: UTF8.self) == expected)
        }
    }

    @Test func taskListsMatchJSONEncoder() throws {
        let state = PlanState(plan: plan, checked: [true, false, false])
        let today = Day(iso: "2026-11-15") ?? Day(ordinal: 0)
        let all = plan.tasks.indices.map { TaskJSON($0, state: state, progress: progress(), today: today) }
        for list in [all, [], Array(all.prefix(1))] {
            #expect(list.prettyJSON == String(decoding: try encoder().encode(list), as: UTF8.self))
        }
    }

    @Test func theCacheGivesBackThePlan() throws {
        let identity = PlanCache.FileIdentity(device: 1, inode: 2, size: 3, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0)
        let data = PlanCache.encode(
            plan, warnings: [.warning("w", at: SourceLocation(file: "f", line: 1, column: 2))],
            identity: identity, labsKey: 7, contentHash: 9)
        let loaded = try #require(PlanCache.decode(data, identity: identity, labsKey: 7, path: "/nonexistent"))
        let back = try #require(loaded.plan)
        #expect(back.tasks == plan.tasks)
        #expect(back.phases == plan.phases)
        #expect(back.requires == plan.requires)
        #expect(back.parent == plan.parent)
        #expect(back.parts == plan.parts)
        #expect(back.taskIndex == plan.taskIndex)
        #expect(loaded.warnings.map(\.message) == ["w"])
        // Another identity, another lab set, or a cut-off file: no plan.
        #expect(PlanCache.decode(data, identity: identity, labsKey: 8, path: "/nonexistent") == nil)
        #expect(PlanCache.decode(data.prefix(data.count - 3), identity: identity, labsKey: 7, path: "/nonexistent") == nil)
    }
}
