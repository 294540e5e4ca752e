import LabCatalog

/// A lab's knob, declared once beside its `run` and read back typed:
///
///     static let workers = Knob.int("workers", 1...64, default: 4, quick: 2, help: "Worker threads.")
///     static let info = LabInfo(…, parameters: [workers.parameter], …)
///     …
///     let n = lab[Self.workers]          // an Int, already range-checked
///
/// The `LabParameter` it carries is what the catalogue, `lab show` and `--param`
/// validation see; the typed value is what the lab reads, so no lab spells a parameter's
/// name twice or parses a string.
public struct Knob<Value: Sendable>: Sendable {
    public let parameter: LabParameter
    private let parse: @Sendable (String) -> Value?
    private let fallback: Value
    private let quickFallback: Value

    public var name: String { parameter.name }

    init(_ parameter: LabParameter, default value: Value, quick: Value?, parse: @escaping @Sendable (String) -> Value?) {
        self.parameter = parameter; self.parse = parse
        fallback = value; quickFallback = quick ?? value
    }

    /// The value a run uses: the resolved one, else the declared default (quick or not).
    func value(from text: String?, quick: Bool) -> Value {
        text.flatMap(parse) ?? (quick ? quickFallback : fallback)
    }
}

extension Knob where Value == Int {
    public static func int(_ name: String, _ range: ClosedRange<Int>, default value: Int, quick: Int? = nil, help: String) -> Knob {
        Knob(
            LabParameter(
                name, .int(min: range.lowerBound, max: range.upperBound), default: String(value),
                quick: quick.map(String.init), help: help),
            default: value, quick: quick, parse: { Int($0) })
    }
}

extension Knob where Value == Double {
    public static func double(_ name: String, _ range: ClosedRange<Double>, default value: Double, quick: Double? = nil, help: String) -> Knob {
        Knob(
            LabParameter(
                name, .double(min: range.lowerBound, max: range.upperBound), default: Self.text(value),
                quick: quick.map(Self.text), help: help),
            default: value, quick: quick, parse: { Double($0) })
    }

    private static func text(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
}

extension Knob where Value == Bool {
    public static func bool(_ name: String, default value: Bool, quick: Bool? = nil, help: String) -> Knob {
        Knob(
            LabParameter(name, .bool, default: String(value), quick: quick.map(String.init), help: help),
            default: value, quick: quick, parse: { Bool($0) })
    }
}

extension Knob where Value == String {
    public static func choice(_ name: String, _ options: [String], default value: String, quick: String? = nil, help: String) -> Knob {
        Knob(
            LabParameter(name, .choice(options), default: value, quick: quick, help: help),
            default: value, quick: quick, parse: { options.contains($0) ? $0 : nil })
    }
}

extension Knob where Value == String {
    /// Free text (a file path): "" unless the learner gives one.
    public static func text(_ name: String, default value: String = "", help: String) -> Knob {
        Knob(LabParameter(name, .text, default: value, quick: nil, help: help), default: value, quick: nil, parse: { $0 })
    }
}

extension Knob where Value: RawRepresentable & CaseIterable & Sendable, Value.RawValue == String {
    /// A choice among an enum's cases, read back as the enum.
    public static func choice(_ name: String, default value: Value, quick: Value? = nil, help: String) -> Knob {
        Knob(
            LabParameter(
                name, .choice(Value.allCases.map(\.rawValue)), default: value.rawValue,
                quick: quick?.rawValue, help: help),
            default: value, quick: quick, parse: { Value(rawValue: $0) })
    }
}
