// What the phase-9 labs' clients talk to: the reference gRPC bookshelf (started here), or the
// learner's own server in any language (`--url host:port`, or `--against 'CMD'` with PORT),
// found through the kit's subject runner with a TCP probe (a gRPC server speaks HTTP/2 only).
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LabKit

typealias BookshelfClient = BookshelfRPC.Client<HTTP2ClientTransport.Posix>

struct GRPCTarget: Sendable {
    let host: String
    let port: Int
    /// The lab's own server; nil for the learner's.
    let reference: GRPCReference?

    var isReference: Bool { reference != nil }
    var address: String { "\(host):\(port)" }
    var who: String { isReference ? "the Swift server" : "your server" }

    /// The reference (with `faults`, over `security`), or the learner's server.
    static func resolve(
        _ lab: LabContext, faults: GRPCFaults = GRPCFaults(),
        security: HTTP2ServerTransport.Posix.TransportSecurity = .plaintext
    ) async throws -> GRPCTarget {
        switch lab.subject.kind {
        case .url, .against:
            let service = try await lab.startService(probePath: nil) { _ in throw LabError("the reference is started in-process") }
            guard let parts = URLComponents(string: service.baseURL), let host = parts.host, let port = parts.port else {
                throw SubjectFailure("--url \(service.baseURL) has no host:port")
            }
            return GRPCTarget(host: host, port: port, reference: nil)
        default:
            let reference = try await GRPCReference.start(lab, service: BookshelfGRPCService(faults: faults), security: security)
            lab.step(
                "Started the Swift gRPC bookshelf on 127.0.0.1:\(reference.port)",
                "grpc-swift-2's GRPCServer on HTTP2ServerTransport.Posix, serving the generated Bookshelf service")
            return GRPCTarget(host: "127.0.0.1", port: reference.port, reference: reference)
        }
    }
}

/// Call options every lab client uses: a deadline (by default the run's `AnswerLimit`, 5 s
/// for your server), so a server that never answers fails a check instead of hanging the lab.
func callOptions(timeout: Duration = AnswerLimit.current) -> CallOptions {
    var options = CallOptions.defaults
    options.timeout = timeout
    return options
}

/// Runs `body` with a generated client connected to host:port (plaintext unless told),
/// and closes the connection after it.
func withBookshelfClient<T: Sendable>(
    host: String, port: Int,
    security: HTTP2ClientTransport.Posix.TransportSecurity = .plaintext,
    _ body: (BookshelfClient) async throws -> T
) async throws -> T {
    let target: any ResolvableTarget =
        host.contains(where: \.isLetter)
        ? ResolvableTargets.DNS(host: host, port: port) : ResolvableTargets.IPv4(addresses: [.init(host: host, port: port)])
    var config = HTTP2ClientTransport.Posix.Config.defaults
    // Fail fast when nothing (or nothing acceptable) answers: the refusal checks wait for this.
    config.connection.maxIdleTime = nil
    config.backoff.initial = .milliseconds(100)
    config.backoff.max = .milliseconds(500)
    return try await withGRPCClient(transport: try .http2NIOPosix(target: target, transportSecurity: security, config: config)) { client in
        try await body(BookshelfRPC.Client(wrapping: client))
    }
}

/// "NOT_FOUND (5): no book 7" for a report; the error's own words for anything else.
func rpcDescription(_ error: any Error) -> String {
    if let rpc = error as? RPCError { return "\(rpc.code) (\(rpc.code.rawValue)): \(rpc.message)" }
    return "\(error)"
}

/// The numeric gRPC status of an error (0 for none; 2, UNKNOWN, for a non-RPC error).
func statusCode(_ error: (any Error)?) -> Int {
    guard let error else { return 0 }
    return (error as? RPCError)?.code.rawValue ?? 2
}
