// What the tracker and the validator know about a lab without linking its code: id,
// title, the tasks it serves, what it teaches, its knobs and what it needs installed.
// Each lab declares its own `LabInfo` in its file; scripts/generate-labs.sh copies every
// declaration into LabCatalog+Generated.swift for the tracker, and a test holds the copy
// to the declarations.

/// One knob of a lab, turned with `--param name=value`.
public struct LabParameter: Codable, Hashable, Sendable {
    public enum Kind: Codable, Hashable, Sendable {
        case int(min: Int, max: Int)
        case double(min: Double, max: Double)
        case choice([String])
        case bool
        /// Free text, such as a file path (`--param ca=FILE`); "" when not given.
        case text
    }

    public var name: String
    public var help: String
    public var kind: Kind
    /// The value used when the learner does not set one.
    public var defaultValue: String
    /// The value used with `--quick`, when it differs from the default.
    public var quickValue: String?

    public init(_ name: String, _ kind: Kind, default defaultValue: String, quick: String? = nil, help: String) {
        self.name = name; self.kind = kind; self.defaultValue = defaultValue
        self.quickValue = quick; self.help = help
    }

    /// Checks a value a learner typed; returns a sentence saying what is allowed when it is not.
    public func validate(_ value: String) -> String? {
        switch kind {
        case let .int(lo, hi):
            guard let v = Int(value), (lo...hi).contains(v) else {
                return "\(name) takes a whole number from \(lo) to \(hi)"
            }
        case let .double(lo, hi):
            guard let v = Double(value), v.isFinite, v >= lo, v <= hi else {
                return "\(name) takes a number from \(lo) to \(hi)"
            }
        case let .choice(options):
            guard options.contains(value) else {
                return "\(name) takes one of: \(options.joined(separator: ", "))"
            }
        case .bool:
            guard ["true", "false"].contains(value) else { return "\(name) takes true or false" }
        case .text:
            guard !value.contains(where: \.isNewline) else { return "\(name) takes one line of text" }
        }
        return nil
    }

    /// How the allowed values read in `lab show`.
    public var allowed: String {
        switch kind {
        case let .int(lo, hi): return "\(lo)…\(hi)"
        case let .double(lo, hi): return "\(lo)…\(hi)"
        case let .choice(options): return options.joined(separator: "|")
        case .bool: return "true|false"
        case .text: return "any text"
        }
    }
}

/// Something a lab needs on the machine: a program, and the Debian package that has it.
public struct LabNeed: Codable, Hashable, Sendable {
    /// What the learner would call it ("PostgreSQL", "g++").
    public var name: String
    /// Program names looked up on PATH (or in known folders, by the kit); all are needed. An
    /// entry may name alternatives, `g++|clang++`, any one of which is enough.
    public var programs: [String]
    /// The Debian package(s) to install.
    public var packages: [String]

    public init(_ name: String, programs: [String], packages: [String]) {
        self.name = name; self.programs = programs; self.packages = packages
    }

    public var installCommand: String { "apt-get install -y " + packages.joined(separator: " ") }

    public static let postgres = LabNeed("PostgreSQL", programs: ["initdb", "pg_ctl", "postgres"], packages: ["postgresql"])
    public static let redis = LabNeed("Redis", programs: ["redis-server"], packages: ["redis-server"])
    public static let rabbitmq = LabNeed("RabbitMQ", programs: ["rabbitmq-server"], packages: ["rabbitmq-server"])
    public static let cxx = LabNeed("a C++17 compiler", programs: [ProgramFinder.cxx], packages: ["g++"])
}

public struct LabInfo: Codable, Hashable, Sendable {
    public var id: String
    public var title: String
    public var phase: Int
    /// The plan tasks this lab serves (usually one, with the lab's own id).
    public var tasks: [String]
    /// One or two sentences: what the learner sees happen and why it matters.
    public var teaches: String
    public var parameters: [LabParameter]
    public var needs: [LabNeed]
    /// The learner's subjects the lab accepts besides its reference (`--url`, `--against`,
    /// `--source`, `--answers`); empty when it judges the reference only.
    public var subjects: [LabSubject.Kind]
    /// Path of the lab's source, relative to the package root.
    public var source: String

    public init(
        id: String, title: String, phase: Int, tasks: [String]? = nil, teaches: String,
        parameters: [LabParameter] = [], needs: [LabNeed] = [], subjects: [LabSubject.Kind] = [],
        source: String
    ) {
        self.id = id; self.title = title; self.phase = phase; self.tasks = tasks ?? [id]
        self.teaches = teaches; self.parameters = parameters; self.needs = needs
        self.subjects = subjects.filter { $0 != .reference }; self.source = source
    }

    public func parameter(_ name: String) -> LabParameter? { parameters.first { $0.name == name } }
}

/// A `--param` the lab does not have, or a value out of its range.
public struct LabParameterError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension LabInfo {
    /// Every parameter's value for a run: the learner's where given, else the quick value
    /// under `--quick`, else the default. Unknown names and bad values are refused with a
    /// sentence that lists what is allowed.
    public func resolve(parameters given: [String: String], quick: Bool) throws(LabParameterError) -> [String: String] {
        var values: [String: String] = [:]
        for p in parameters { values[p.name] = quick ? (p.quickValue ?? p.defaultValue) : p.defaultValue }
        for (name, value) in given.sorted(by: { $0.key < $1.key }) {
            guard let p = parameter(name) else {
                let known = parameters.map(\.name)
                // Knob names are kebab-case; the old snake_case spellings are refused with the new one.
                let kebab = String(name.map { $0 == "_" ? "-" : $0 })
                if kebab != name, parameter(kebab) != nil {
                    throw LabParameterError("lab \(id) has no parameter \(name); knob names are kebab-case: use --param \(kebab)=\(value)")
                }
                throw LabParameterError(
                    known.isEmpty
                        ? "lab \(id) has no parameters, so --param \(name) cannot be set"
                        : "lab \(id) has no parameter \(name); its parameters are: \(known.joined(separator: ", "))")
            }
            if let problem = p.validate(value) { throw LabParameterError("--param \(name)=\(value): \(problem)") }
            values[name] = value
        }
        return values
    }
}
