import Foundation  // for LocalizedError only; Yams links Foundation already.

/// Why a plan file could not be read at all. Problems inside a file that could be read
/// (bad YAML, invalid UTF-8, unknown keys …) are `Diagnostic`s instead: they carry a line
/// and column, and there can be many of them at once.
public enum PlanFileError: LocalizedError, Equatable, Sendable, CustomStringConvertible {
    /// Nothing exists at the path.
    case missing(String)
    /// The path exists but could not be opened or read; `reason` is the system's words.
    case unreadable(String, reason: String)
    /// The path names a folder, not a file.
    case isDirectory(String)

    /// The path the error is about.
    public var path: String {
        switch self {
        case let .missing(p), let .unreadable(p, _), let .isDirectory(p): return p
        }
    }

    /// One sentence a person can act on.
    public var description: String {
        switch self {
        case let .missing(p): return "there is no plan file at \(p)"
        case let .unreadable(p, reason): return "the plan file \(p) could not be read: \(reason)"
        case let .isDirectory(p): return "\(p) is a folder, not a plan file"
        }
    }

    /// Same as `description`, so `localizedDescription` is the sentence too.
    public var errorDescription: String? { description }
}
