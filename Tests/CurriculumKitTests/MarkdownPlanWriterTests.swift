import Foundation
import Testing
import Yams

@testable import CurriculumKit

// PlanWriter's YAML is checked by parsing it with Yams (libyaml) and comparing every value
// with the plan it came from, including strings chosen to break naive quoting.

/// Strings YAML would misread, misparse or mangle if written unquoted or badly escaped.
let nastyStrings: [String] = [
    "yes", "No", "ON", "off", "y", "n", "true", "False", "null", "NULL", "~", "", " ", "  lead", "trail  ",
    "a: b", "a:b", "ends with:", "a #b", "a#b", "#comment", "- dash", "-dash", "? q", "?q", ": c", "[x]", "]x",
    "{x}", "}x", ",x", "&anchor", "*alias", "!tag", "!!str", "|pipe", ">fold", "'single", "\"double", "%dir",
    "@at", "`tick", "123", "-12", "+12", "1.5", ".5", "-.5", "0x1F", "0o17", "1e3", "1_000", "2026-12-20",
    "2026-12-20T10:00:00Z", "12:30", "190:20:30", ".inf", "-.Inf", ".NaN", "<<", "=", "...", "---", "--- x",
    "tab\there", "\ttab first", "line1\nline2", "multi\n\nparagraph\n", "trailing newline\n", "two\n\n",
    "\n", "\nlead newline", " indented\nsecond", "trail \nspace", "cr\rlf\r\n", "bell\u{07}\u{00}\u{1B}\u{7F}",
    "c1\u{85}\u{9F}", "bom\u{FEFF}mid", "\u{2028}ls\u{2029}ps", "nbsp\u{A0}", "🏗️ emoji", "\u{F8FF}üèóÔ∏è",
    "quote \" and \\ backslash", "\\", "'", "\"", "caf\u{E9} / cafe\u{301}", "\u{FFFE}\u{FFFF}", "𝔘nicode",
    "key: value # and comment", "[a, b]", "{a: b}", "a, b", "- [ ] item", "# heading",
]

/// The YAML text parsed back into plain values.
private func parse(_ yaml: String) throws -> [String: Any] {
    let loaded = try Yams.load(yaml: yaml)
    return try #require(loaded as? [String: Any])
}

/// The raw text of a scalar (dates are resolved to `Date` by `load`, so read them here).
private func scalarText(_ yaml: String, _ path: [Any]) throws -> String? {
    var node: Node? = try Yams.compose(yaml: yaml)
    for step in path {
        if let key = step as? String { node = node?[key] }
        if let index = step as? Int { node = node?[index] }
    }
    return node?.scalar?.string
}

@Suite("Markdown plan writer (YAML)")
struct MarkdownPlanWriterTests {
    @Test func theSeedPlanIsWrittenAsTheDesignShowsIt() throws {
        let plan = try importedSeed().plan
        let yaml = PlanWriter.yaml(plan)
        #expect(
            yaml.hasPrefix(
                """
                schema: 1
                id: backend-development-studies
                title: Backend Development Studies
                generated-from: backend-development-studies.md
                front-matter: "sticker: lucide//rocket"
                phases:
                  - id: rest-apis-production-structure
                    number: 1
                    icon: 🏗️
                    title: Building REST APIs with Production Structure
                    tasks:
                      - id: rest-api-kotlin-ktor
                        title: Create a REST API in Kotlin with Ktor (or Java Spring if necessary)

                """))
        #expect(yaml.contains("\n        title: \"Master SQL: `JOIN`, `GROUP BY`, subqueries, indexing\"\n"))
        #expect(PlanWriter.yaml(plan) == yaml)  // deterministic

