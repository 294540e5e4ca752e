import Foundation
import Testing

/// The conventions people expect: global options before the command, typo suggestions,
/// Obsidian Tasks' done dates both ways.
@Suite("conventions") struct ConventionsTests {
    @Test func globalOptionsMayComeBeforeTheCommandName() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        let other = cli.folder.appendingPathComponent("other.sqlite").path
        let done = try cli.run(["--db", other, "--today", "2026-11-26", "done", "alpha"])
        #expect(done.status == 0, "\(done.stderr)")
        let status = try cli.run(["--db", other, "--json", "status"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("\"done\" : 1"))
        // The default database is untouched.
        #expect(try cli.run(["status", "--json"]).stdout.contains("\"done\" : 0"))
        let plan = try cli.run(["--curriculum", cli.plan, "next"])
        #expect(plan.status == 0)
        let slow = try cli.run(["--db", other, "log", "-n", "1"])
        #expect(slow.stdout.contains("alpha"), "\(slow.stdout)\(slow.stderr)")
    }

    @Test func aTypoGetsSuggestions() throws {
        let plan = CLI.fixturePlan.replacingOccurrences(of: "id: alpha", with: "id: layered-architecture")
            .replacingOccurrences(of: "requires: [alpha]", with: "requires: [layered-architecture]")
        let cli = try CLI(plan: plan); defer { cli.cleanUp() }
        let r = try cli.run(["done", "layerd"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("did you mean layered-architecture"), "\(r.stderr)")
        #expect(try cli.run(["show", "capstne"]).stderr.contains("capstone"))
    }

    @Test func obsidianDoneDatesGoOutAndComeBack() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        _ = try cli.run(["done", "alpha", "--on", "2026-11-20"])
        let exported = try cli.run(["export", "--obsidian-tasks"])
        #expect(exported.stdout.contains("- [x] **Alpha task** 📅 2026-12-31 🆔 alpha ✅ 2026-11-20"), "\(exported.stdout)")
        let note = cli.folder.appendingPathComponent("note.md").path
        try exported.stdout.write(toFile: note, atomically: true, encoding: .utf8)
        let db = cli.folder.appendingPathComponent("imported.sqlite").path
        let imported = try cli.run(
            ["import", note, "-o", cli.folder.appendingPathComponent("p.yaml").path, "--with-progress"],
            env: ["CURRICULUM_DB": db])
        #expect(imported.status == 0, "\(imported.stderr)")
        let log = try cli.run(["--db", db, "--curriculum", cli.folder.appendingPathComponent("p.yaml").path, "list", "--done", "--json"])
        #expect(log.stdout.contains("\"done_on\" : \"2026-11-20\""), "\(log.stdout)\(log.stderr)")
    }

    @Test func completionScriptsCompleteTaskAndLabIds() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        for shell in ["bash", "zsh", "fish"] {
            let script = try cli.run(["--generate-completion-script", shell])
            #expect(script.status == 0)
            #expect(script.stdout.contains("---completion"), "\(shell)")
        }
        let tasks = try cli.run(["---completion", "done", "--", "positional@0", "2", "3", "curriculum", "done", "cap"])
        #expect(tasks.stdout.split(separator: "\n") == ["capstone", "cap-part-one", "cap-part-two"], "\(tasks.stdout)\(tasks.stderr)")
        let labs = try cli.run(["---completion", "lab", "show", "--", "positional@0", "3", "3", "curriculum", "lab", "show", "corout"])
        #expect(labs.stdout.contains("coroutines"), "\(labs.stdout)\(labs.stderr)")
    }
}
