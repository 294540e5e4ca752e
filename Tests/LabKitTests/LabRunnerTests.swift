import Foundation
import LabCatalog
import Synchronization
import Testing

@testable import LabKit

/// Labs made for testing the kit: each does one thing the runner must handle.
struct PassingLab: Lab {
    static let info = LabInfo(id: "kit-pass", title: "kit-pass", phase: 0, teaches: "a lab for the kit's own tests", source: "Tests/LabKitTests")
    func run(_ lab: LabContext) async throws {
        let n = try lab.int("n")
        lab.step("count to \(n)")
        lab.figure("n", Double(n), "items")
        lab.expect("the sum is right", (1...n).reduce(0, +), equals: n * (n + 1) / 2)
        try "scratch works".write(to: lab.scratch.appendingPathComponent("f.txt"), atomically: true, encoding: .utf8)
        lab.expect(
            "the scratch folder is writable", FileManager.default.fileExists(atPath: lab.scratch.appendingPathComponent("f.txt").path),
            expected: "a file", observed: "present")
    }
}

struct FailingLab: Lab {
    static let info = LabInfo(id: "kit-fail", title: "kit-fail", phase: 0, teaches: "a lab for the kit's own tests", source: "Tests/LabKitTests")
    func run(_ lab: LabContext) async throws {
        lab.expect("two and two", 2 + 2, equals: 4)
        lab.expect("a wrong expectation", 2 + 2, equals: 5)
    }
}

struct ThrowingLab: Lab {
    static let info = LabInfo(id: "kit-throw", title: "kit-throw", phase: 0, teaches: "a lab for the kit's own tests", source: "Tests/LabKitTests")
    func run(_ lab: LabContext) async throws {
        lab.expect("before the throw", true, expected: "true", observed: "true")
        throw LabError("the server would not start")
    }
}

struct SilentLab: Lab {
    static let info = LabInfo(id: "kit-silent", title: "kit-silent", phase: 0, teaches: "a lab for the kit's own tests", source: "Tests/LabKitTests")
    func run(_ lab: LabContext) async throws { lab.step("did nothing") }
}

struct UnavailableLab: Lab {
    static let info = LabInfo(id: "kit-unavailable", title: "kit-unavailable", phase: 0, teaches: "a lab for the kit's own tests", source: "Tests/LabKitTests")
    func run(_ lab: LabContext) async throws { throw LabUnavailable(.redis) }
}

/// Records that its clean-up ran and where its scratch folder was.
struct CleanupLab: Lab {
    static let info = LabInfo(id: "kit-cleanup", title: "kit-cleanup", phase: 0, teaches: "a lab for the kit's own tests", source: "Tests/LabKitTests")
    static let seen = Mutex<(scratch: URL?, cleaned: Int)>((nil, 0))
    func run(_ lab: LabContext) async throws {
        CleanupLab.seen.withLock { $0.scratch = lab.scratch }
        lab.onCleanup { CleanupLab.seen.withLock { $0.cleaned += 1 } }
        lab.onCleanup { CleanupLab.seen.withLock { $0.cleaned += 10 } }
        lab.expect("ran", true, expected: "true", observed: "true")
        throw LabError("fail after registering clean-ups")
    }
}

func info(_ id: String, params: [LabParameter] = [], needs: [LabNeed] = []) -> LabInfo {
    LabInfo(id: id, title: id, phase: 0, teaches: "kit test", parameters: params, needs: needs, source: "Tests/LabKitTests/LabRunnerTests.swift")
}

@Suite("The lab runner") struct LabRunnerTests {
    @Test func aLabPassesWhenEveryCheckPasses() async throws {
        let i = info("kit-pass", params: [LabParameter("n", .int(min: 1, max: 1000), default: "100", quick: "10", help: "n")])
        let events = Mutex<[LabEvent]>([])
        let r = await LabRunner.run(PassingLab.self, info: i, quick: true, parameters: try i.resolve(parameters: [:], quick: true)) { e in
            events.withLock { $0.append(e) }
        }
        #expect(r.outcome == .passed)
        #expect(r.checks.count == 2)
        #expect(r.figures == [.init(name: "n", value: 10, unit: "items")])
        #expect(r.parameters == ["n": "10"])
        #expect(r.seconds > 0)
        // Every step, figure and check was streamed as it happened.
        #expect(events.withLock { $0.count } == 4)
    }