        let root = try parse(yaml)
        #expect(root["schema"] as? Int == 1)
        #expect(root["id"] as? String == plan.id)
        let phases = try #require(root["phases"] as? [[String: Any]])
        #expect(phases.count == 11)
        for (p, phase) in plan.phases.enumerated() {
            #expect(phases[p]["id"] as? String == phase.id)
            #expect(phases[p]["number"] as? Int == phase.number)
            #expect(phases[p]["icon"] as? String == phase.icon)
            #expect(phases[p]["title"] as? String == phase.title)
            let tasks = try #require(phases[p]["tasks"] as? [[String: Any]])
            #expect(tasks.map { $0["id"] as? String } == phase.tasks.map { plan.tasks[$0].id })
            #expect(tasks.map { $0["title"] as? String } == phase.tasks.map { plan.tasks[$0].title })
        }
    }

    @Test func everyFieldRoundTripsThroughYams() throws {
        var plan = richPlan()
        plan = Plan(
            id: plan.id, title: plan.title, generatedFrom: plan.generatedFrom,
            start: Day(year: 2026, month: 11, day: 24), frontMatter: plan.frontMatter,
            phases: plan.phases,
            tasks: plan.tasks.enumerated().map { i, t in
                var t = t
                t.labs = i == 0 ? ["lab-a", "lab-b"] : []
                t.generatedFrom = i == 1 ? "setup" : nil
                t.renamedFrom = i == 2 ? ["old-one", "older"] : []
                return t
            })
        let yaml = PlanWriter.yaml(plan)
        #expect(yaml.contains("\nstart: 2026-11-24\n"))
        #expect(yaml.contains("\n    due: 2027-01-10\n"))
        #expect(yaml.contains("\n        due: 2026-12-01\n"))
        #expect(yaml.contains("\n        title: \"Token refresh #later\"\n"))
        #expect(yaml.contains("\n        requires: [deploy, api]\n"))
        #expect(yaml.contains("\n    notes: |-\n      Read the docs first.\n      Progress: 1/2 (50%)\n"))
        let root = try parse(yaml)
        #expect(root["title"] as? String == plan.title)
        #expect(root["generated-from"] as? String == plan.generatedFrom)
        #expect(root["front-matter"] as? String == plan.frontMatter)
        #expect(try scalarText(yaml, ["start"]) == "2026-11-24")
        let phases = try #require(root["phases"] as? [[String: Any]])
        for (p, phase) in plan.phases.enumerated() {
            #expect(phases[p]["icon"] as? String == phase.icon)
            #expect(phases[p]["notes"] as? String == phase.notes)
            #expect(try scalarText(yaml, ["phases", p, "due"]) == phase.due?.description)
            let tasks = try #require(phases[p]["tasks"] as? [[String: Any]])
            for (k, i) in phase.tasks.enumerated() {
                let t = plan.tasks[i]
                let y = tasks[k]
                #expect(y["id"] as? String == t.id)
                #expect(y["title"] as? String == t.title)
                #expect((y["labs"] as? [String] ?? []) == t.labs)
                #expect((y["requires"] as? [String] ?? []) == t.requires)
                #expect(try scalarText(yaml, ["phases", p, "tasks", k, "due"]) == t.due?.description)
                #expect(y["decomposed-from"] as? String == t.decomposedFrom)
                #expect(y["generated-from"] as? String == t.generatedFrom)
                #expect((y["renamed-from"] as? [String] ?? []) == t.renamedFrom)
                #expect(y["notes"] as? String == t.notes)
                // Nothing else is written.
                let allowed: Set<String> = [
                    "id", "title", "labs", "requires", "due", "decomposed-from",
                    "generated-from", "renamed-from", "notes",
                ]
                #expect(Set(y.keys).isSubset(of: allowed))
            }
        }
    }

    @Test func nastyStringsReadBackExactly() throws {
        // Each nasty string in every kind of place: title, notes, icon, front matter, ids in
        // flow lists, and single-valued references.
        let tasks = nastyStrings.enumerated().map { i, s in
            Task(
                id: "t\(i)", title: s, phase: 0, position: i + 1, labs: [s, "ok"], requires: [s],
                decomposedFrom: s, generatedFrom: s, renamedFrom: [s], notes: s)
        }
        let phases = nastyStrings.enumerated().map { i, s in
            Phase(id: s, number: i, icon: s, title: s, notes: s, tasks: i == 0 ? Array(tasks.indices) : [])
        }
        for s in nastyStrings {
            let plan = Plan(id: s, title: s, generatedFrom: s, frontMatter: s, phases: [], tasks: [])
            let yaml = PlanWriter.yaml(plan)
            let root = try parse(yaml)
            #expect(root["id"] as? String == s, "\(s.debugDescription)")
            #expect(root["title"] as? String == s, "\(s.debugDescription)")
            #expect(root["generated-from"] as? String == s, "\(s.debugDescription)")
            #expect(root["front-matter"] as? String == s, "\(s.debugDescription)")
        }
        let yaml = PlanWriter.yaml(Plan(id: "x", title: "x", phases: phases, tasks: tasks))
        let root = try parse(yaml)
        let ys = try #require(root["phases"] as? [[String: Any]])
        for (i, s) in nastyStrings.enumerated() {
            let d = s.debugDescription
            #expect(ys[i]["id"] as? String == s, "\(d)")
            #expect(ys[i]["icon"] as? String == s, "\(d)")
            #expect(ys[i]["title"] as? String == s, "\(d)")
            #expect(ys[i]["notes"] as? String == s, "\(d)")
        }
        let yt = try #require(ys[0]["tasks"] as? [[String: Any]])
        for (i, s) in nastyStrings.enumerated() {
            let d = s.debugDescription
            #expect(yt[i]["title"] as? String == s, "\(d)")
            #expect(yt[i]["notes"] as? String == s, "\(d)")
            #expect(yt[i]["labs"] as? [String] == [s, "ok"], "\(d)")
            #expect(yt[i]["requires"] as? [String] == [s], "\(d)")
            #expect(yt[i]["renamed-from"] as? [String] == [s], "\(d)")
            #expect(yt[i]["decomposed-from"] as? String == s, "\(d)")
            #expect(yt[i]["generated-from"] as? String == s, "\(d)")
        }
    }

    @Test func plainScalarsStayPlain() {
        for s in [
            "rest-api", "Backend Development Studies", "Use DTOs for communication", "🏗️", "a:b", "a#b",
            "Create a REST API in Kotlin with Ktor (or Java Spring if necessary)", "café",
        ] {
            #expect(YAMLScalar.inline(s) == s)
        }
        #expect(YAMLScalar.inline("a:b", flow: true) == "\"a:b\"")
        #expect(YAMLScalar.inline("nbsp\u{A0}") == "\"nbsp\u{A0}\"")
        #expect(YAMLScalar.value("one\ntwo", indent: 4) == " |-\n      one\n      two")
        #expect(YAMLScalar.value("one\n", indent: 0) == " |\n  one")
        #expect(YAMLScalar.doubleQuoted("\u{7F}\u{FEFF}\u{1F3D7}") == "\"\\x7F\\uFEFF\u{1F3D7}\"")
    }
}
