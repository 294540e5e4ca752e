import Foundation
import Testing

// `due`, `due --overdue` and the overdue marks of `next` across clock changes (New York
// 2026-03-08 and 2026-11-01, Berlin 2026-03-29), the turn of the year and leap day
// 2028-02-29. The date comes from --today (or CURRICULUM_TODAY), so the output is fixed
// whatever TZ says; TZ without --today is checked against the date computed here.

@Suite("Due dates across clock changes and years") struct TimeCommandTests {
    static let plan = """
        schema: 1
        id: clock
        title: Clock Plan
        phases:
          - id: changes
            number: 1
            title: Clock changes
            tasks:
              - id: ny-spring
                title: New York springs forward
                due: 2026-03-08
              - id: berlin-spring
                title: Berlin springs forward
                due: 2026-03-29
              - id: ny-fall
                title: New York falls back
                due: 2026-11-01
          - id: turn
            number: 2
            title: Turn of the year
            tasks:
              - id: new-years-eve
                title: New Year's Eve
                due: 2026-12-31
              - id: new-year
                title: New Year's Day
                due: 2027-01-01
                requires: [new-years-eve]
              - id: leap-day
                title: Leap day
                due: 2028-02-29
        """

    static let zones = ["America/New_York", "Europe/Berlin", "Pacific/Kiritimati", "Etc/GMT+12", "UTC"]

    func run(_ cli: CLI, _ args: [String], zone: String) throws -> String {
        let r = try cli.run(args, env: ["TZ": zone])
        #expect(r.status == 0, "\(args): \(r.stderr)")
        return r.stdout
    }

