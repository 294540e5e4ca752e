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
