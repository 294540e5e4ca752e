import Foundation
// TEMPORARY: compile-time stand-ins until the loader branch lands (deleted at merge).
public enum PlanFileError: Error, Sendable, CustomStringConvertible {
    case missing(String)
    public var description: String { "no plan file at \(String(describing: self))" }
}
extension PlanLoader {
    public static func load(path: String, knownLabs: Set<String>) throws(PlanFileError) -> PlanLoadResult {
        throw .missing(path)
    }
}
public enum BuiltInPlan { public static let text = "" }
public enum MarkdownExporter {
    public static func export(plan: Plan, isDone: (Int) -> Bool, obsidianTasks: Bool, today: Day? = nil) -> String { "" }
}
public struct ImportedNote { public var plan: Plan; public var ticked: [String]; public var warnings: [Diagnostic] }
public enum NoteImportError: Error, CustomStringConvertible { case empty; public var description: String { "" } }
public enum NoteImporter {
    public static func importNote(data: Data, file: String) throws(NoteImportError) -> ImportedNote { throw .empty }
}
public enum PlanWriter { public static func yaml(_ plan: Plan) -> String { "" } }
