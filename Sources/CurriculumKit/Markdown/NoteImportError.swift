import Foundation

/// Why a note could not be turned into a plan. Each prints as one sentence that names the
/// file (and the line, where there is one) and says what to do.
public enum NoteImportError: Error, Hashable, Sendable, CustomStringConvertible, LocalizedError {
    /// The bytes are not UTF-8; `line` is the line holding the first bad byte.
    case notUTF8(file: String, line: Int)
    /// The note holds nothing but whitespace (front matter aside).
    case empty(file: String)
    /// No heading of the form `Phase N: Title`.
    case noPhases(file: String)
    /// Phase headings, but no checkbox item under any of them; `line` is the first phase's.
    case noTasks(file: String, line: Int)

    public var description: String {
        switch self {
        case let .notUTF8(file, line):
            return "\(file):\(line): the note is not UTF-8 text (the first bad byte is on this line); save it as UTF-8 and import it again."
        case let .empty(file):
            return "\(file): the note is empty, so there is no plan to import."
        case let .noPhases(file):
            return "\(file): the note has no phase headings; write each phase as a heading such as `#### 🏗️ Phase 1: Title`."
        case let .noTasks(file, line):
            return "\(file):\(line): no phase holds a checkbox item; list each task under its phase heading as `- [ ] Title`."
        }
    }

    public var errorDescription: String? { description }
}
