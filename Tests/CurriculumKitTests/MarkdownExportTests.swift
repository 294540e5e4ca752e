import Foundation
import Testing

@testable import CurriculumKit

// Export writes the note's own shape; importing the export gives back the same plan and
// progress (and, with Obsidian Tasks fields, the same ids, due dates and requirements).

/// A plan with every feature the exporter must carry: icons and none, phase and task due
/// dates, parts two levels deep, requirements naming tasks and a phase, notes that look
/// like markdown structure, and titles with bold markers, backslashes, code spans and
/// text that looks like Obsidian fields. Tasks are in depth-first order, as a note is.
func richPlan() -> Plan {
    let day = { (y: Int, m: Int, d: Int) in Day(year: y, month: m, day: d) }
    let tasks = [
        Task(id: "setup", title: "Set up **the** `**db**` tooling", phase: 0, position: 1),
        Task(
            id: "api", title: #"Build C:\path\ and a\*star, then end with \"#, phase: 0, position: 2,
            requires: ["setup"]),
        Task(
            id: "capstone", title: "Knowledge API 📅 2026-01-01 🆔 fake", phase: 0, position: 3,
            requires: ["api"], notes: "Three parts.\n- [ ] looks like a part\n2. numbered"),
        Task(id: "auth-part", title: "Auth *with* roles", phase: 0, position: 4, decomposedFrom: "capstone"),
        Task(id: "deep", title: "Token refresh #later", phase: 0, position: 5, decomposedFrom: "auth-part"),
        Task(
            id: "search-part", title: "Search", phase: 0, position: 6, due: day(2026, 12, 1),
            decomposedFrom: "capstone"),
        Task(id: "deploy", title: "Deploy it", phase: 1, position: 1, requires: ["rest-apis"]),
        Task(
            id: "monitor", title: "Monitor it", phase: 1, position: 2, requires: ["deploy", "api"],
            due: day(2027, 2, 1), notes: "Use Grafana.\n\n* star bullet\n---\n# not a heading"),
    ]
    let phases = [
        Phase(
            id: "rest-apis", number: 1, icon: "🏗️", title: "Building REST APIs", due: day(2027, 1, 10),
            notes: "Read the docs first.\nProgress: 1/2 (50%)\n# looks like a heading\n+ plus", tasks: [0, 1, 2, 3, 4, 5]),
        Phase(id: "ops", number: 2, title: "Operations: deploy & watch", tasks: [6, 7]),
    ]
    return Plan(
        id: "rich", title: "Rich Plan", generatedFrom: "rich.md", frontMatter: "tags: [a]\nsticker: x",
        phases: phases, tasks: tasks)
}

private struct RoundTrip {
    var markdown: String
    var back: ImportedNote
}

private func roundTrip(_ plan: Plan, done: Set<Int>, obsidian: Bool) throws -> RoundTrip {
    let markdown = MarkdownExporter.export(plan: plan, isDone: { done.contains($0) }, obsidianTasks: obsidian)
    return RoundTrip(markdown: markdown, back: try NoteImporter.importNote(text: markdown, file: "export.md"))
}

/// Everything a plain export must preserve.
private func expectSameShape(_ plan: Plan, _ back: ImportedNote, done: Set<Int>) {
    let other = back.plan
    #expect(other.title == plan.title)
    #expect(other.frontMatter == plan.frontMatter)
    #expect(other.phases.map(\.number) == plan.phases.map(\.number))
    #expect(other.phases.map(\.icon) == plan.phases.map(\.icon))
    #expect(other.phases.map(\.title) == plan.phases.map(\.title))
    #expect(other.phases.map(\.notes) == plan.phases.map(\.notes).map { $0?.replacingOccurrences(of: "\n\n", with: "\n") })
    #expect(other.phases.map(\.tasks) == plan.phases.map(\.tasks))
    #expect(other.tasks.map(\.title) == plan.tasks.map(\.title))
    #expect(other.tasks.map(\.phase) == plan.tasks.map(\.phase))
    #expect(other.tasks.map(\.position) == plan.tasks.map(\.position))
    #expect(other.parent == plan.parent)
    #expect(other.parts == plan.parts)
    // Blank lines inside notes are not kept (a note's lines are written one after another).
    #expect(other.tasks.map(\.notes) == plan.tasks.map(\.notes).map { $0?.replacingOccurrences(of: "\n\n", with: "\n") })
    let tickedIndices = back.ticked.compactMap { other.taskIndex[$0] }
    #expect(tickedIndices == done.sorted())
    #expect(back.warnings.isEmpty, "\(back.warnings)")
}

