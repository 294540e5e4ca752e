import Foundation
import Testing

@testable import CurriculumKit

// Notes of the seed's shape with the quirks the importer must tolerate, and every way a
// note can be refused.

private func importText(_ text: String, file: String = "note.md") throws -> ImportedNote {
    try NoteImporter.importNote(text: text, file: file)
}

/// The error a note is refused with, or nil when it is accepted.
private func refusal(_ text: String) -> NoteImportError? {
    do {
        _ = try NoteImporter.importNote(text: text, file: "bad.md")
        return nil
    } catch {
        return error
    }
}

@Suite("Markdown import of other notes")
struct MarkdownNoteImportTests {
    @Test func nestedItemsBecomePartsAtAnyIndentation() throws {
        let note = try importText(
            """
            # Projects

            ## 🚀 Phase 1: Capstones
            - [ ] **Knowledge API**
                - [x] **Auth**
                - [ ] **Search**
            \t- [X] **Versioned content**
            \t\t- [ ] **Diffs between versions**
              - [ ] Two-space child
            - [ ] **Trading engine**
             - [ ] One space is a sibling
            """)
        let plan = note.plan
        let titles = plan.tasks.map(\.title)
        #expect(
            titles == [
                "Knowledge API", "Auth", "Search", "Versioned content", "Diffs between versions",
                "Two-space child", "Trading engine", "One space is a sibling",
            ])
        let parentTitle = plan.tasks.map { t in t.decomposedFrom.flatMap { id in plan.tasks.first { $0.id == id }?.title } }
        #expect(
            parentTitle == [
                nil, "Knowledge API", "Knowledge API", "Knowledge API", "Versioned content",
                "Knowledge API", nil, nil,
            ])
        #expect(plan.parts[0] == [1, 2, 3, 5])
        #expect(plan.parent[4] == 3)
        #expect(note.ticked == [plan.tasks[1].id, plan.tasks[3].id])
        #expect(plan.phases[0].icon == "🚀")
        #expect(plan.tasks.map(\.position) == Array(1...8))
    }

    @Test func irregularSpacingTabsBlankLinesAndRulesAreTolerated() throws {
        let note = try importText(
            """
            ---
            tags: [study]
            aliases:
              - backend
            ---
            # My  Plan
            \("   ")
            ####   Phase 2 :   Databases   ##
            \t
            -   [ ]    **Model   real-world schemas**\("  ")
            \("    ")
            * [ ] Plain, *emphasis* and `code  spans` kept
            ---
            1. [ ] Ordered item
            2) [x] Another ordered item
            + [ ] **Bold** in **two** places
            """)
        let plan = note.plan
        #expect(plan.title == "My Plan")
        #expect(plan.id == "my-plan")
        #expect(plan.frontMatter == "tags: [study]\naliases:\n  - backend")
        #expect(plan.phases.map(\.number) == [2])
        #expect(plan.phases[0].icon == nil)
        #expect(plan.phases[0].title == "Databases")
        #expect(
            plan.tasks.map(\.title) == [
                "Model real-world schemas", "Plain, *emphasis* and `code  spans` kept",
                "Ordered item", "Another ordered item", "Bold in two places",
            ])
        #expect(note.ticked == [plan.tasks[3].id])
    }

    @Test func crlfLineEndingsAndAByteOrderMark() throws {
        let text = "\u{FEFF}# T\r\n\r\n## Phase 1: One\r\n- [ ] **A**\r\n    - [x] **B**\r\n"
        let note = try NoteImporter.importNote(data: Data(text.utf8), file: "dir/crlf.md")
        #expect(note.plan.title == "T")
        #expect(note.plan.tasks.map(\.title) == ["A", "B"])
        #expect(note.plan.tasks[1].decomposedFrom == note.plan.tasks[0].id)
        #expect(note.plan.generatedFrom == "crlf.md")
        #expect(note.ticked == [note.plan.tasks[1].id])
    }

    @Test func otherSectionsAndCodeBlocksAreNotTasks() throws {
        let note = try importText(
            """
            # Plan
            ## Overview
            - [ ] **Not a task: before any phase**
            ### Phase 1: Real
            ```
            - [ ] inside a code block
            #### Phase 9: also inside
            ```
            - [ ] **Real task**
            ## Resources
            - [ ] **Not a task: in Resources**
            ## Tags
            #objective #cs-studies
            """)
        #expect(note.plan.phases.count == 1)
        #expect(note.plan.tasks.map(\.title) == ["Real task"])
        let skipped = note.warnings.filter { $0.message.contains("outside any phase") }.compactMap { $0.location?.line }
        #expect(skipped == [3, 11])
    }

    @Test func mangledTextIsRepairedAndRealTextIsNot() throws {
        // Mangled forms computed from the UTF-8 bytes through the Mac Roman table:
        // 🧵 F0 9F A7 B5 → "\u{F8FF}üßµ", é C3 A9 → "√©", ’ E2 80 99 → "‚Äô".
        let note = try importText(
            """
            # Caf√© notes
            #### \u{F8FF}üßµ Phase 1: Caf√©‚Äôs threads
            - [ ] **Mixed: \u{F8FF}üèóÔ∏è and 🏗️ side by side ‚Üí done**
            - [ ] **Accents: café, naïve, Grüße, señor, Ærø, «Ça va», 5 €**
            - [ ] **Symbols: ≤ ≥ ∞ π Ω ∆ fi ◊ † ‡**
            """)
        let plan = note.plan
        #expect(plan.title == "Café notes")
        #expect(plan.phases[0].icon == "🧵")
        #expect(plan.phases[0].title == "Café’s threads")
        #expect(plan.tasks[0].title == "Mixed: \u{1F3D7}\u{FE0F} and \u{1F3D7}\u{FE0F} side by side → done")
        #expect(plan.tasks[1].title == "Accents: café, naïve, Grüße, señor, Ærø, «Ça va», 5 €")
        #expect(plan.tasks[2].title == "Symbols: ≤ ≥ ∞ π Ω ∆ fi ◊ † ‡")
        #expect(note.warnings.contains { $0.message.contains("Mac Roman") && $0.location?.line == 1 })
    }

    @Test func correctlyEncodedEmojiAreLeftAlone() throws {
        let text = "# Plan\n## 🏗️ Phase 1: Caf\u{E9} & na\u{EF}ve\n- [ ] **🧵 threads ⚙️ gears 🗃️ café**\n"
        let note = try importText(text)
        #expect(note.plan.phases[0].icon == "\u{1F3D7}\u{FE0F}")
        #expect(note.plan.phases[0].title == "Caf\u{E9} & na\u{EF}ve")
        #expect(note.plan.tasks[0].title == "🧵 threads ⚙️ gears 🗃️ café")
        #expect(!note.warnings.contains { $0.message.contains("Mac Roman") })
    }

    @Test func obsidianTasksFieldsAreReadAndStripped() throws {
        let note = try importText(
            """
            # Plan
            ## Phase 1: Auth
            - [ ] **Set up the database** 🆔 db-setup 📅 2026-12-01
            - [ ] **Implement JWT** #security ⛔ db-setup 📅 2026-12-20 🆔 JWT_Auth ⏳ 2026-12-10
            - [x] **Refresh tokens** ⛔ jwt-auth, db-setup ✅ 2026-12-24 🔼
            - [ ] **A 📅 mid-title emoji stays** 📅 2026-02-30
            - [ ] **Unknown dependency** ⛔ nowhere
            """)
        let plan = note.plan
        #expect(
            plan.tasks.map(\.title) == [
                "Set up the database", "Implement JWT #security", "Refresh tokens",
                "A 📅 mid-title emoji stays", "Unknown dependency",
            ])
        #expect(plan.tasks[0].id == "db-setup")
        #expect(plan.tasks[1].id == "jwt-auth")
        #expect(plan.tasks[0].due == Day(year: 2026, month: 12, day: 1))
        #expect(plan.tasks[1].due == Day(year: 2026, month: 12, day: 20))
        #expect(plan.tasks[1].requires == ["db-setup"])
        #expect(plan.tasks[2].requires == ["jwt-auth", "db-setup"])
        #expect(plan.tasks[2].due == nil)
        #expect(plan.tasks[3].due == nil)
        #expect(plan.tasks[4].requires.isEmpty)
        #expect(plan.requires[2] == [0, 1])
        #expect(note.ticked == ["refresh-tokens"])
        #expect(note.warnings.contains { $0.message.contains("2026-02-30") && $0.location?.line == 6 })
        #expect(note.warnings.contains { $0.message.contains("nowhere") && $0.location?.line == 7 })
        #expect(note.warnings.contains { $0.message.contains("JWT_Auth") })
    }

    @Test func derivedIdsAreShortUniqueAndIgnoreAsides() throws {
        let note = try importText(
            """
            # Study Plan (2026 edition)
            ## Phase 1: The Basics
            - [ ] **Use DTOs for communication**
            - [ ] **Use DTOs for communication**
            - [ ] **Use DTOs for communication**
            - [ ] **Write a REST API in C++ using `cpp-httplib` or `crowcpp`**
            - [ ] **(only an aside)**
            - [ ] **🚀 🚀**
            - [ ] **Über-naïve café setup in C#**
            - [ ] **Basics**
            ## Phase 2: Basics
            - [ ] **the**
            """)
        let ids = note.plan.tasks.map(\.id)
        #expect(
            ids == [
                "dtos-communication", "dtos-communication-2", "dtos-communication-3",
                "rest-api-cpp-cpp-httplib", "only-aside", "task", "uber-naive-cafe-setup-csharp",
                "basics-3", "the",
            ])
        #expect(note.plan.phases.map(\.id) == ["basics", "basics-2"])
        #expect(note.plan.id == "study-plan-2026-edition")
    }

    @Test func notesUnderTasksAndPhasesAreKept() throws {
        let note = try importText(
            """
            # Plan
            ## Phase 1: One
            Start with the docs.
            Then practise.
            - [ ] **Task A**
                See chapter 3.
                Progress: 3/4 chapters read
                \\- [ ] not a part
                - a plain bullet
            - [ ] **Task B**
            loose text
            """)
        #expect(note.plan.phases[0].notes == "Start with the docs.\nThen practise.")
        #expect(note.plan.tasks.map(\.title) == ["Task A", "Task B"])
        #expect(note.plan.tasks[0].notes == "See chapter 3.\nProgress: 3/4 chapters read\n- [ ] not a part\n- a plain bullet")
        #expect(note.plan.tasks[1].notes == nil)
        #expect(note.warnings.contains { $0.location?.line == 11 })
    }

    @Test func aLeadingRuleIsNotFrontMatter() throws {
        let note = try importText("---\n# Plan\n## Phase 1: One\n- [ ] **A**\n---\n## Phase 2: Two\n- [ ] **B**\n")
        #expect(note.plan.frontMatter == nil)
        #expect(note.plan.title == "Plan")
        #expect(note.plan.tasks.map(\.title) == ["A", "B"])
    }

    @Test func aNoteWithoutATitleIsNamedAfterItsFile() throws {
        let note = try importText("## Phase 1: One\n- [ ] **A**\n", file: "/tmp/x/My_Studies.md")
        #expect(note.plan.title == "My_Studies")
        #expect(note.plan.id == "my-studies")
        #expect(note.warnings.contains { $0.message.contains("no `# Title`") })
    }

    // MARK: refusals

    @Test func bytesThatAreNotUTF8AreRefusedWithTheirLine() throws {
        var bytes = Array("# Plan\n## Phase 1: One\n- [ ] **Caf".utf8)
        bytes += [0xE9]  // Latin-1 é
        bytes += Array("**\n".utf8)
        #expect(throws: NoteImportError.notUTF8(file: "latin1.md", line: 3)) {
            try NoteImporter.importNote(data: Data(bytes), file: "latin1.md")
        }
        let message = NoteImportError.notUTF8(file: "latin1.md", line: 3).description
        #expect(message.hasPrefix("latin1.md:3: "))
        #expect(message.contains("UTF-8"))
    }

    @Test(arguments: ["", "   \n\t\n  ", "---\ntitle: x\n---\n\n"])
    func emptyNotesAreRefused(text: String) {
        #expect(refusal(text) == .empty(file: "bad.md"))
    }

    @Test func aNoteWithoutPhaseHeadingsIsRefused() {
        let error = refusal("# Plan\n## Overview\n- [ ] **A task**\n#### Phasing out: no number\n## Phase one: words\n")
        #expect(error == .noPhases(file: "bad.md"))
        #expect(error?.description.contains("no phase headings") == true)
    }

    @Test func phasesWithoutCheckboxesAreRefused() {
        let error = refusal("# Plan\n- [ ] **before**\n\n## Phase 1: Empty\n- not a checkbox\n## Phase 2: Also empty\n")
        #expect(error == .noTasks(file: "bad.md", line: 4))
        #expect(error?.description.hasPrefix("bad.md:4: ") == true)
    }

    @Test func everyErrorIsOneSentence() {
        let errors: [NoteImportError] = [
            .notUTF8(file: "f", line: 2), .empty(file: "f"), .noPhases(file: "f"),
            .noTasks(file: "f", line: 3),
        ]
        for error in errors {
            let text = error.description
            #expect(text.hasSuffix("."))
            #expect(!text.contains("\n"))
            #expect(error.errorDescription == text)
        }
    }
}
