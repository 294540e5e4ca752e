import CurriculumKit
import Foundation
import Testing

// The tracker's sweep after a lab run must find a learner's server started with
// `--against`, though its working folder and command line are the learner's: the kit puts
// CURRICULUM_LAB_ROOT=<the run's scratch folder> in its environment.
@Suite("The tracker's sweep of a lab's scratch root") struct LabHostSweepTests {
    /// `sleep 60` in `/`, with CURRICULUM_LAB_ROOT set to `marker`: nothing else ties it to a root.
    static func sleeper(marker: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["60"]
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        var environment = ProcessInfo.processInfo.environment
        environment["CURRICULUM_LAB_ROOT"] = marker
        p.environment = environment
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    @Test func aServerMarkedWithTheRootIsFoundAndKilled() throws {
        let root = "/tmp/curriculum-sweep-test-\(UUID().uuidString.prefix(8))"
        let inside = try Self.sleeper(marker: root + "/lab-bookshelf-1234abcd")
        // A sibling root that merely starts with the same characters is someone else's.
        let sibling = try Self.sleeper(marker: root + "-other/lab-x")
        defer {
            for p in [inside, sibling] where p.isRunning { kill(p.processIdentifier, SIGKILL) }
            inside.waitUntilExit(); sibling.waitUntilExit()
        }
        let found = LabHost.processes(under: root)
        #expect(found.contains(inside.processIdentifier), "found: \(found)")
        #expect(!found.contains(sibling.processIdentifier))

        LabHost.killProcesses(under: root)
        inside.waitUntilExit()
        #expect(inside.terminationReason == .uncaughtSignal && inside.terminationStatus == SIGKILL)
        #expect(sibling.isRunning, "the sweep left the other root's process alone")
    }
}
