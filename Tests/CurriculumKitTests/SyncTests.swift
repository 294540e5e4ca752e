import Foundation
import Testing

@testable import CurriculumKit

/// `sync`: two databases that diverge, synced both ways, in both orders, repeatedly.
@Suite struct SyncTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sync-\(UUID().uuidString)")
    var dir: String { folder.appendingPathComponent("progress").path }
    func day(_ s: String) -> Day { Day(iso: s)! }
    /// A clock that moves a second per call, so that events of both machines interleave.
    final class Clock { var t = Date(timeIntervalSince1970: 1_800_000_000); func next() -> Date { t += 1; return t } }

    /// What must end identical: the state, and every event by uid with its content.
    func snapshot(_ s: Store) throws -> (state: [String: String], events: [String]) {
        let state = try s.progress().mapValues { "\($0.doneOn) \($0.verified) \($0.regressed) \($0.note ?? "")" }
        let undone = try s.undoneEventIDs()
        let uidByID = Dictionary(try s.log(limit: nil).map { ($0.id!, $0.uid!) }, uniquingKeysWith: { a, _ in a })
        let events = try s.log(limit: nil).map { e in
            "\(e.uid!) \(e.at) \(e.kind.rawValue) \(e.task ?? "") \(e.note ?? "") \(e.passed.map { "\($0)" } ?? "") "
                + "\(e.target.flatMap { uidByID[$0] } ?? "") \(undone.contains(e.id!))"
        }
        return (state, events)
    }

    func runs(_ s: Store) throws -> [String] {
        try s.lastLabRuns(labs: ["orm"], perLab: 100).map { "\($0.at) \($0.outcome) \($0.checksPassed)" }.sorted()
    }

    @Test func twoDivergingDatabasesEndIdenticalInEitherOrderAndRepeatedly() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        for order in [true, false] {
            try? FileManager.default.removeItem(at: folder)
            let clock = Clock()
            let a = try Store(path: folder.appendingPathComponent("a.sqlite").path)
            let b = try Store(path: folder.appendingPathComponent("b.sqlite").path)
            #expect(try a.machineID() != b.machineID())
            let d = day("2026-12-01")
            // Machine A: checks off x and y, notes, reopens y, undoes the reopen, runs a lab.
            try a.checkOff([.init(task: "x")], day: d, note: "on a", at: clock.next())
            try b.checkOff([.init(task: "x", verified: true)], day: d, note: "on b", at: clock.next())
            try a.checkOff([.init(task: "y")], day: d, at: clock.next())
            try b.checkOff([.init(task: "z")], day: d, at: clock.next())
            try a.reopen(["y"], day: d, at: clock.next())
            try b.reopen(["z"], day: d, at: clock.next())
            _ = try a.undoLast(day: d, at: clock.next())
            try b.recordLabRun(
                LabRun(
                    lab: "orm", task: "z", at: "", seconds: 2, outcome: "failed", quick: true, checksPassed: 1,
                    checksTotal: 3, figures: "[]", error: "boom \"quoted\"\nline"), day: d, at: clock.next())
            try a.recordLabRun(
                LabRun(
                    lab: "orm", task: "x", at: "", seconds: 1, outcome: "passed", quick: false, checksPassed: 3,
                    checksTotal: 3, figures: "[{\"name\":\"rps\"}]", error: nil), day: d, at: clock.next())
            try b.recordRecheck(task: "x", passed: false, day: d, at: clock.next())
            try b.recordStart(day("2026-11-20"), day: d, at: clock.next())
            let (first, second) = order ? (a, b) : (b, a)
            var reports: [Sync.Report] = []
            reports.append(try first.sync(folder: dir))
            reports.append(try second.sync(folder: dir))
            reports.append(try first.sync(folder: dir))
            #expect(reports.allSatisfy { $0.problems.isEmpty })
            let sa = try snapshot(a), sb = try snapshot(b)
            #expect(sa.state == sb.state)
            #expect(sa.events == sb.events)
            #expect(sa.events.count == 11)
            #expect(try runs(a) == runs(b))
            #expect(try runs(a).count == 2)
            // x: checked on a, then checked verified on b, then regressed by b's recheck.
            #expect(try a.progress()["x"]?.regressed == true)
            #expect(try a.progress()["x"]?.note == "on b")
            // y: reopened then the reopen undone on a: done. z: reopened on b.
            #expect(try a.progress().keys.sorted() == ["x", "y"])
            #expect(try a.learnerStart() == day("2026-11-20"))
            #expect(try a.health().driftedTasks.isEmpty && b.health().driftedTasks.isEmpty)
            // Syncing again changes nothing and writes nothing.
            let again = try a.sync(folder: dir), again2 = try b.sync(folder: dir)
            #expect(again.imported == 0 && again.exported == 0 && again2.imported == 0 && again2.exported == 0)
            #expect(try snapshot(a).events == sa.events)
            // An undo on one machine is an event on the other.
            let undone = try b.undoLast(day: d, at: clock.next())
            #expect(undone?.kind == .rechecked)
            _ = try b.sync(folder: dir)
            _ = try a.sync(folder: dir)
            #expect(try a.progress()["x"]?.regressed == false)
            #expect(try snapshot(a).state == snapshot(b).state)
            #expect(try snapshot(a).events == snapshot(b).events)
            // One file per machine.
            let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
            #expect(files == [try a.machineID() + ".jsonl", try b.machineID() + ".jsonl"].sorted())
        }
    }

    @Test func aCorruptOrTruncatedLineLeavesItsFileOutWhole() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let a = try Store(path: folder.appendingPathComponent("a.sqlite").path)
        let good = #"{"at":"2026-12-01T10:00:00.000Z","day":"2026-12-01","kind":"checked","task":"p","uid":"ffff-000000000001-abcd"}"#
        let bad = #"{"at":"2026-12-01T10:00:01.000Z","day":"2026-12-01","kind":"checked","task":"q","uid":"ffff-000000000002-abcd"}"#
        let path = (dir as NSString).appendingPathComponent("ffff.jsonl")
        // Truncated: the last line is cut short.
        try (good + "\n" + bad.prefix(40)).write(toFile: path, atomically: true, encoding: .utf8)
        let r = try a.sync(folder: dir)
        #expect(r.problems.count == 1)
        #expect(r.problems.first?.line == 2)
        #expect(r.problems.first?.description.contains("nothing was imported from that file") == true)
        #expect(r.imported == 0)
        #expect(try a.progress().isEmpty)
        // Corrupt: a line that is JSON but no event.
        try (good + "\n{\"kind\":\"checked\"}\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try a.sync(folder: dir).problems.first?.line == 2)
        #expect(try a.progress().isEmpty)
        // Fixed: both are taken in.
        try (good + "\n" + bad + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let fixed = try a.sync(folder: dir)
        #expect(fixed.problems.isEmpty && fixed.imported == 2)
        #expect(try a.progress().keys.sorted() == ["p", "q"])
    }

    @Test func tenThousandEventsEachWay() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = try Store(path: folder.appendingPathComponent("a.sqlite").path)
        let b = try Store(path: folder.appendingPathComponent("b.sqlite").path)
        let d = day("2026-12-01")
        try a.checkOff((0..<10_000).map { .init(task: "a\($0)") }, day: d)
        try b.checkOff((0..<10_000).map { .init(task: "b\($0)") }, day: d)
        let start = Date()
        _ = try a.sync(folder: dir)
        let rb = try b.sync(folder: dir)
        let ra = try a.sync(folder: dir)
        let seconds = Date().timeIntervalSince(start)
        #expect(rb.imported == 10_000 && rb.exported == 10_000 && ra.imported == 10_000)
        #expect(try a.progress().count == 20_000 && b.progress().count == 20_000)
        print("sync of 10,000 events each way: \(String(format: "%.2f", seconds)) s (debug build)")
    }
}
