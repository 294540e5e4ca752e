import Foundation
import Testing

@testable import CurriculumKit

#if canImport(Glibc)
import Glibc
#endif

// Dates are calendar days in the learner's own time zone: `Day.today(now:)` reads the wall
// clock through localtime_r, so TZ decides which day an instant falls on, and days are
// whole (no hours to gain or lose at a clock change). The suite sets TZ with setenv and
// tzset, so it runs serialized and puts TZ back afterwards.

@Suite("Calendar days in the learner's time zone", .serialized) struct TimeTests {
    /// Runs `body` with TZ set to `zone` (nil: unset, the system's zone).
    static func withTZ<T>(_ zone: String?, _ body: () throws -> T) rethrows -> T {
        let old = getenv("TZ").map { String(cString: $0) }
        if let zone { setenv("TZ", zone, 1) } else { unsetenv("TZ") }
        tzset()
        defer {
            if let old { setenv("TZ", old, 1) } else { unsetenv("TZ") }
            tzset()
        }
        return try body()
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` as a Date, computed with `Day` only (no time zone involved).
    static func instant(_ text: String) -> Date {
        let u = Array(text.utf8)
        func n(_ r: Range<Int>) -> Int { r.reduce(0) { $0 * 10 + Int(u[$1] - 48) } }
        let day = Day(iso: text.prefix(10))?.ordinal ?? 0
        return Date(timeIntervalSince1970: TimeInterval(day * 86400 + n(11..<13) * 3600 + n(14..<16) * 60 + n(17..<19)))
    }

    /// (TZ, instant in UTC, the local calendar day it falls on).
    static let cases: [(String, String, String)] = [
        // New York springs forward at 02:00 EST (07:00Z) on 2026-03-08: a 23-hour day.
        ("America/New_York", "2026-03-08T04:59:59Z", "2026-03-07"),
        ("America/New_York", "2026-03-08T05:00:00Z", "2026-03-08"),
        ("America/New_York", "2026-03-08T06:59:59Z", "2026-03-08"),
        ("America/New_York", "2026-03-08T07:00:00Z", "2026-03-08"),
        ("America/New_York", "2026-03-09T03:59:59Z", "2026-03-08"),
        ("America/New_York", "2026-03-09T04:00:00Z", "2026-03-09"),
        // … and falls back at 02:00 EDT (06:00Z) on 2026-11-01: a 25-hour day, 01:30 twice.
        ("America/New_York", "2026-11-01T03:59:59Z", "2026-10-31"),
        ("America/New_York", "2026-11-01T04:00:00Z", "2026-11-01"),
        ("America/New_York", "2026-11-01T05:30:00Z", "2026-11-01"),
        ("America/New_York", "2026-11-01T06:30:00Z", "2026-11-01"),
        ("America/New_York", "2026-11-02T04:59:59Z", "2026-11-01"),
        ("America/New_York", "2026-11-02T05:00:00Z", "2026-11-02"),
        // Berlin springs forward at 02:00 CET (01:00Z) on 2026-03-29.
        ("Europe/Berlin", "2026-03-28T22:59:59Z", "2026-03-28"),
        ("Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-29"),
        ("Europe/Berlin", "2026-03-29T21:59:59Z", "2026-03-29"),
        ("Europe/Berlin", "2026-03-29T22:00:00Z", "2026-03-30"),
        // The same rule written as a POSIX TZ string, no zoneinfo file needed.
        ("EST5EDT,M3.2.0,M11.1.0", "2026-03-09T03:59:59Z", "2026-03-08"),
        ("EST5EDT,M3.2.0,M11.1.0", "2026-11-02T04:59:59Z", "2026-11-01"),
        // The turn of the year, early and late.
        ("UTC", "2026-12-31T23:59:59Z", "2026-12-31"),
        ("UTC", "2027-01-01T00:00:00Z", "2027-01-01"),
        ("Asia/Tokyo", "2026-12-31T15:00:00Z", "2027-01-01"),
        ("Pacific/Kiritimati", "2026-12-31T10:00:00Z", "2027-01-01"),
        ("America/Los_Angeles", "2027-01-01T07:59:59Z", "2026-12-31"),
        // Leap day 2028-02-29.
        ("UTC", "2028-02-29T12:00:00Z", "2028-02-29"),
        ("America/Los_Angeles", "2028-03-01T07:59:59Z", "2028-02-29"),
        ("Australia/Sydney", "2028-02-28T13:00:00Z", "2028-02-29"),
        ("Australia/Sydney", "2028-02-29T12:59:59Z", "2028-02-29"),
    ]

    @Test func todayIsTheLocalCalendarDay() {
        for (zone, utc, expected) in Self.cases {
            let day = Self.withTZ(zone) { Day.today(now: Self.instant(utc)) }
            #expect(day.description == expected, "\(utc) in \(zone)")
        }
    }

    /// Hour by hour across a clock change, the days run in order without a gap, and the
    /// day of the change has 23 (spring) or 25 (autumn) hours.
    @Test(arguments: [
        ("America/New_York", "2026-03-07T00:00:00Z", "2026-03-08", 23),
        ("America/New_York", "2026-10-31T00:00:00Z", "2026-11-01", 25),
        ("Europe/Berlin", "2026-03-28T00:00:00Z", "2026-03-29", 23),
        ("Europe/Berlin", "2026-10-24T00:00:00Z", "2026-10-25", 25),
    ])
    func daysStayWholeAcrossClockChanges(_ zone: String, _ from: String, _ changeDay: String, _ hours: Int) {
        let start = Self.instant(from)
        let days = Self.withTZ(zone) { (0..<96).map { Day.today(now: start.addingTimeInterval(Double($0) * 3600)) } }
        for (a, b) in zip(days, days.dropFirst()) {
            #expect(b.ordinal - a.ordinal == 0 || b.ordinal - a.ordinal == 1, "\(a) then \(b)")
        }
        #expect(days.filter { $0.description == changeDay }.count == hours)
    }

    @Test func theSystemZoneIsUsedWhenTZIsUnset() {
        // Whatever the machine's zone, today is within a day of the UTC date.
        let now = Date()
        let local = Self.withTZ(nil) { Day.today(now: now) }
        let utc = Self.withTZ("UTC") { Day.today(now: now) }
        #expect(abs(local.ordinal - utc.ordinal) <= 1)
    }

    @Test func calendarArithmeticAcrossYearsAndLeapDays() throws {
        func day(_ s: String) throws -> Day { try #require(Day(iso: s), "\(s)") }
        #expect(try day("2026-12-31").adding(days: 1) == day("2027-01-01"))
        #expect(try day("2027-01-01").adding(days: -1) == day("2026-12-31"))
        #expect(try day("2028-02-28").adding(days: 1) == day("2028-02-29"))
        #expect(try day("2028-02-29").adding(days: 1) == day("2028-03-01"))
        #expect(try day("2027-02-28").adding(days: 1) == day("2027-03-01"))
        #expect(try day("2028-02-29").ordinal - day("2026-12-31").ordinal == 425)
        // A clock change does not make a day shorter: 2026-03-07 → 03-09 is two days.
        #expect(try day("2026-03-09").ordinal - day("2026-03-07").ordinal == 2)
        #expect(Day(iso: "2027-02-29") == nil)
        #expect(Day(iso: "2100-02-29") == nil)
        #expect(Day(iso: "2000-02-29") != nil)
        #expect(Day(iso: "2026-13-01") == nil)
        #expect(Day(iso: "2026-00-10") == nil)
        #expect(Day(iso: "2026-1-01") == nil)
        #expect(Day(iso: "2026-01-01T00:00:00Z") == nil)
        // Every day of 2026 … 2029 prints as it parses, and they follow one another.
        var d = try day("2026-01-01")
        var count = 0
        while d.description != "2030-01-01" {
            #expect(Day(iso: d.description) == d)
            d = d.adding(days: 1)
            count += 1
        }
        #expect(count == 365 * 3 + 366)
    }

    /// `--today` and CURRICULUM_TODAY override the clock; `--today` wins; a bad date is a
    /// usage error, not a silent fallback to the clock.
    @Test func anExplicitDateOverridesTheClock() throws {
        let plan = "schema: 1\nid: t\ntitle: T\nphases:\n  - id: p\n    number: 1\n    title: P\n    tasks:\n      - id: a\n        title: A\n"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("curriculum-time-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("curriculum.yaml").path
        try plan.write(toFile: file, atomically: true, encoding: .utf8)
        func tracker(_ today: String?, env: [String: String]) throws(CurriculumError) -> Tracker {
            try Tracker(Tracker.Options(planFile: file, today: today, environment: env, currentDirectory: folder.path))
        }
        #expect(try tracker("2028-02-29", env: [:]).today.description == "2028-02-29")
        #expect(try tracker(nil, env: ["CURRICULUM_TODAY": "2026-12-31"]).today.description == "2026-12-31")
        #expect(try tracker("2027-01-01", env: ["CURRICULUM_TODAY": "2026-12-31"]).today.description == "2027-01-01")
        let clock = Day.today()
        let unset = try tracker(nil, env: ["CURRICULUM_TODAY": ""]).today
        #expect(abs(unset.ordinal - clock.ordinal) <= 1)
        for bad in ["2027-02-29", "2026-13-01", "tomorrow", "26-12-31"] {
            #expect(throws: CurriculumError.self) { try tracker(bad, env: [:]) }
            do { _ = try tracker(bad, env: [:]) } catch {
                #expect(error.description == "--today takes a date as YYYY-MM-DD, not \(bad)")
                #expect(error.exitStatus == 64)
            }
        }
    }
}
