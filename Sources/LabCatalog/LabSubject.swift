/// What a lab run judges (DESIGN.md §4, "Your own work: exercise mode"): the package's own
/// reference implementation, or the learner's work given as a running server, a command that
/// starts one, a source file or folder, or a file of answers.
public struct LabSubject: Codable, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Codable, Hashable, Sendable, CaseIterable {
        /// The package's own implementation: proves the checks right and shows one solution.
        case reference
        /// `--url URL`: a server the learner already runs.
        case url
        /// `--against 'CMD'`: the lab starts the learner's server with `sh -c CMD`.
        case against
        /// `--source PATH`: the learner's source, compiled with the lab's harness.
        case source
        /// `--answers FILE`: the learner's answers (SQL), graded on the lab's data.
        case answers

        /// The flag that names a subject of this kind (nil for the reference).
        public var flag: String? { self == .reference ? nil : "--\(rawValue)" }

        /// How the flag's value reads in help and errors.
        public var placeholder: String {
            switch self {
            case .reference: return ""
            case .url: return "--url URL"
            case .against: return "--against 'CMD'"
            case .source: return "--source PATH"
            case .answers: return "--answers FILE"
            }
        }
    }

    public var kind: Kind
    /// The URL, command, path or file; nil for the reference.
    public var value: String?

    public init(_ kind: Kind, _ value: String? = nil) {
        self.kind = kind
        self.value = kind == .reference ? nil : value
    }

    public static let reference = LabSubject(.reference)

    /// The learner's own work (anything but the reference).
    public var isOwnWork: Bool { kind != .reference }

    public var description: String {
        guard let value else { return "the reference implementation" }
        switch kind {
        case .reference: return "the reference implementation"
        case .url: return "your server at \(value)"
        case .against: return "your server started with `\(value)`"
        case .source: return "your source \(value)"
        case .answers: return "your answers in \(value)"
        }
    }

    /// The flag and value as they were typed (`--url http://…`), nil for the reference.
    public var arguments: [String] {
        guard let flag = kind.flag, let value else { return [] }
        return [flag, value]
    }
}

extension LabInfo {
    /// A sentence naming the subjects this lab accepts, for `lab show` and usage errors.
    public var subjectsSentence: String {
        guard !subjects.isEmpty else { return "its reference implementation only" }
        return "the reference, or your own work with " + subjects.map(\.placeholder).joined(separator: " or ")
    }

    /// nil when the lab accepts `subject`, else the sentence for a usage error.
    public func refusal(of subject: LabSubject) -> String? {
        guard subject.isOwnWork, !subjects.contains(subject.kind) else { return nil }
        return "lab \(id) does not take \(subject.kind.flag ?? ""); it accepts " + subjectsSentence
    }
}
