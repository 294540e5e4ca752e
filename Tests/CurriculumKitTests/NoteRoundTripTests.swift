import Foundation
import Testing

@testable import CurriculumKit

/// The whole note survives import → export: the text outside the phases comes back where
/// it was, through the plan file too.
@Suite struct NoteRoundTripTests {
    /// A note reduced to what the round trip promises to keep: emoji repaired, no progress
    /// lines, no ticks, no whitespace differences, no blank lines. Rules between phases stay:
    /// the seed has one above every phase but the first two, and so must the export.
    static func normalized(_ text: String) -> [String] {
        text.markdownLines().compactMap { raw in
            let line = MacRomanRepair.repair(raw).0
                .replacingOccurrences(of: "- [x]", with: "- [ ]").replacingOccurrences(of: "- [X]", with: "- [ ]")
            let squeezed = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            if squeezed.isEmpty || squeezed.hasPrefix("Progress:") { return nil }
            return squeezed
        }
    }

    @Test func theSeedComesBackWithItsOwnSections() throws {
        let data = try markdownFixture("backend-development-studies.md")
        let seed = String(decoding: data, as: UTF8.self)
        let note = try importedSeed()
        #expect(note.plan.noteBefore == "## Overview\n## Investigation")
        #expect(note.plan.noteAfter?.hasPrefix("## Resources") == true)
        #expect(note.plan.noteAfter?.hasSuffix("## Tags\n#objective #cs-studies") == true)
        #expect(note.plan.noteAfter?.contains("- Decomposed from") == true)
        // Through the plan file, as `import` then `export` go.
        let yaml = PlanWriter.yaml(note.plan)
        let loaded = PlanLoader.load(text: yaml, file: "curriculum.yaml", knownLabs: [])
        let plan = try #require(loaded.plan, "\(loaded.diagnostics)")
        #expect(plan.noteBefore == note.plan.noteBefore)
        #expect(plan.noteAfter == note.plan.noteAfter)
        let ticked = Set(note.ticked.compactMap { plan.taskIndex[$0] })
        let exported = MarkdownExporter.export(plan: plan, isDone: { ticked.contains($0) }, obsidianTasks: false)
        let a = Self.normalized(seed), b = Self.normalized(exported)
        #expect(
            a == b,
            "first difference at line \(zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }.map { "\($0.offset): \($0.element.0) | \($0.element.1)" } ?? "end")"
        )
        #expect(exported.contains("## Tags\n#objective #cs-studies\n"))
        #expect(plan.phases.map { $0.ruleBefore } == [nil, false] + Array(repeating: nil, count: plan.phases.count - 2))
    }

    @Test func aRuleAbovePhaseOneOrNoneAboveALaterOneComesBack() throws {
        let note = """
            # Plan

            #### Phase 1: One
            - [ ] **First**

            #### Phase 2: Two
            - [ ] **Second**

            ---

            #### Phase 3: Three
            - [ ] **Third**
            """
        let imported = try NoteImporter.importNote(text: note, file: "plan.md")
        #expect(imported.plan.phases.map(\.ruleBefore) == [nil, false, nil])
        let yaml = PlanWriter.yaml(imported.plan)
        #expect(yaml.contains("rule-before: false"))
        let plan = try #require(PlanLoader.load(text: yaml, file: "plan.yaml", knownLabs: []).plan)
        let exported = MarkdownExporter.export(plan: plan, isDone: { _ in false }, obsidianTasks: false)
        #expect(exported.components(separatedBy: "\n---\n").count == 2, "\(exported)")
        #expect(exported.contains("---\n\n#### Phase 3: Three"))
        let bad = PlanLoader.load(text: yaml.replacingOccurrences(of: "rule-before: false", with: "rule-before: maybe"), file: "plan.yaml", knownLabs: [])
        #expect(bad.plan == nil)
        #expect(bad.diagnostics.contains { "\($0)".contains("`rule-before` takes true or false, not `maybe`") }, "\(bad.diagnostics)")
    }
}

@Suite struct ObsidianDoneDateTests {
    @Test func aDoneDateIsReadAndWritten() throws {
        let note = """
            # Plan

            #### Phase 1: One
            - [x] **First** ✅ 2026-11-30
            - [x] **Second**
            - [ ] **Third** 📅 2026-12-24
            """
        let imported = try NoteImporter.importNote(text: note, file: "plan.md")
        #expect(imported.ticked == ["first", "second"])
        #expect(imported.doneOn == ["first": Day(iso: "2026-11-30")!])
        #expect(imported.plan.tasks[0].title == "First")
        let plan = imported.plan
        let out = MarkdownExporter.export(
            plan: plan, isDone: { $0 < 2 }, obsidianTasks: true,
            doneOn: { $0 == 0 ? Day(iso: "2026-11-30") : nil })
        #expect(out.contains("- [x] **First** 🆔 first ✅ 2026-11-30"), "\(out)")
        #expect(out.contains("- [x] **Second** 🆔 second\n"))
        let again = try NoteImporter.importNote(text: out, file: "plan.md")
        #expect(again.doneOn == imported.doneOn)
    }
}
