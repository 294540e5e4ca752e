import Foundation
import Testing

@Suite("import, end to end") struct ImportCommandTests {
    static var seed: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CurriculumKitTests/Fixtures/backend-development-studies.md").path
    }

    @Test func theSeedNoteBecomesAValidPlanOfElevenPhasesAnd58Tasks() throws {
        let cli = try CLI(plan: nil); defer { cli.cleanUp() }
        let out = cli.folder.appendingPathComponent("imported.yaml").path
        let r = try cli.run(["import", Self.seed, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("11 phases, 58 tasks"), "\(r.stderr)")
        let v = try cli.run(["validate", out])
        #expect(v.status == 0, "\(v.stdout)")
        let list = try cli.run(["list", "--json", "--curriculum", out])
        let tasks = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(tasks.count == 58)
        #expect(tasks.first?["title"] as? String == "Create a REST API in Kotlin with Ktor (or Java Spring if necessary)")
        #expect(tasks.last?["title"] as? String == "Package and share your backend libraries or services")
        let yaml = try String(contentsOfFile: out, encoding: .utf8)
        for icon in ["🏗️", "🗃️", "🔄", "🧵", "📡", "🧠", "⚙️", "📬", "📜", "🧬", "🚧"] {
            #expect(yaml.contains(icon), "icon \(icon) missing")
        }
        #expect(!yaml.contains("üèó"), "the mangled emoji were repaired")
        // Without -o the plan goes to stdout, byte for byte the same.
        let stdout = try cli.run(["import", Self.seed])
        #expect(stdout.stdout == yaml)
    }

    @Test func withProgressRecordsExactlyTheTickedBoxes() throws {
        let cli = try CLI(plan: nil); defer { cli.cleanUp() }
        let note = cli.folder.appendingPathComponent("note.md").path
        try """
        # My Plan

        #### 🚀 Phase 1: Start
        - [x] **First thing**
        - [ ] **Second thing**
            - [X] **Second, part one**
            - [ ] **Second, part two**
        #### Phase 2: Later
        - [x] Third thing
        """.write(toFile: note, atomically: true, encoding: .utf8)
        let out = cli.folder.appendingPathComponent("plan.yaml").path
        let r = try cli.run(["import", note, "-o", out, "--with-progress"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("Recorded 3 ticked tasks"), "\(r.stderr)")
        let done = try cli.run(["list", "--done", "--json", "--curriculum", out])
        let ids = (try JSONSerialization.jsonObject(with: Data(done.stdout.utf8)) as? [[String: Any]])?.compactMap { $0["title"] as? String }
        #expect(ids == ["First thing", "Second, part one", "Third thing"])
        let tree = try cli.run(["list", "--tree", "--curriculum", out])
        #expect(tree.stdout.contains("    ✓"), "the part is nested under its parent: \(tree.stdout)")
    }

    @Test func anExportImportsBackToTheSamePlanAndProgress() throws {
        let cli = try CLI(); defer { cli.cleanUp() }
        try cli.run(["done", "alpha", "gamma", "cap-part-one", "--force"])
        for obsidian in [false, true] {
            let md = cli.folder.appendingPathComponent("export-\(obsidian).md").path
            let export = try cli.run(["export", "-o", md] + (obsidian ? ["--obsidian-tasks"] : []))
            #expect(export.status == 0)
            let back = cli.folder.appendingPathComponent("back-\(obsidian).yaml").path
            let db = cli.folder.appendingPathComponent("back-\(obsidian).sqlite").path
            let r = try cli.run(["import", md, "-o", back, "--with-progress"], env: ["CURRICULUM_DB": db])
            #expect(r.status == 0, "\(r.stderr)")
            let before = try cli.run(["list", "--json"])
            let after = try cli.run(["list", "--json", "--curriculum", back], env: ["CURRICULUM_DB": db])
            func shape(_ s: String) throws -> [[String]] {
                let tasks = try #require(try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [[String: Any]])
                return tasks.map { t in
                    [
                        t["title"] as? String ?? "", t["number"] as? String ?? "", t["status"] as? String == "done" ? "done" : "open",
                        (t["part_of"] as? String).map { _ in "part" } ?? "", obsidian ? (t["id"] as? String ?? "") : "",
                        obsidian ? (t["due"] as? String ?? "") : "",
                    ]
                }
            }
            #expect(try shape(after.stdout) == shape(before.stdout), "obsidian-tasks: \(obsidian)")
        }
    }

    @Test func aNoteOfTheWrongShapeIsRefusedWithoutWritingAnything() throws {
        let cli = try CLI(plan: nil); defer { cli.cleanUp() }
        let out = cli.folder.appendingPathComponent("plan.yaml").path
        let cases: [(String, Data)] = [
            ("empty.md", Data()),
            ("no-phases.md", Data("# Title\n\n- [ ] a task\n".utf8)),
            ("no-boxes.md", Data("# Title\n\n#### Phase 1: Only\n\nsome prose\n".utf8)),
            ("latin1.md", Data([0x23, 0x20, 0x43, 0x61, 0x66, 0xE9, 0x0A])),
        ]
        for (name, bytes) in cases {
            let note = cli.folder.appendingPathComponent(name).path
            try bytes.write(to: URL(fileURLWithPath: note))
            let r = try cli.run(["import", note, "-o", out])
            #expect(r.status == 65, "\(name): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(name): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(name) left a plan file")
        }
        let missing = try cli.run(["import", "nope.md"])
        #expect(missing.status == 66)
    }
}