    @Test func aFailedCheckFailsTheLab() async {
        let r = await LabRunner.run(FailingLab.self, info: info("kit-fail"), quick: false, parameters: [:])
        #expect(r.outcome == .failed)
        #expect(r.checks.map(\.passed) == [true, false])
        #expect(r.checks[1].expected == "5")
        #expect(r.checks[1].observed == "4")
    }

    @Test func aThrownErrorIsAFailedLabWithTheError() async {
        let r = await LabRunner.run(ThrowingLab.self, info: info("kit-throw"), quick: false, parameters: [:])
        #expect(r.outcome == .failed)
        #expect(r.error?.contains("the server would not start") == true)
    }

    @Test func aLabThatChecksNothingDoesNotPass() async {
        let r = await LabRunner.run(SilentLab.self, info: info("kit-silent"), quick: false, parameters: [:])
        #expect(r.outcome == .failed)
        #expect(r.error == "the lab made no checks")
    }

    @Test func aMissingProgramMakesTheLabUnavailable() async {
        let missing = LabNeed("Frobnicator", programs: ["frobnicate-\(UUID().uuidString)"], packages: ["frobnicator"])
        let r = await LabRunner.run(PassingLab.self, info: info("kit-pass", needs: [missing]), quick: false, parameters: ["n": "3"])
        #expect(r.outcome == .unavailable)
        #expect(r.error?.contains("apt-get install -y frobnicator") == true)
        #expect(r.checks.isEmpty, "nothing ran")
        let thrown = await LabRunner.run(UnavailableLab.self, info: info("kit-unavailable"), quick: false, parameters: [:])
        #expect(thrown.outcome == .unavailable)
        #expect(thrown.error?.contains("redis-server") == true)
    }

    @Test func cleanUpsRunInReverseAndTheScratchFolderGoesEvenOnFailure() async throws {
        let r = await LabRunner.run(CleanupLab.self, info: info("kit-cleanup"), quick: false, parameters: [:])
        #expect(r.outcome == .failed)
        let seen = CleanupLab.seen.withLock { $0 }
        #expect(seen.cleaned == 11)
        let scratch = try #require(seen.scratch)
        #expect(!FileManager.default.fileExists(atPath: scratch.path))
    }

    @Test func anUndeclaredParameterIsTheLabsMistakeNotACrash() async {
        let r = await LabRunner.run(PassingLab.self, info: info("kit-pass"), quick: false, parameters: [:])
        #expect(r.outcome == .failed)
        #expect(r.error?.contains("does not declare") == true)
    }

    @Test func aManualClockMovesOnlyWhenTold() async throws {
        let clock = LabClock.manual()
        let start = clock.now()
        try await clock.sleep(for: .seconds(30))
        #expect(clock.elapsed == .seconds(30))
        #expect(clock.now().timeIntervalSince(start) == 30)
        // Integer time: a hundred 0.1 s steps are exactly 10 s, where adding 0.1 to a
        // floating-point date drifts.
        for _ in 0..<100 { clock.advance(by: .milliseconds(100)) }
        #expect(clock.elapsed == .seconds(40))
    }

    @Test func theProtocolRoundTripsEveryEvent() throws {
        var report = LabReport(lab: "x", title: "X", quick: true, parameters: ["a": "1"])
        report.checks = [.init(name: "c", passed: true, expected: "1", observed: "1")]
        report.settle()
        for e in [
            LabEvent.step(.init(title: "s", detail: "d")), .figure(.init(name: "f", value: 1.5, unit: "ms")),
            .check(.init(name: "c", passed: false, expected: "1", observed: "2")), .report(report),
        ] {
            #expect(LabEvent.parse(line: e.line()) == e)
        }
        #expect(LabEvent.parse(line: "{\"event\":\"nope\"}") == nil)
    }
}