    @Test(arguments: zones) func theDayOfAClockChange(_ zone: String) throws {
        let cli = try CLI(plan: Self.plan); defer { cli.cleanUp() }
        #expect(
            try run(cli, ["due", "--today", "2026-03-08"], zone: zone) == """
                2026-03-08  today         ○ ny-spring  New York springs forward
                2026-03-29  in 21d        ○ berlin-spring  Berlin springs forward
                2026-11-01  in 238d       ○ ny-fall  New York falls back
                2026-12-31  in 298d       ○ new-years-eve  New Year's Eve
                2027-01-01  in 299d       · new-year  New Year's Day
                2028-02-29  in 723d       ○ leap-day  Leap day

                """)
        #expect(try run(cli, ["due", "--overdue", "--today", "2026-03-08"], zone: zone) == "Nothing is overdue.\n")
        // The day after, it is overdue by exactly one day (not 23 hours' worth of nothing).
        #expect(
            try run(cli, ["due", "--overdue", "--today", "2026-03-09"], zone: zone)
                == "2026-03-08  1d overdue    ○ ny-spring  New York springs forward\n")
        #expect(
            try run(cli, ["next", "--today", "2026-03-09"], zone: zone).hasPrefix(
                "ny-spring  1.1  2026-03-08 overdue  New York springs forward\nberlin-spring  1.2  2026-03-29  Berlin springs forward\n"))
        // Berlin's change three weeks later, and New York's autumn one (a 25-hour day).
        #expect(
            try run(cli, ["due", "--overdue", "--today", "2026-03-29"], zone: zone)
                == "2026-03-08  21d overdue   ○ ny-spring  New York springs forward\n")
        #expect(
            try run(cli, ["due", "--overdue", "--today", "2026-03-30"], zone: zone) == """
                2026-03-08  22d overdue   ○ ny-spring  New York springs forward
                2026-03-29  1d overdue    ○ berlin-spring  Berlin springs forward

                """)
        #expect(
            try run(cli, ["due", "--within", "0d", "--today", "2026-11-01"], zone: zone) == """
                2026-03-08  238d overdue  ○ ny-spring  New York springs forward
                2026-03-29  217d overdue  ○ berlin-spring  Berlin springs forward
                2026-11-01  today         ○ ny-fall  New York falls back

                """)
        #expect(
            try run(cli, ["due", "--overdue", "--today", "2026-11-02"], zone: zone).hasSuffix(
                "2026-11-01  1d overdue    ○ ny-fall  New York falls back\n"))
    }

    @Test(arguments: zones) func theTurnOfTheYear(_ zone: String) throws {
        let cli = try CLI(plan: Self.plan); defer { cli.cleanUp() }
        #expect(
            try run(cli, ["due", "--today", "2026-12-31"], zone: zone) == """
                2026-03-08  298d overdue  ○ ny-spring  New York springs forward
                2026-03-29  277d overdue  ○ berlin-spring  Berlin springs forward
                2026-11-01  60d overdue   ○ ny-fall  New York falls back
                2026-12-31  today         ○ new-years-eve  New Year's Eve
                2027-01-01  in 1d         · new-year  New Year's Day
                2028-02-29  in 425d       ○ leap-day  Leap day

                """)
        #expect(
            try run(cli, ["due", "--overdue", "--today", "2027-01-01"], zone: zone) == """
                2026-03-08  299d overdue  ○ ny-spring  New York springs forward
                2026-03-29  278d overdue  ○ berlin-spring  Berlin springs forward
                2026-11-01  61d overdue   ○ ny-fall  New York falls back
                2026-12-31  1d overdue    ○ new-years-eve  New Year's Eve

                """)
        #expect(
            try run(cli, ["next", "--today", "2027-01-01"], zone: zone) == """
                ny-spring  1.1  2026-03-08 overdue  New York springs forward
                berlin-spring  1.2  2026-03-29 overdue  Berlin springs forward
                ny-fall  1.3  2026-11-01 overdue  New York falls back
                new-years-eve  2.1  2026-12-31 overdue  New Year's Eve
                leap-day  2.3  2028-02-29  Leap day

                """)
        // Checked off on New Year's Eve, it is no longer due, and new-year is unblocked.
        #expect(try cli.run(["done", "new-years-eve", "--today", "2026-12-31"], env: ["TZ": zone]).status == 0)
        #expect(
            try run(cli, ["due", "--within", "1d", "--today", "2027-01-01"], zone: zone).hasSuffix(
                "2027-01-01  today         ○ new-year  New Year's Day\n"))
        #expect(try run(cli, ["show", "new-years-eve", "--today", "2027-01-01"], zone: zone).contains("State:          done on 2026-12-31\n"))
    }

    @Test(arguments: zones) func leapDay(_ zone: String) throws {
        let cli = try CLI(plan: Self.plan); defer { cli.cleanUp() }
        #expect(try run(cli, ["due", "--today", "2028-02-28"], zone: zone).hasSuffix("2028-02-29  in 1d         ○ leap-day  Leap day\n"))
        #expect(try run(cli, ["due", "--today", "2028-02-29"], zone: zone).hasSuffix("2028-02-29  today         ○ leap-day  Leap day\n"))
        #expect(try run(cli, ["due", "--overdue", "--today", "2028-03-01"], zone: zone).hasSuffix("2028-02-29  1d overdue    ○ leap-day  Leap day\n"))
        #expect(try run(cli, ["next", "--today", "2028-03-01"], zone: zone).hasSuffix("leap-day  2.3  2028-02-29 overdue  Leap day\n"))
        #expect(try run(cli, ["due", "--today", "2027-03-01"], zone: zone).hasSuffix("2028-02-29  in 365d       ○ leap-day  Leap day\n"))
    }

    /// CURRICULUM_TODAY stands in for --today; --today wins over it; a date that does not
    /// exist is refused (exit 64) rather than read as some other day.
    @Test func theDateCanBeGivenTwoWays() throws {
        let cli = try CLI(plan: Self.plan); defer { cli.cleanUp() }
        let env = try cli.run(["due", "--overdue"], env: ["CURRICULUM_TODAY": "2028-03-01"])
        #expect(env.stdout.hasSuffix("2028-02-29  1d overdue    ○ leap-day  Leap day\n"), "\(env.stdout)")
        let both = try cli.run(["due", "--overdue", "--today", "2026-03-09"], env: ["CURRICULUM_TODAY": "2028-03-01"])
        #expect(both.stdout == "2026-03-08  1d overdue    ○ ny-spring  New York springs forward\n")
        for bad in ["2027-02-29", "2026-13-01", "2026-3-8"] {
            let r = try cli.run(["due", "--today", bad])
            #expect(r.status == 64)
            #expect(r.stderr.contains("--today takes a date as YYYY-MM-DD, not \(bad)"), "\(r.stderr)")
            let e = try cli.run(["due"], env: ["CURRICULUM_TODAY": bad])
            #expect(e.status == 64, "\(e.stderr)")
        }
    }

    /// With no date given, today is the calendar date in TZ. Kiritimati (UTC+14) and
    /// Etc/GMT+12 (UTC−12) are 26 hours apart, so they never agree; each must match the
    /// date computed here from the clock (read before and after, in case midnight passes).
    @Test(arguments: [("Pacific/Kiritimati", 14), ("Etc/GMT+12", -12), ("UTC", 0)])
    func withoutADateTodayFollowsTZ(_ zone: String, _ offsetHours: Int) throws {
        let cli = try CLI(plan: Self.plan); defer { cli.cleanUp() }
        func expected() -> String {
            var t = time_t(Date().timeIntervalSince1970) + time_t(offsetHours * 3600)
            var parts = tm()
            gmtime_r(&t, &parts)
            return String(format: "%04d-%02d-%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
        }
        let before = expected()
        let r = try cli.run(["status", "--json"], env: ["TZ": zone, "CURRICULUM_DB": cli.db], useDefaults: false)
        let after = expected()
        #expect(r.status == 0, "\(r.stderr)")
        let today = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["today"] as? String
        #expect(today == before || today == after, "TZ=\(zone): \(today ?? "nil"), expected \(before)")
    }
}
