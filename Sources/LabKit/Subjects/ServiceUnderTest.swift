// Interim: replaced by the subject runner from branch subjects at merge
//
// The minimal reference-only form of the subject runner's API: the reference is started
// by the lab's closure and stopped by the run's clean-up; `--url` is taken as given (no
// probing). `--against` belongs to the real runner and is refused here.
import Foundation
import LabCatalog

/// What a started service is given: its port (0: any free one) and, where the lab
/// provides one, a database URL.
public struct ServiceEnvironment: Sendable {
    public var port: Int
    public var databaseURL: String?
    public init(port: Int, databaseURL: String? = nil) { self.port = port; self.databaseURL = databaseURL }
}

/// A reference service the lab started: the port it listens on and how to stop it.
public struct RunningReference: Sendable {
    public var port: Int
    public var stop: @Sendable () async -> Void
    public init(port: Int, stop: @escaping @Sendable () async -> Void) { self.port = port; self.stop = stop }
}

/// The service a lab's checks speak to.
public final class ServiceUnderTest: Sendable {
    public let baseURL: String
    public let subject: LabSubject
    public var isReference: Bool { subject.kind == .reference }

    init(baseURL: String, subject: LabSubject) { self.baseURL = baseURL; self.subject = subject }

    /// The tail of the learner's server output (`--against`); none in this interim runner.
    public func outputTail(lines: Int = 20) -> String? { nil }
    /// How the learner's server ended, if it did (`--against`); none in this interim runner.
    public var exitDescription: String? { nil }
}

extension LabContext {
    public func startService(
        probePath: String = "/health",
        databaseURL: String? = nil,
        startTimeout: Duration = .seconds(20),
        reference: @escaping @Sendable (ServiceEnvironment) async throws -> RunningReference
    ) async throws -> ServiceUnderTest {
        switch subject.kind {
        case .reference:
            let running = try await reference(ServiceEnvironment(port: 0, databaseURL: databaseURL))
            onCleanup { await running.stop() }
            return ServiceUnderTest(baseURL: "http://127.0.0.1:\(running.port)", subject: subject)
        case .url:
            guard let value = subject.value, !value.isEmpty else { throw LabError("--url needs a URL") }
            let base = value.hasSuffix("/") ? String(value.dropLast()) : value
            return ServiceUnderTest(baseURL: base, subject: subject)
        default:
            throw LabError("\(subject.kind.placeholder) is not supported by this build's subject runner yet; use --url")
        }
    }
}
