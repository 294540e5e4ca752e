import Foundation
import Testing

@Suite("Everyday commands, end to end") struct TrackerCommandTests {
    @Test func nextListsOnlyReadyTasksOverdueFirst() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["next"])
        #expect(r.status == 0, "\(r.stderr)")
        let ids = r.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(ids == ["gamma", "alpha"], "\(r.stdout)")
        #expect(r.stdout.contains("2026-11-20 overdue"))
    }

    @Test func explainSaysWhyEachTaskIsWhereItIs() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["next", "--explain"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("overdue by 5 days"), "\(r.stdout)")
        #expect(r.stdout.contains("unblocks 4 open tasks"), "\(r.stdout)")
        #expect(r.stdout.contains("unblocks 3 open tasks"))
    }

    @Test func doneMovesATaskAndPrintsWhatItUnblocked() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["done", "alpha"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("alpha done"))
        #expect(r.stdout.contains("Unblocked:"))
        #expect(r.stdout.contains("beta"))
        let next = try cli.run(["next"])
        #expect(next.stdout.contains("beta"))
        #expect(!next.stdout.contains("alpha "))
    }

    @Test func aParentCannotBeCheckedOffByHand() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["done", "capstone", "--force"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("capstone is done when its parts are done"), "\(r.stderr)")
        #expect(r.stderr.contains("cap-part-one, cap-part-two"))
        let log = try cli.run(["log"])
        #expect(log.stdout.contains("No history yet"))
    }

    @Test func partsMakeTheirParentDone() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        #expect(try cli.run(["done", "alpha", "beta", "gamma"]).status == 0)
        let r = try cli.run(["done", "cap-part-one", "cap-part-two"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("capstone is done: all its parts are done"), "\(r.stdout)")
        let status = try cli.run(["status"])
        #expect(status.stdout.contains("6/6 done (100%)"), "\(status.stdout)")
    }

    @Test func aBlockedTaskAsksForForce() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["done", "beta"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("beta is blocked by alpha"), "\(r.stderr)")
        #expect(r.stderr.contains("--force"))
        #expect(try cli.run(["done", "beta", "--force"]).status == 0)
    }

    @Test func undoRevertsTheLastCheckOff() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        try cli.run(["done", "alpha"])
        try cli.run(["done", "gamma"])
        let u = try cli.run(["undo"])
        #expect(u.status == 0)
        #expect(u.stdout.contains("gamma"), "\(u.stdout)")
        let list = try cli.run(["list", "--done", "--json"])
        let done = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
        #expect(done?.compactMap { $0["id"] as? String } == ["alpha"])
        let log = try cli.run(["log"])
        #expect(log.stdout.contains("[undone]"))
        #expect(try cli.run(["undo"]).stdout.contains("alpha"))
        #expect(try cli.run(["undo"]).stdout.contains("Nothing to undo"))
    }

    @Test func reopenUnchecks() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        try cli.run(["done", "alpha"])
        let r = try cli.run(["reopen", "alpha"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("alpha reopened"))
        #expect(try cli.run(["status"]).stdout.contains("0/6 done"))
    }

    @Test(arguments: [("1.2", "beta"), ("2.1", "capstone"), ("gam", "gamma"), ("cap-part-t", "cap-part-two")])
    func tasksAreNamedByIdPrefixOrPhaseNumber(_ name: String, _ id: String) throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["show", name])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").dropFirst().first?.hasPrefix(id) == true, "\(r.stdout)")
    }

    @Test func anUnknownOrAmbiguousNameListsCandidates() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let unknown = try cli.run(["done", "alpah"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("no task is named alpah; did you mean alpha?"), "\(unknown.stderr)")
        let ambiguous = try cli.run(["show", "cap"])
        #expect(ambiguous.status == 64)
        #expect(ambiguous.stderr.contains("capstone, cap-part-one, cap-part-two"), "\(ambiguous.stderr)")
        let phase = try cli.run(["show", "9.1"])
        #expect(phase.status == 64)
    }

    @Test func showPrintsEveryMorphismBothWays() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let part = try cli.run(["show", "cap-part-two"])
        #expect(part.stdout.contains("Part of:"))
        #expect(part.stdout.contains("Requires:       cap-part-one"))
        #expect(part.stdout.contains("with its parent's"))
        let alpha = try cli.run(["show", "alpha"])
        #expect(alpha.stdout.contains("Unblocks:"))
        #expect(alpha.stdout.contains("beta"))
        #expect(!alpha.stdout.contains("Blocks:"))
        let cap = try cli.run(["show", "capstone"])
        #expect(cap.stdout.contains("Parts:"))
        #expect(cap.stdout.contains("Blocked by:"))
    }

    @Test func blockedSaysWhatBlocksEachTask() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let r = try cli.run(["blocked"])
        #expect(r.stdout.contains("beta"))
        #expect(r.stdout.contains("waits for alpha"))
        #expect(r.stdout.contains("open parts cap-part-one, cap-part-two"))
        #expect(try cli.run(["blocked", "--count"]).stdout == "4\n")
    }

    @Test func dueListsByDateAndOverdue() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let overdue = try cli.run(["due", "--overdue"])
        #expect(overdue.stdout.contains("gamma"))
        #expect(!overdue.stdout.contains("alpha"))
        let soon = try cli.run(["due", "--within", "7d"])
        #expect(soon.stdout.contains("beta"))
        #expect(!soon.stdout.contains("alpha"))
        #expect(try cli.run(["due", "--within", "soon"]).status == 64)
    }

    @Test func statusDrawsABarPerPhase() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        try cli.run(["done", "alpha"])
        let r = try cli.run(["status"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Fixture Plan  1/6 done (16%)"), "\(r.stdout)")
        #expect(r.stdout.contains("Basics"))
        #expect(r.stdout.contains("█"))
        #expect(r.stdout.contains("Overdue: 1 task"))
        #expect(!r.stdout.contains("\u{1B}["), "no colour when NO_COLOR is set or output is piped")
    }

    @Test func todayComesFromTheFlagOrTheEnvironment() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let before = try cli.run(["due", "--overdue", "--today", "2026-11-01"])
        #expect(before.stdout.contains("Nothing is overdue"))
        let bad = try cli.run(["status", "--today", "25/11/2026"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("YYYY-MM-DD"))
    }

    @Test func exportMarksExactlyTheDoneTasks() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        try cli.run(["done", "alpha", "gamma"])
        let md = try cli.run(["export"])
        #expect(md.status == 0)
        let checked = md.stdout.split(separator: "\n").filter { $0.contains("- [x]") }
        #expect(checked.count == 2, "\(md.stdout)")
        #expect(checked.contains { $0.contains("Alpha task") })
        #expect(checked.contains { $0.contains("Gamma task") })
        #expect(md.stdout.contains("🏗️"))
        let json = try cli.run(["export", "--format", "json"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(obj?["done"] as? Int == 2)
        let mermaid = try cli.run(["export", "--format", "mermaid"])
        #expect(mermaid.stdout.hasPrefix("flowchart LR"))
        #expect(mermaid.stdout.contains("n_alpha --> n_beta"))
        let dot = try cli.run(["export", "--format", "dot", "-o", cli.folder.appendingPathComponent("g.dot").path])
        #expect(dot.status == 0)
        let text = try String(contentsOfFile: cli.folder.appendingPathComponent("g.dot").path, encoding: .utf8)
        #expect(text.contains("\"alpha\" -> \"beta\""))
    }

    @Test func theBuiltInPlanWorksFromAnyFolder() throws {
        let cli = try CLI(plan: nil); defer { cli.cleanUp() }
        let home = cli.folder.appendingPathComponent("home").path
        let r = try cli.run(["status"], env: ["HOME": home, "XDG_DATA_HOME": ""], useDefaults: false)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Backend Development Studies  0/63 done"), "\(r.stdout)")
        #expect(FileManager.default.fileExists(atPath: home + "/.local/share/curriculum/backend-studies.sqlite"))
    }
}
