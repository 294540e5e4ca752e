import CurriculumKit
import Foundation
import Testing

/// docs/JSON.md documents every field every `--json` command emits.
@Suite("docs/JSON.md") struct JSONDocumentationTests {
    static let docs: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("docs/JSON.md"), encoding: .utf8)) ?? ""
    }()

    /// Every field name written as `name` in the file.
    static let documented: Set<String> = {
        var names: Set<String> = []
        var rest = docs[...]
        while let open = rest.firstIndex(of: "`") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "`") else { break }
            names.insert(String(after[..<close]))
            rest = after[after.index(after: close)...]
        }
        return names
    }()

    /// Every key of a JSON value, recursively.
    static func keys(_ value: Any) -> Set<String> {
        var out: Set<String> = []
        if let d = value as? [String: Any] {
            for (k, v) in d { out.insert(k); out.formUnion(keys(v)) }
        } else if let a = value as? [Any] {
            for v in a { out.formUnion(keys(v)) }
        }
        return out
    }

    @Test func everyEmittedFieldIsDocumented() throws {
        let plan = CLI.fixturePlan
            .replacingOccurrences(of: "title: Fixture Plan", with: "title: Fixture Plan\nstart: 2026-11-01")
            .replacingOccurrences(of: "title: Alpha task", with: "title: Alpha task\n        labs: [orm]")
        var cli = try CLI(plan: plan); defer { cli.cleanUp() }
        cli.today = "2026-11-10"
        // A history that fills every optional field: a verified check-off with a note, a
        // plain one, a lab run, a recheck, an undo.
        _ = try cli.run(["status"])
        let store = try Store(path: cli.db)
        try store.checkOff([.init(task: "alpha", verified: true)], day: Day(iso: "2026-11-02")!, note: "first")
        try store.recordLabRun(
            LabRun(
                lab: "orm", task: "alpha", at: "", seconds: 1, outcome: "failed", quick: true, checksPassed: 1,
                checksTotal: 2, figures: "[]", error: "boom"), day: Day(iso: "2026-11-03")!)
        try store.checkOff([.init(task: "gamma")], day: Day(iso: "2026-11-04")!)
        try store.checkOff([.init(task: "beta")], day: Day(iso: "2026-11-05")!)
        _ = try store.undoLast(day: Day(iso: "2026-11-05")!)
        let commands: [[String]] = [
            ["status"], ["next", "--explain"], ["list"], ["show", "alpha"], ["blocked"], ["blocked", "--count"], ["due"], ["log"],
            ["export", "--format", "json"], ["validate"], ["lab", "list"], ["lab", "show", "coroutines-vs-threads"], ["start"],
            ["forecast"], ["review", "--all"], ["sync", cli.folder.appendingPathComponent("sync").path],
            ["done", "beta"], ["reopen", "beta"], ["undo"],
        ]
        var missing: [String] = []
        for args in commands {
            let r = try cli.run(args + ["--json"])
            #expect(r.status == 0, "\(args): \(r.stderr)")
            let value = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8), options: [.fragmentsAllowed])
            for key in Self.keys(value).sorted() where !Self.documented.contains(key) {
                missing.append("\(args.joined(separator: " ")): \(key)")
            }
            if let object = value as? [String: Any],
                !(args.first == "validate" || args.first == "lab" || args == ["reopen", "beta"]
                    || args == ["undo"] || args == ["blocked", "--count"])
            {
                #expect(object["json_schema"] as? Int == JSONSchema.version, "\(args) should carry json_schema")
            }
        }
        #expect(missing.isEmpty, "undocumented in docs/JSON.md: \(missing.joined(separator: "; "))")
        // Each command has its section.
        for heading in [
            "## `status --json`", "## `forecast --json`", "## `review --json`", "## `sync DIR --json`", "## `start --json`",
            "## `export --format json`", "## Task object", "## Event object",
        ] {
            #expect(Self.docs.contains(heading), "\(heading) missing")
        }
    }
}
