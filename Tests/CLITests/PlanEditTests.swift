import Foundation
import LabCatalog
import Testing

// Nothing lost when the plan changes under recorded progress: a task renamed (with
// `renamed-from`), deleted and re-added, moved to another phase, or split into parts.
// Progress is keyed by task id in the database and mapped onto whatever plan is read.

@Suite("Editing the plan keeps progress") struct PlanEditTests {
    /// Rewrites the fixture's plan file, replacing each `(old, new)` text exactly once.
    static func edit(_ cli: CLI, _ changes: [(String, String)], sourceLocation: SourceLocation = #_sourceLocation) throws {
        var text = try String(contentsOfFile: cli.plan, encoding: .utf8)
        for (old, new) in changes {
            let count = text.components(separatedBy: old).count - 1
            #expect(count == 1, "the fixture plan should hold \(old.debugDescription) once", sourceLocation: sourceLocation)
            text = text.replacingOccurrences(of: old, with: new)
        }
        try text.write(toFile: cli.plan, atomically: true, encoding: .utf8)
    }

    /// The output's lines, without `History` entries (they carry the wall-clock time).
    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { !$0.hasPrefix("  #") }
    }

    static let gammaBlock = "      - id: gamma\n        title: Gamma task\n        due: 2026-11-20\n"

    @Test func aRenamedTaskKeepsItsProgress() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        #expect(try cli.run(["done", "alpha", "gamma"]).status == 0)
        try Self.edit(
            cli,
            [
                (
                    "      - id: alpha\n        title: Alpha task\n",
                    "      - id: warm-up\n        title: Warm-up task\n        renamed-from: [alpha]\n"
                ),
                ("requires: [alpha]", "requires: [warm-up]"),
            ])
        let status = try cli.run(["status"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(
            status.stdout == """
                Fixture Plan  2/6 done (33%)  · 2026-11-25

                 1 🏗️ Basics    █████████████░░░░░░░   2/3  66%
                 2    Advanced  ░░░░░░░░░░░░░░░░░░░░   0/3   0%

                Next:
                  beta  1.2  2026-12-01  Beta task

                """)
        // beta required alpha; it now requires warm-up, which is done, so it is next.
        #expect(try cli.run(["next"]).stdout == "beta  1.2  2026-12-01  Beta task\n")
        let show = try cli.run(["show", "warm-up"])
        #expect(
            Self.lines(show.stdout) == [
                "Warm-up task",
                "warm-up  1.1  in 🏗️ Phase 1: Basics",
                "State:          done on 2026-11-25",
                "Due:            2026-12-31 (from its phase)",
                "Unblocks:       ○ beta, · capstone, · cap-part-one, · cap-part-two",
                "Renamed from:   alpha",
                "",
                "History",
                "",
            ])
        // The history keeps the old id; the old name still finds the task.
        #expect(show.stdout.contains("checked off alpha"))
        #expect(try cli.run(["show", "alpha"]).stdout.hasPrefix("Warm-up task\nwarm-up  1.1"))
        let doctor = try cli.run(["doctor"])
        #expect(doctor.status == 0)
        #expect(doctor.stdout.contains("✓ no orphaned progress\n"))
    }

    @Test func aDeletedTasksProgressIsOrphanedNotDroppedAndComesBack() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        #expect(try cli.run(["done", "alpha", "gamma"]).status == 0)
        let original = try String(contentsOfFile: cli.plan, encoding: .utf8)
        try Self.edit(cli, [(Self.gammaBlock, "")])
        let status = try cli.run(["status"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(
            status.stdout == """
                Fixture Plan  1/5 done (20%)  · 2026-11-25

                 1 🏗️ Basics    ██████████░░░░░░░░░░   1/2  50%
                 2    Advanced  ░░░░░░░░░░░░░░░░░░░░   0/3   0%

                Orphaned progress: gamma  (recorded for tasks no longer in the plan; add renamed-from, or see curriculum doctor)
                Next:
                  beta  1.2  2026-12-01  Beta task

                """)
        let json = try JSONSerialization.jsonObject(with: Data(try cli.run(["status", "--json"]).stdout.utf8)) as? [String: Any]
        #expect(json?["orphaned"] as? [String] == ["gamma"])
        #expect(json?["done"] as? Int == 1)
        let doctor = try cli.run(["doctor"])
        #expect(doctor.status == 1)
        #expect(
            doctor.stdout.contains(
                "✗ progress recorded for tasks no longer in the plan: gamma (done 2026-11-25); it is kept — add `renamed-from: [old-id]` to the task it became\n"
            ),
            "\(doctor.stdout)")
        #expect(doctor.stdout.hasSuffix("1 problem found.\n"))
        // The record is still there: the log shows it, and re-adding the task brings it back.
        #expect(try cli.run(["log"]).stdout.contains("checked off gamma"))
        try original.write(toFile: cli.plan, atomically: true, encoding: .utf8)
        #expect(try cli.run(["status"]).stdout.hasPrefix("Fixture Plan  2/6 done (33%)  · 2026-11-25\n"))
        #expect(try cli.run(["show", "gamma"]).stdout.contains("State:          done on 2026-11-25\n"))
        let healed = try cli.run(["doctor"])
        #expect(healed.status == 0)
        #expect(healed.stdout.contains("✓ no orphaned progress\n"))
    }

    @Test func aTaskMovedToAnotherPhaseKeepsItsProgress() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        #expect(try cli.run(["done", "alpha", "gamma"]).status == 0)
        try Self.edit(
            cli,
            [
                (Self.gammaBlock, ""),
                ("      - id: capstone\n", Self.gammaBlock + "      - id: capstone\n"),
            ])
        #expect(
            try cli.run(["status"]).stdout == """
                Fixture Plan  2/6 done (33%)  · 2026-11-25

                 1 🏗️ Basics    ██████████░░░░░░░░░░   1/2  50%
                 2    Advanced  █████░░░░░░░░░░░░░░░   1/4  25%

                Next:
                  beta  1.2  2026-12-01  Beta task

                """)
        #expect(
            Array(Self.lines(try cli.run(["show", "gamma"]).stdout).prefix(4)) == [
                "Gamma task",
                "gamma  2.1  in Phase 2: Advanced",
                "State:          done on 2026-11-25",
                "Due:            2026-11-20",
            ])
        #expect(
            try cli.run(["list"]).stdout == """
                🏗️ Phase 1: Basics
                ✓ 1.1   alpha Alpha task  2026-12-31
                ○ 1.2   beta Beta task  2026-12-01
                Phase 2: Advanced
                ✓ 2.1   gamma Gamma task  2026-11-20
                · 2.2   capstone Capstone  2027-02-01
                · 2.3   cap-part-one Capstone part one  2027-02-01
                · 2.4   cap-part-two Capstone part two  2027-02-01

                """)
        #expect(try cli.run(["doctor"]).status == 0)
    }

    @Test func aTaskSplitIntoPartsIsDoneWhenItsPartsAre() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        #expect(try cli.run(["done", "alpha", "beta"]).status == 0)
        try Self.edit(
            cli,
            [
                (
                    "        requires: [alpha]\n        due: 2026-12-01\n",
                    """
                            requires: [alpha]
                            due: 2026-12-01
                          - id: beta-read
                            title: Beta reading
                            decomposed-from: beta
                          - id: beta-write
                            title: Beta writing
                            decomposed-from: beta
                            requires: [beta-read]

                    """
                )
            ])
        // beta's own check-off no longer counts: it is done when its parts are.
        #expect(
            try cli.run(["status"]).stdout == """
                Fixture Plan  1/8 done (12%)  · 2026-11-25

                 1 🏗️ Basics    ████░░░░░░░░░░░░░░░░   1/5  20%
                 2    Advanced  ░░░░░░░░░░░░░░░░░░░░   0/3   0%

                Overdue: 1 task  (curriculum due --overdue)
                Next:
                  gamma  1.5  2026-11-20 overdue  Gamma task
                  beta-read  1.3  2026-12-01  Beta reading

                """)
        let show = try cli.run(["show", "beta"])
        #expect(
            Self.lines(show.stdout).prefix(7) == [
                "Beta task",
                "beta  1.2  in 🏗️ Phase 1: Basics",
                "State:          blocked",
                "Due:            2026-12-01",
                "Requires:       alpha",
                "Blocked by:     ○ beta-read, · beta-write",
                "Unblocks:       · capstone, · cap-part-one, · cap-part-two",
            ])
        // The old check-off stays recorded, and doctor says why it does not count.
        #expect(show.stdout.contains("checked off beta"))
        #expect(try cli.run(["log"]).stdout.contains("checked off beta"))
        let doctor = try cli.run(["doctor"])
        #expect(doctor.status == 0, "\(doctor.stdout)")
        #expect(doctor.stdout.contains("! tasks that now have parts had been checked off by hand: beta; they count as done only when all their parts are\n"))

        let parts = try cli.run(["done", "beta-read", "beta-write"])
        #expect(parts.status == 0, "\(parts.stderr)")
        #expect(parts.stdout.contains("✓ beta is done: all its parts are done.\n"), "\(parts.stdout)")
        #expect(try cli.run(["status"]).stdout.hasPrefix("Fixture Plan  4/8 done (50%)  · 2026-11-25\n"))
        #expect(Self.lines(try cli.run(["show", "beta"]).stdout)[2] == "State:          done on 2026-11-25")
    }
}

