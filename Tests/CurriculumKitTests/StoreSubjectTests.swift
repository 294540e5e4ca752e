import Foundation
import LabCatalog
import Testing

@testable import CurriculumKit

/// Exercise mode in the store: what a run judged, and what a verified check-off was
/// verified against, survive writes, undo and reopening the database.
@Suite struct StoreSubjectTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-subject-\(UUID().uuidString)")
    var path: String { folder.appendingPathComponent("progress.sqlite").path }
    let day = Day(iso: "2026-11-25")!
    let mine = LabSubject(.against, "python3 server.py --port $PORT")

    @Test func aVerificationAgainstOwnWorkIsKeptAndOutranksTheReference() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: path)
        try store.checkOff([.init(task: "a", verified: true)], day: day)
        #expect(try store.progress()["a"]?.verifiedOwnWork == false)
        // Verifying again against the learner's own work is news: it is recorded.
        let upgraded = try store.checkOff([.init(task: "a", verified: true, subject: mine)], day: day)
        #expect(upgraded.count == 1)
        #expect(upgraded.first?.subject == mine)
        let p = try #require(try Store(path: path).progress()["a"])
        #expect(p.verifiedOwnWork)
        #expect(p.subject == mine)
        // A later reference verification, or a plain check-off, says less: nothing recorded.
        #expect(try store.checkOff([.init(task: "a", verified: true)], day: day).isEmpty)
        #expect(try store.checkOff([.init(task: "a")], day: day).isEmpty)
        // Undo goes back to the reference verification.
        #expect(try store.undoLast(day: day)?.subject == mine)
        let back = try #require(try store.progress()["a"])
        #expect(back.verified && !back.verifiedOwnWork && back.subject == nil)
        // The log keeps the subject of each event.
        let events = try store.log(limit: nil, task: "a").filter { $0.kind == .checked }
        #expect(events.map(\.subject) == [nil, mine] || events.map(\.subject) == [mine, nil])
    }

    @Test func aPlainCheckOffNeverCarriesASubject() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: path)
        try store.checkOff([.init(task: "b", verified: false, subject: mine)], day: day)
        let p = try #require(try store.progress()["b"])
        #expect(!p.verified && p.subject == nil)
    }

    @Test func aPassingRecheckOfOwnWorkUpgradesAndAFailureRegresses() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: path)
        try store.checkOff([.init(task: "c")], day: day)
        try store.recordRecheck(task: "c", passed: true, subject: mine, day: day)
        #expect(try store.progress()["c"]?.subject == mine)
        try store.recordRecheck(task: "c", passed: false, subject: mine, day: day)
        #expect(try store.progress()["c"]?.regressed == true)
        // A reference pass clears the regression but keeps the own-work verification.
        try store.recordRecheck(task: "c", passed: true, day: day)
        let p = try #require(try store.progress()["c"])
        #expect(!p.regressed && p.subject == mine)
    }

    @Test func aLabRunRecordsItsSubject() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: path)
        let answers = LabSubject(.answers, "/home/me/answers.sql")
        try store.recordLabRun(
            LabRun(
                lab: "sql-mastery", task: "sql-mastery", at: "", seconds: 1, outcome: "failed", quick: true,
                checksPassed: 9, checksTotal: 10, figures: "[]", error: nil, subject: answers), day: day)
        try store.recordLabRun(
            LabRun(
                lab: "sql-mastery", task: "sql-mastery", at: "", seconds: 1, outcome: "passed", quick: true,
                checksPassed: 10, checksTotal: 10, figures: "[]", error: nil), day: day)
        let runs = try Store(path: path).lastLabRuns(labs: ["sql-mastery"], perLab: 2)
        #expect(Set(runs.map(\.subject)) == [answers, nil])
    }

    @Test(arguments: [
        LabSubject(.url, "http://127.0.0.1:8080/api"), LabSubject(.against, "./gradlew run"),
        LabSubject(.source, "/a b/c.cpp"), LabSubject(.answers, ""),
    ])
    func aSubjectRoundTripsThroughItsStoredForm(_ subject: LabSubject) {
        #expect(LabSubject(stored: subject.stored) == subject)
    }

    @Test func unknownOrEmptyStoredSubjectsReadAsTheReference() {
        #expect(LabSubject(stored: nil) == nil)
        #expect(LabSubject(stored: "telepathy http://x") == nil)
        #expect(LabSubject(stored: "reference x") == nil)
        #expect(LabSubject(stored: "url") == nil)
    }
}
