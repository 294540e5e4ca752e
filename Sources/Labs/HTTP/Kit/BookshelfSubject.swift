import Foundation
import LabKit

/// Starts what a phase-1 lab judges: the reference bookshelf built with `configuration`
/// (its port from the subject runner), or the learner's server; and a client for it.
func startBookshelf(_ lab: LabContext, _ configuration: BookshelfConfiguration) async throws -> (ServiceUnderTest, BookshelfClient) {
    let service = try await lab.startService { env in
        var c = configuration
        c.port = env.port
        return try await BookshelfServer.start(c)
    }
    lab.step(
        "Started \(service.subject) at \(service.baseURL)",
        service.isReference && configuration.fault != .none ? "broken on purpose: \(configuration.fault.effect)" : nil)
    return (service, BookshelfClient(lab, baseURL: service.baseURL))
}

/// A lab's breaker knob: one choice among the faults that break its checks.
func breakerKnob(_ faults: [BookshelfFault]) -> Knob<String> {
    let help =
        "Breaks the reference on purpose so one check can be seen to fail: "
        + faults.map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + "."
    return Knob.choice("break", ["none"] + faults.map(\.rawValue), default: "none", help: help)
}
