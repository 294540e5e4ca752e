import Foundation
import Testing

@testable import CurriculumKit

/// The learner's start (store migration v3), the review schedule and the forecast, on
/// fixed histories.
@Suite struct TrackerScheduleTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("schedule-\(UUID().uuidString)")
    var path: String { folder.appendingPathComponent("progress.sqlite").path }
    func day(_ s: String) -> Day { Day(iso: s)! }

    // MARK: The learner's start

    @Test func aVersionTwoDatabaseOpensUnchangedAndGainsTheStart() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // A database as the previous release left it: migrations 1 and 2, one check-off.
        do {
            let c = try SQLiteConnection(path: path, readOnly: false, create: true)
            try c.execute("PRAGMA journal_mode = WAL")
            for (i, m) in Store.migrations.prefix(2).enumerated() {
                try c.execute(m.sql)
                try c.execute("PRAGMA user_version = \(i + 1)")
            }
            try c.execute(
                """
                INSERT INTO events (at, day, kind, task) VALUES ('2026-11-25T10:00:00.000Z', '2026-11-25', 'checked', 'a');
                INSERT INTO task_state (task, done_on, checked_at, event) VALUES ('a', '2026-11-25', '2026-11-25T10:00:00.000Z', 1);
                """)
            c.close()
        }
        let store = try Store(path: path)
        #expect(try store.progress().keys.sorted() == ["a"])
        #expect(try store.log(limit: nil).count == 1)
        #expect(try store.learnerStart() == nil)
        #expect(try store.health().driftedTasks.isEmpty)
        try store.recordStart(day("2026-12-01"), day: day("2026-12-01"))
        try store.recordStart(day("2026-12-15"), day: day("2026-12-20"))
        #expect(try store.learnerStart() == day("2026-12-15"))
        // The start is no check-off: undo leaves it alone, and progress is unchanged.
        #expect(try store.undoLast(day: day("2026-12-20"))?.task == "a")
        #expect(try store.learnerStart() == day("2026-12-15"))
        let version = try store.db.query("PRAGMA user_version") { $0.int(0) }.first
        #expect(version == Store.migrations.count)
    }

    @Test func thePlansDatesShiftByTheLearnersStart() {
        var plan = Plan(
            id: "p", title: "P", start: day("2026-11-01"),
            phases: [Phase(id: "one", number: 1, title: "One", due: day("2026-11-30"), tasks: [0, 1])],
            tasks: [
                Task(id: "a", title: "A", phase: 0, position: 1, due: day("2026-11-10")),
                Task(id: "b", title: "B", phase: 0, position: 2),
            ])
        #expect(plan.due(of: 0) == day("2026-11-10"))
        plan.dateShift = 30
        #expect(plan.due(of: 0) == day("2026-12-10"))
        #expect(plan.due(of: 1) == day("2026-12-30"))
        #expect(plan.due(ofPhase: 0) == day("2026-12-30"))
        #expect(plan.learnerStart == day("2026-12-01"))
    }

    // MARK: Review

    static let labPlan = Plan(
        id: "p", title: "P",
        phases: [Phase(id: "one", number: 1, title: "One", tasks: [0, 1, 2])],
        tasks: [
            Task(id: "a", title: "A", phase: 0, position: 1, labs: ["orm"]),
            Task(id: "b", title: "B", phase: 0, position: 2, labs: ["orm"]),
            Task(id: "c", title: "C", phase: 0, position: 3),
        ])

    func event(_ kind: Event.Kind, _ task: String, _ d: String, verified: Bool = false, passed: Bool? = nil) -> Event {
        Event(at: d + "T10:00:00.000Z", day: d, kind: kind, task: task, verified: verified, passed: passed)
    }

    @Test func reviewsComeBackAfterGrowingIntervalsAndResetAfterAFailure() {
        let plan = Self.labPlan
        let state = PlanState(plan: plan, checked: [true, true, true])
        let index = { (id: String) in plan.taskIndex[id] }
        var events = [
            event(.checked, "a", "2026-11-01", verified: true), event(.checked, "b", "2026-11-01"),
            event(.checked, "c", "2026-11-01", verified: true),
        ]
        // Only a with labs and a verification is scheduled: 3 days after it.
        var items = ReviewSchedule.items(state: state, verdicts: events, index: index)
        #expect(items.map(\.task) == [0])
        #expect(items[0].due == day("2026-11-04"))
        #expect(items[0].interval == 3)
        // Each pass grows the interval: 7, 21, 60, then 60 again.
        var expected = [
            ("2026-11-04", "2026-11-11", 7), ("2026-11-11", "2026-12-02", 21), ("2026-12-02", "2027-01-31", 60),
            ("2027-01-31", "2027-04-01", 60),
        ]
        for (run, due, gap) in expected {
            events.append(event(.rechecked, "a", run, passed: true))
            items = ReviewSchedule.items(state: state, verdicts: events, index: index)
            #expect(items[0].due == day(due))
            #expect(items[0].interval == gap)
        }
        // A failure makes it due at once and regressed; the next pass starts again at 3 days.
        events.append(event(.rechecked, "a", "2027-04-01", passed: false))
        items = ReviewSchedule.items(state: state, verdicts: events, index: index)
        #expect(items[0].regressed && items[0].due == day("2027-04-01") && items[0].streak == 0)
        events.append(event(.rechecked, "a", "2027-04-02", passed: true))
        items = ReviewSchedule.items(state: state, verdicts: events, index: index)
        #expect(!items[0].regressed && items[0].due == day("2027-04-05") && items[0].streak == 1)
        // A recheck that passes verifies an unverified task: b joins the schedule.
        events.append(event(.rechecked, "b", "2027-04-02", passed: true))
        items = ReviewSchedule.items(state: state, verdicts: events, index: index)
        #expect(items.map(\.task) == [0, 1])
        // An open task is never due.
        let reopened = PlanState(plan: plan, checked: [false, true, true])
        #expect(ReviewSchedule.items(state: reopened, verdicts: events, index: index).map(\.task) == [1])
        expected = []
    }

    // MARK: Forecast

    /// Ten tasks: a chain a1 → … → a6 in phase one (due early), b1…b4 free in phase two.
    static let chainPlan: Plan = {
        var tasks: [Task] = []
        for k in 1...6 {
            tasks.append(Task(id: "a\(k)", title: "A\(k)", phase: 0, position: k, requires: k == 1 ? [] : ["a\(k - 1)"]))
        }
        for k in 1...4 { tasks.append(Task(id: "b\(k)", title: "B\(k)", phase: 1, position: k)) }
        tasks[5].due = Day(iso: "2026-12-05")
        return Plan(
            id: "p", title: "P",
            phases: [
                Phase(id: "one", number: 1, title: "One", due: Day(iso: "2026-12-20"), tasks: Array(0..<6)),
                Phase(id: "two", number: 2, title: "Two", due: Day(iso: "2027-06-01"), tasks: Array(6..<10)),
            ],
            tasks: tasks)
    }()

    @Test func paceWeighsRecentWeeksMore() {
        // Newest first: 4 this week, 0 the week before → (2·4 + 1·0) / 3.
        let p = Forecast.pace([4, 0])
        #expect(abs(p.likely - 8.0 / 3) < 1e-9)
        #expect(p.optimistic > p.likely && p.pessimistic < p.likely)
        // A steady pace still gets a range of a quarter either side.
        let steady = Forecast.pace([2, 2, 2])
        #expect(steady.likely == 2 && steady.optimistic == 2.5 && steady.pessimistic == 1.5)
        #expect(Forecast.pace([0, 0]) == Forecast.Pace(optimistic: 0, likely: 0, pessimistic: 0))
    }

    @Test func aFixedHistoryGivesFixedDates() {
        let plan = Self.chainPlan
        // a1, b1 done in the week ending 2026-11-28; a2, b2 the week before: 2 a week.
        var checked = [Bool](repeating: false, count: 10)
        for i in [0, 1, 6, 7] { checked[i] = true }
        let state = PlanState(plan: plan, checked: checked)
        let days: [Int: Day] = [0: day("2026-11-20"), 6: day("2026-11-21"), 1: day("2026-11-26"), 7: day("2026-11-27")]
        let f = Forecast(state: state, doneDays: days, today: day("2026-11-28"))
        #expect(f.checkOffs == 4)
        #expect(f.weekly == [2, 2])
        #expect(f.pace?.likely == 2)
        #expect(f.open == 6)
        // Six check-offs at 2 a week: 21 days; at 2.5: 17; at 1.5: 28.
        #expect(f.finish == Forecast.Range(optimistic: day("2026-12-15"), likely: day("2026-12-19"), pessimistic: day("2026-12-26")))
        // Phase one's four open tasks come first (a3…a6), so it finishes after four check-offs.
        #expect(f.phases.map(\.phase) == [0, 1])
        #expect(f.phases[0].finish.likely == day("2026-12-12"))
        #expect(f.phases[1].finish.likely == day("2026-12-19"))
        #expect(f.criticalPath.map { plan.tasks[$0].id } == ["a3", "a4", "a5", "a6"])
        // a6 is due 2026-12-05 but expected 2026-12-12: 7 days late; the phase's own date holds.
        #expect(f.atRisk.map { plan.tasks[$0.task].id } == ["a6"])
        #expect(f.atRisk.first?.daysLate == 7)
        // The same inputs give the same forecast.
        #expect(Forecast(state: state, doneDays: days, today: day("2026-11-28")).finish == f.finish)
    }

    @Test func aPaceOfZeroFinishesNothingAndPutsEveryDueDateAtRisk() {
        let plan = Self.chainPlan
        var checked = [Bool](repeating: false, count: 10)
        checked[0] = true
        let state = PlanState(plan: plan, checked: checked)
        // The only check-off was ten weeks ago: the window holds eight empty weeks.
        let f = Forecast(state: state, doneDays: [0: day("2026-09-19")], today: day("2026-11-28"))
        #expect(f.weekly == [Int](repeating: 0, count: 8))
        #expect(f.pace?.likely == 0)
        #expect(f.finish == Forecast.Range(optimistic: nil, likely: nil, pessimistic: nil))
        #expect(f.atRisk.count == 9)
        #expect(f.atRisk.allSatisfy { $0.daysLate == nil })
        // Never-finishing ones are ordered by due date, then plan order.
        #expect(plan.tasks[f.atRisk[0].task].id == "a6")
    }

    @Test func noHistoryHasNoPace() {
        let state = PlanState(plan: Self.chainPlan, checked: [Bool](repeating: false, count: 10))
        let f = Forecast(state: state, doneDays: [:], today: day("2026-11-28"))
        #expect(f.pace == nil && f.checkOffs == 0 && f.weekly.isEmpty)
        #expect(f.open == 10)
        #expect(f.criticalPath.count == 6)
    }
}
