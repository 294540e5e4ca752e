import Foundation

// Reads a learner's markdown study note (the seed's shape) into a plan:
//
//     # Backend Development Studies            → the plan's title (and id)
//     #### 🏗️ Phase 1: Building REST APIs       → a phase: number, icon, title
//     - [ ]  **Create a REST API in Kotlin**    → a task; [x] means ticked
//         - [ ] **Design the routes**           → a part of the task above
//
// Everything else (other sections, rules, tags, blank or whitespace-only lines) is skipped.
// Ids come from titles, so the same note always gives the same ids. The whole note is read
// before anything is built: the result is a complete plan or an error, never half of one.

/// Turns a markdown checklist note into a `Plan`.
public enum NoteImporter {
    /// Imports a note from its bytes, which must be UTF-8 (a byte-order mark is allowed).
    public static func importNote(data: Data, file: String) throws(NoteImportError) -> ImportedNote {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            var line = 1
            for chunk in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
                if String(validating: chunk, as: UTF8.self) == nil { break }
                line += 1
            }
            throw .notUTF8(file: file, line: line)
        }
        return try importNote(text: text, file: file)
    }

    /// Imports a note from its text. `file` names it in messages and becomes the plan's
    /// `generated-from`.
    public static func importNote(text: String, file: String) throws(NoteImportError) -> ImportedNote {
        var reader = NoteReader(file: file)
        try reader.read(text)
        return try reader.build()
    }
}
