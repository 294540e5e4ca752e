import Foundation
import LabKit
import Synchronization

/// What a phase-3 lab judges: the reference bookshelf with phase 3 added (its port from
/// the subject runner; `auth` is its inside, nil for a learner's server), or the learner's
/// server; and a client for it.
struct AuthSubject: Sendable {
    let service: ServiceUnderTest
    let api: AuthClient
    let auth: AuthExtension?
    var isReference: Bool { service.isReference }
}

/// `clock`: the reference's clock, when a lab drives one of its own (a manual clock it
/// advances to show expiry or refill without waiting); else the run's.
func startAuthBookshelf(
    _ lab: LabContext, _ options: AuthOptions, algorithm: TokenAlgorithm = .hs256,
    clock: LabClock? = nil
) async throws -> AuthSubject {
    let inside = Mutex<AuthExtension?>(nil)
    let service = try await lab.startService { env in
        let (running, auth) = try await startAuthReference(lab, options, algorithm: algorithm, port: env.port, clock: clock)
        inside.withLock { $0 = auth }
        return running
    }
    lab.step(
        "Started \(service.subject) at \(service.baseURL)",
        service.isReference && options.fault != .none ? "broken on purpose: \(options.fault.effect)" : nil)
    return AuthSubject(service: service, api: AuthClient(lab, baseURL: service.baseURL), auth: inside.withLock { $0 })
}
