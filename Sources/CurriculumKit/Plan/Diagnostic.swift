/// One problem found in a plan file (or a note being imported): where, how bad, and a
/// sentence a person can act on.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable, Codable { case error, warning }

    public var severity: Severity
    public var location: SourceLocation?
    /// One plain sentence, with a "did you mean" suggestion folded in where there is one.
    public var message: String

    public init(_ severity: Severity, _ message: String, at location: SourceLocation?) {
        self.severity = severity; self.message = message; self.location = location
    }

    public static func error(_ message: String, at location: SourceLocation?) -> Diagnostic {
        Diagnostic(.error, message, at: location)
    }

    public static func warning(_ message: String, at location: SourceLocation?) -> Diagnostic {
        Diagnostic(.warning, message, at: location)
    }

    /// `file:line:column: error: message`, the shape compilers and editors understand.
    public var description: String {
        (location.map { "\($0): " } ?? "") + "\(severity.rawValue): \(message)"
    }
}

/// The result of reading a plan: the plan when it has no errors, and every diagnostic.
public struct PlanLoadResult: Sendable {
    public var plan: Plan?
    public var diagnostics: [Diagnostic]
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }

    public init(plan: Plan?, diagnostics: [Diagnostic]) {
        self.plan = plan; self.diagnostics = diagnostics
    }
}