@Suite("Markdown export")
struct MarkdownExportTests {
    @Test func theSeedExportsInItsOwnShape() throws {
        let plan = try importedSeed().plan
        let text = MarkdownExporter.export(plan: plan, isDone: { $0 == 0 }, obsidianTasks: false)
        let expectedStart = """
            ---
            sticker: lucide//rocket
            ---
            # Backend Development Studies

            ## Overview
            ## Investigation

            #### 🏗️ Phase 1: Building REST APIs with Production Structure

            Progress: 1/5 (20%)

            - [x] **Create a REST API in Kotlin with Ktor (or Java Spring if necessary)**

            - [ ] **Design a layered architecture (Controller, Service, Repository)**

            """
        #expect(text.hasPrefix(expectedStart))
        // As in the note: no rule between phases 1 and 2, one above every later phase.
        #expect(text.contains("**Add Swagger/OpenAPI documentation**\n\n#### 🗃️ Phase 2: Relational Database Mastery\n\nProgress: 0/6 (0%)\n"))
        #expect(text.contains("---\n\n#### 🔄 Phase 3:"))
        #expect(text.contains("- [ ] **Master SQL: `JOIN`, `GROUP BY`, subqueries, indexing**\n"))
        #expect(text.contains("#### 🚧 Phase 11: Build & Document Serious Projects"))
        #expect(!text.contains("🆔"))
        // The note's own sections after the phases come back where they were.
        #expect(
            text.hasSuffix(
                "**Package and share your backend libraries or services**\n\n## Resources\n\n## Morphisms\n- Is due\n"
                    + "- Requires\n- Decomposed from\n- Generated from\n\n## Tags\n#objective #cs-studies\n\n"))
    }

    @Test(arguments: [false, true])
    func theSeedRoundTrips(obsidian: Bool) throws {
        let plan = try importedSeed().plan
        let done: Set<Int> = [0, 3, 12, 30, 57]
        let trip = try roundTrip(plan, done: done, obsidian: obsidian)
        expectSameShape(plan, trip.back, done: done)
        // Ids are derived from the same titles, or written out: either way the same.
        #expect(trip.back.plan.tasks.map(\.id) == plan.tasks.map(\.id))
        #expect(trip.back.plan.phases.map(\.id) == plan.phases.map(\.id))
    }

    @Test func aRichPlanRoundTripsWithoutObsidianFields() throws {
        let plan = richPlan()
        let done: Set<Int> = [1, 3, 4, 6]
        let trip = try roundTrip(plan, done: done, obsidian: false)
        expectSameShape(plan, trip.back, done: done)
        #expect(!trip.markdown.contains("🆔 setup"))
        // Ids come from titles now, and there are no dates or requirements.
        #expect(trip.back.plan.tasks[0].id == "set-up-db-tooling")
        #expect(trip.back.plan.tasks.allSatisfy { $0.due == nil && $0.requires.isEmpty })
    }

    @Test func aRichPlanRoundTripsWithObsidianFields() throws {
        let plan = richPlan()
        let done: Set<Int> = [1, 3, 4, 6]
        let trip = try roundTrip(plan, done: done, obsidian: true)
        expectSameShape(plan, trip.back, done: done)
        let back = trip.back.plan
        #expect(back.tasks.map(\.id) == plan.tasks.map(\.id))
        #expect(back.tasks.indices.map(back.due(of:)) == plan.tasks.indices.map(plan.due(of:)))
        #expect(back.requires == plan.requires)
        // The phase id in `deploy`'s requirements is written as its tasks' ids.
        #expect(trip.markdown.contains("- [x] **Deploy it** 🆔 deploy ⛔ setup,api,capstone,auth-part,deep,search-part\n"))
        #expect(trip.markdown.contains("        - [x] **Token refresh #later** 📅 2027-01-10 🆔 deep\n"))
        #expect(trip.markdown.contains("    - [ ] **Search** 📅 2026-12-01 🆔 search-part\n"))
        #expect(trip.markdown.contains(#"- [x] **Build C:\path\ and a\\*star, then end with \\** 📅 2027-01-10 🆔 api ⛔ setup"#))
    }

    @Test func progressLinesCountDoneAndOverdueTasks() {
        let plan = richPlan()
        let done: Set<Int> = [1, 3, 4, 6]
        let today = Day(year: 2027, month: 1, day: 11)
        let text = MarkdownExporter.export(plan: plan, isDone: { done.contains($0) }, obsidianTasks: false, today: today)
        // Phase 1: 3 of 6 done; open 0, 2, 5 are due 2027-01-10, 2027-01-10, 2026-12-01: all late.
        #expect(text.contains("\nProgress: 3/6 (50%), 3 overdue\n"))
        // Phase 2: 1 of 2 done; `monitor` is due 2027-02-01, not late.
        #expect(text.contains("\nProgress: 1/2 (50%)\n"))
        let early = MarkdownExporter.export(
            plan: plan, isDone: { done.contains($0) }, obsidianTasks: false,
            today: Day(year: 2026, month: 11, day: 1))
        #expect(!early.contains("overdue"))
        // The importer skips progress lines but keeps a note that only looks like one.
        let back = try? NoteImporter.importNote(text: text, file: "x.md")
        #expect(back?.plan.phases[0].notes?.contains("Progress: 1/2 (50%)") == true)
    }

    @Test func aPlanWithoutFrontMatterOrIconsStartsWithItsTitle() {
        let plan = Plan(
            id: "p", title: "Plain", phases: [Phase(id: "one", number: 7, title: "One", tasks: [0])],
            tasks: [Task(id: "t", title: "T", phase: 0, position: 1)])
        let text = MarkdownExporter.export(plan: plan, isDone: { _ in true }, obsidianTasks: false)
        #expect(text == "# Plain\n\n#### Phase 7: One\n\nProgress: 1/1 (100%)\n\n- [x] **T**\n\n")
    }
}
