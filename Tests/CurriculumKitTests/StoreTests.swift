import Foundation
import Testing

@testable import CurriculumKit

@Suite struct StoreTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
    var path: String { folder.appendingPathComponent("sub/progress.sqlite").path }
    let day = Day(iso: "2026-11-25")!

    @Test func createsItsFolderAndRecordsCheckOffs() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: path)
        let written = try store.checkOff([.init(task: "a"), .init(task: "b", verified: true)], day: day, note: "first")
        #expect(written.count == 2)
        #expect(written.allSatisfy { $0.id != nil })
        let p = try store.progress()
        #expect(p.keys.sorted() == ["a", "b"])
        #expect(p["b"]?.verified == true)
        #expect(p["a"]?.doneOn == "2026-11-25")
        // Checking off again records nothing new.
        #expect(try store.checkOff([.init(task: "a")], day: day).isEmpty)
    }

    @Test func undoWalksBackAndTheLogReplaysToTheState() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: path)
        try store.checkOff([.init(task: "a")], day: day)
        try store.checkOff([.init(task: "b")], day: day)
        try store.reopen(["a"], day: day)
        #expect(try store.progress().keys.sorted() == ["b"])
        #expect(try store.undoLast(day: day)?.kind == .reopened)
        #expect(try store.progress().keys.sorted() == ["a", "b"])
        #expect(try store.undoLast(day: day)?.task == "b")
        #expect(try store.progress().keys.sorted() == ["a"])
        let health = try store.health()
        #expect(health.integrity == ["ok"])
        #expect(health.driftedTasks.isEmpty)
        #expect(health.events == 5)
        #expect(try store.undoLast(day: day)?.task == "a")
        #expect(try store.undoLast(day: day) == nil)
    }

    @Test func recheckFlagsARegressionAndAPassClearsIt() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: path)
        try store.checkOff([.init(task: "a", verified: true)], day: day)
        try store.recordRecheck(task: "a", passed: false, day: day)
        #expect(try store.progress()["a"]?.regressed == true)
        try store.recordRecheck(task: "a", passed: true, day: day)
        #expect(try store.progress()["a"]?.regressed == false)
        // A recheck of an open task records nothing.
        try store.recordRecheck(task: "zzz", passed: false, day: day)
        #expect(try store.log(limit: nil, task: "zzz").isEmpty)
    }

    @Test func labRunsAreKeptWithTheirEvent() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: path)
        let run = try store.recordLabRun(
            LabRun(
                lab: "orm", task: "orm", at: "", seconds: 1.5, outcome: "passed", quick: true,
                checksPassed: 3, checksTotal: 3, figures: "[]", error: nil), day: day)
        #expect(run.id != nil)
        let last = try store.lastLabRuns(labs: ["orm"])
        #expect(last.count == 1)
        #expect(last.first?.event == run.event)
        #expect(try store.log(limit: 1).first?.kind == .labRun)
    }

    @Test func reopeningAnOpenTaskRecordsNothing() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Store(path: path)
        #expect(try store.reopen(["a"], day: day).isEmpty)
        #expect(try store.log(limit: nil).isEmpty)
    }

    @Test func aSecondOpenSeesTheSameData() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            let store = try Store(path: path)
            try store.checkOff([.init(task: "a")], day: day)
        }
        let again = try Store(path: path)
        #expect(try again.progress().keys.sorted() == ["a"])
    }
}