/// An edit that damages the plan file is reported, never a crash: `validate` and `status`
/// exit 0 with a plan or 65 with at least one `file:line:column: error:` line, whatever
/// the damage. (PlanFuzzTests does this by the thousand in-process; this checks the CLI's
/// mapping on a few dozen.)
@Suite("Damaged plan files through the CLI") struct DamagedPlanTests {
    @Test func everyCutAndFlipIsAPlanOrAnError() throws {
        let original = Array(CLI.fixturePlan.utf8)
        var rng = SeededRandom(seed: 77)
        var outcomes: [Int32: Int] = [:]
        let cli = try CLI(); defer { cli.cleanUp() }
        for k in 0..<40 {
            var bytes = original
            switch k % 4 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 1: bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 8))
            case 2:
                var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
                lines.remove(at: Int(rng.next() % UInt64(lines.count)))
                bytes = Array(lines.joined(separator: [0x0A]))
            default:
                var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
                let i = Int(rng.next() % UInt64(lines.count))
                lines.insert(lines[i], at: Int(rng.next() % UInt64(lines.count)))
                bytes = Array(lines.joined(separator: [0x0A]))
            }
            try Data(bytes).write(to: URL(fileURLWithPath: cli.plan))
            for command in [["validate"], ["status"]] {
                let r = try cli.run(command)
                outcomes[r.status, default: 0] += 1
                #expect(r.status == 0 || r.status == 65, "case \(k) \(command): exit \(r.status)\n\(r.stderr)")
                if r.status == 65 {
                    let said = r.stdout + r.stderr  // validate reports on stdout, other commands on stderr
                    #expect(said.contains("curriculum.yaml:") && said.contains("error: "), "case \(k) \(command): \(said)")
                }
            }
        }
        #expect(outcomes[65, default: 0] > 10, "\(outcomes)")
        print("damaged plans through the CLI: \(outcomes.sorted { $0.key < $1.key })")
    }
}
