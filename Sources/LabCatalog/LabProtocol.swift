import Foundation

/// The protocol between `curriculum` and `curriculum-labs`.
///
/// The tracker starts `curriculum-labs` with one of:
///   - `curriculum-labs catalog`: prints the catalogue as one JSON array of `LabInfo`;
///   - `curriculum-labs run LAB [--quick] [--param k=v]…`: runs one lab and writes JSON
///     lines on stdout, one `LabEvent` each: `step`, `figure`, `check` as they happen,
///     then exactly one `report` (the whole `LabReport`). Exit status 0 on a pass, 1 on a
///     failure, 69 when the lab is unavailable, 64 on a usage error.
/// Anything a lab prints for a person goes to stderr; stdout carries only events.
public enum LabEvent: Codable, Sendable, Equatable {
    case step(LabReport.Step)
    case figure(LabReport.Figure)
    case check(LabReport.Check)
    case report(LabReport)

    private enum CodingKeys: String, CodingKey { case event, step, figure, check, report }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .event) {
        case "step": self = .step(try c.decode(LabReport.Step.self, forKey: .step))
        case "figure": self = .figure(try c.decode(LabReport.Figure.self, forKey: .figure))
        case "check": self = .check(try c.decode(LabReport.Check.self, forKey: .check))
        case "report": self = .report(try c.decode(LabReport.self, forKey: .report))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .event, in: c, debugDescription: "unknown event \(other)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case let .step(s): try c.encode("step", forKey: .event); try c.encode(s, forKey: .step)
        case let .figure(f): try c.encode("figure", forKey: .event); try c.encode(f, forKey: .figure)
        case let .check(k): try c.encode("check", forKey: .event); try c.encode(k, forKey: .check)
        case let .report(r): try c.encode("report", forKey: .event); try c.encode(r, forKey: .report)
        }
    }

    /// One line of the protocol, without the newline.
    public func line() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? enc.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    public static func parse(line: some StringProtocol) -> LabEvent? {
        try? JSONDecoder().decode(LabEvent.self, from: Data(line.utf8))
    }
}

public enum LabExit {
    public static let passed: Int32 = 0
    public static let failed: Int32 = 1
    public static let usage: Int32 = 64
    public static let unavailable: Int32 = 69
    public static let interrupted: Int32 = 130
}

/// Servers the tracker starts once for several labs of one `lab run`, handed to each lab
/// through the environment.
public enum LabSharedServer {
    /// A RabbitMQ broker (`curriculum-labs hold-rabbitmq`), as the JSON line it printed.
    public static let rabbitmqVariable = "CURRICULUM_LAB_RABBITMQ"
}
