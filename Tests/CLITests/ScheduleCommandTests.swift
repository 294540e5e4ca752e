import CurriculumKit
import Foundation
import Testing

/// `start`, `review` and `forecast` end to end, on fixed dates and fixed histories.
@Suite("start, review and forecast") struct ScheduleCommandTests {
    /// The fixture plan paced from a start of its own.
    static let startedPlan = CLI.fixturePlan.replacingOccurrences(of: "title: Fixture Plan", with: "title: Fixture Plan\nstart: 2026-11-01")

    func json(_ r: CLI.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)\(r.stderr)")
    }

    func jsonArray(_ r: CLI.Result) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], "\(r.stdout)\(r.stderr)")
    }

    @Test func dueDatesFollowTheLearnersOwnStart() throws {
        var cli = try CLI(plan: Self.startedPlan); defer { cli.cleanUp() }
        cli.today = "2026-12-01"
        // First use records today (30 days after the plan's start) and says so once.
        let first = try cli.run(["status", "--json"])
        #expect(first.status == 0)
        #expect(first.stderr.contains("Your start is recorded as 2026-12-01"), "\(first.stderr)")
        let status = try json(first)
        #expect(status["learner_start"] as? String == "2026-12-01")
        #expect((status["overdue"] as? [String]) == [], "gamma (due 2026-11-20 as written) is not overdue on day one")
        let again = try cli.run(["status"])
        #expect(!again.stderr.contains("recorded"))
        // Every date moves by 30 days: due, show, next, export.
        let due = try jsonArray(try cli.run(["due", "--json"]))
        let dates = Dictionary(uniqueKeysWithValues: due.map { ($0["id"] as! String, $0["due"] as! String) })
        #expect(dates["gamma"] == "2026-12-20")
        #expect(dates["beta"] == "2026-12-31")
        #expect(dates["alpha"] == "2027-01-30")
        #expect(try cli.run(["show", "gamma"]).stdout.contains("2026-12-20"))
        let next = try cli.run(["next"])
        #expect(next.stdout.contains("2026-12-20"), "\(next.stdout)")
        let export = try json(try cli.run(["export", "--format", "json"]))
        #expect(export["start"] as? String == "2026-11-01")
        #expect(export["learner_start"] as? String == "2026-12-01")
        let phases = try #require(export["phases"] as? [[String: Any]])
        #expect(phases.first?["due"] as? String == "2027-01-30")
        #expect(try cli.run(["export", "--obsidian-tasks"]).stdout.contains("📅 2026-12-20"))
        // A pause: start --on moves it later.
        let moved = try cli.run(["start", "--on", "2026-12-11"])
        #expect(moved.status == 0)
        #expect(moved.stdout.contains("Your start is now 2026-12-11"), "\(moved.stdout)")
        let later = try jsonArray(try cli.run(["due", "--json"]))
        #expect(later.first { $0["id"] as? String == "gamma" }?["due"] as? String == "2026-12-30")
        let shown = try json(try cli.run(["start", "--json"]))
        #expect(shown["start"] as? String == "2026-12-11")
        #expect(shown["shift"] as? Int == 40)
        #expect(shown["recorded"] as? Bool == false)
        let bad = try cli.run(["start", "--on", "someday"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("YYYY-MM-DD"))
    }

    @Test func startAsFirstUseRecordsOnlyItsOwnDate() throws {
        var cli = try CLI(plan: Self.startedPlan); defer { cli.cleanUp() }
        cli.today = "2026-12-01"
        let r = try cli.run(["start", "--on", "2026-11-15"])
        #expect(r.status == 0)
        #expect(!r.stderr.contains("recorded as"))
        #expect(try json(try cli.run(["status", "--json"]))["learner_start"] as? String == "2026-11-15")
    }

    @Test func aPlanWithoutStartKeepsItsDates() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let status = try cli.run(["status", "--json"])
        #expect(!status.stderr.contains("recorded"))
        #expect(try json(status)["learner_start"] == nil)
        #expect((try json(status)["overdue"] as? [String]) == ["gamma"])
        let start = try cli.run(["start"])
        #expect(start.status == 0)
        #expect(start.stdout.contains("no `start:`"))
        #expect(try jsonArray(try cli.run(["due", "--json"])).first { $0["id"] as? String == "gamma" }?["due"] as? String == "2026-11-20")
    }

    /// The fixture plan with labs on alpha and gamma, and a database with alpha verified
    /// on 2026-11-01.
    func reviewFixture() throws -> CLI {
        let plan = CLI.fixturePlan
            .replacingOccurrences(of: "title: Alpha task", with: "title: Alpha task\n        labs: [coroutines]")
            .replacingOccurrences(of: "title: Gamma task", with: "title: Gamma task\n        labs: [orm]")
        let cli = try CLI(plan: plan)
        let store = try Store(path: cli.db)
        try store.checkOff([.init(task: "alpha", verified: true)], day: Day(iso: "2026-11-01")!)
        try store.checkOff([.init(task: "gamma")], day: Day(iso: "2026-11-01")!)
        return cli
    }

    @Test func reviewListsWhatIsDueAndStatusCountsIt() throws {
        var cli = try reviewFixture(); defer { cli.cleanUp() }
        cli.today = "2026-11-03"
        #expect(try cli.run(["review"]).stdout.contains("Nothing is due for review; the next is alpha on 2026-11-04."))
        #expect(!(try cli.run(["status"]).stdout.contains("Reviews due")))
        cli.today = "2026-11-05"
        let r = try cli.run(["review"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("1 review due"), "\(r.stdout)")
        #expect(r.stdout.contains("alpha"))
        #expect(r.stdout.contains("1d late"))
        #expect(!r.stdout.contains("gamma"), "an unverified check-off is not scheduled")
        #expect(try cli.run(["status"]).stdout.contains("Reviews due: 1"))
        #expect(try json(try cli.run(["status", "--json"]))["reviews_due"] as? Int == 1)
        let j = try json(try cli.run(["review", "--json"]))
        #expect(j["due"] as? Int == 1)
        let item = try #require((j["tasks"] as? [[String: Any]])?.first)
        #expect(item["id"] as? String == "alpha")
        #expect(item["due"] as? String == "2026-11-04")
        #expect(item["interval"] as? Int == 3)
        #expect(item["streak"] as? Int == 1)
        // A failed re-run (recorded as recheck records it) makes it regressed and due at once.
        let store = try Store(path: cli.db)
        try store.recordRecheck(task: "alpha", passed: false, day: Day(iso: "2026-11-05")!)
        let after = try json(try cli.run(["review", "--json"]))
        #expect((after["tasks"] as? [[String: Any]])?.first?["regressed"] as? Bool == true)
        try store.recordRecheck(task: "alpha", passed: true, day: Day(iso: "2026-11-05")!)
        #expect(try cli.run(["review"]).stdout.contains("the next is alpha on 2026-11-08"))
        #expect(try cli.run(["review", "--all"]).stdout.contains("0 reviews due of 1 scheduled"))
        let usage = try cli.run(["review", "--url", "http://127.0.0.1:1"])
        #expect(usage.status == 64)
    }

    @Test func reviewWithNothingVerifiedSaysHowTasksGetScheduled() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["review"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Nothing to review yet"))
        #expect(try cli.run(["review", "--run"]).stdout.contains("Nothing is due for review"))
    }

    @Test func forecastFromAFixedHistory() throws {
        var cli = try CLI(); defer { cli.cleanUp() }
        cli.today = "2026-11-28"
        let none = try cli.run(["forecast"])
        #expect(none.status == 0)
        #expect(none.stdout.contains("No check-offs yet"), "\(none.stdout)")
        #expect(try json(try cli.run(["forecast", "--json"]))["pace"] is NSNull)
        let store = try Store(path: cli.db)
        try store.checkOff([.init(task: "alpha")], day: Day(iso: "2026-11-20")!)
        try store.checkOff([.init(task: "gamma")], day: Day(iso: "2026-11-27")!)
        let f = try json(try cli.run(["forecast", "--json"]))
        #expect(f["today"] as? String == "2026-11-28")
        #expect(f["check_offs"] as? Int == 2)
        #expect(f["weekly"] as? [Int] == [1, 1])
        #expect((f["pace"] as? [String: Any])?["likely"] as? Double == 1)
        #expect(f["open"] as? Int == 3)
        // beta, cap-part-one, cap-part-two at one a week: 21 days.
        #expect((f["finish"] as? [String: Any])?["likely"] as? String == "2026-12-19")
        #expect(f["critical_path"] as? [String] == ["cap-part-one", "cap-part-two", "capstone"])
        let risks = try #require(f["at_risk"] as? [[String: Any]])
        #expect(risks.map { $0["id"] as! String } == ["beta"])
        #expect(risks.first?["days_late"] as? Int == 4)
        let text = try cli.run(["forecast"])
        #expect(text.stdout.contains("1.0 check-offs a week"), "\(text.stdout)")
        #expect(text.stdout.contains("Due dates at risk: 1"))
        #expect(text.stdout.contains("beta"))
        // The same history gives the same answer.
        #expect(try cli.run(["forecast", "--json"]).stdout == (try cli.run(["forecast", "--json"])).stdout)
        // Ten weeks later with nothing done since: a pace of zero.
        cli.today = "2027-02-10"
        let idle = try cli.run(["forecast"])
        #expect(idle.stdout.contains("nothing finishes"), "\(idle.stdout)")
        #expect(idle.stdout.contains("never at this pace"))
        let help = try cli.run(["forecast", "--help"])
        #expect(help.stdout.contains("weighted"))
    }
}
