// gRPC over TLS is the same HTTP/2 inside a TLS connection (ALPN "h2"). The server presents a
// certificate chain; the client accepts it only if it ends at a CA the client trusts, is valid
// now, and names the host the client asked for. A plaintext client speaks HTTP/2 straight into
// a TLS port and gets nowhere; a client without the CA refuses the server. This lab makes a CA
// and a certificate for localhost at run time (AuthLabs' LabPKI: swift-certificates and
// swift-crypto), serves the bookshelf over TLS with grpc-swift-2's Posix transport, and calls it
// with a trusting client, a plaintext client and an untrusting one; then it serves an expired
// certificate that even the trusting client must refuse.
// Against your own TLS server: `--url localhost:PORT --param ca=FILE` (your CA's PEM; the
// server's certificate must name localhost), or `--against 'CMD'`.
import AuthLabs
import Crypto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LabKit
import X509

struct GRPCTLSLab: Lab {
    static let breaker = Knob.choice(
        "break", ["none", "wrong-name", "no-tls", "untrusting-no-verify", "expired-still-valid"], default: "none",
        help:
            "Breaks the reference on purpose: wrong-name (the certificate names other.invalid, not localhost: the trusting client refuses it), no-tls (the server speaks plaintext: the TLS client fails and the plaintext one gets in), untrusting-no-verify (the untrusting client turns verification off and gets in), expired-still-valid (the \"expired\" certificate is issued still valid)."
    )
    static let ca = Knob.text(
        "ca", help: "Your CA's certificate (PEM file) for --url/--against: the trusting client trusts it. Ignored for the reference, which makes its own CA.")
    static let calls = Knob.int("calls", 1...200, default: 20, quick: 3, help: "Calls the trusting client makes over one TLS connection.")

    static let info = LabInfo(
        id: "grpc-tls", title: "gRPC over TLS with a CA made at run time", phase: 9,
        teaches:
            "A gRPC server behind TLS: a client that trusts the CA gets answers; a plaintext client and a client that does not trust the CA are refused; an expired certificate is refused even by the trusting client.",
        parameters: [breaker.parameter, ca.parameter, calls.parameter],
        subjects: [.url, .against],
        source: "Sources/Labs/GRPC/Phase09/GRPCTLS.swift")

    static func starter() -> [StarterFile] {
        GRPCStarter.files(
            info,
            task:
                "Serve the Bookshelf service of bookshelf.proto over TLS on 127.0.0.1:$PORT with a certificate for the name localhost, signed by a CA of your own (`openssl req -x509 …` for the CA, then a certificate with subjectAltName DNS:localhost). AddAuthor must answer.",
            checks: [
                (
                    "a client trusting the CA gets answers over TLS",
                    "AddAuthor answered over TLS by a client whose only trust root is your CA, asking for localhost"
                ),
                ("a plaintext client is refused", "a client speaking HTTP/2 without TLS gets no answer"),
                ("a client that does not trust the CA is refused", "a client with the system's trust roots only refuses your certificate"),
            ],
            extra: "    # with your CA: --param ca=./ca.pem  (the lab connects to localhost:PORT)\n")
    }

    func run(_ lab: LabContext) async throws {
        let reference = lab.subject.kind == .reference
        let fault = reference ? lab[Self.breaker] : "none"
        let caPEM: String
        let target: GRPCTarget
        var pki: LabPKI?
        if reference {
            let now = Date()
            let made = try LabPKI(now: now)
            pki = made
            let (cert, key) = try made.issue(
                from: now.addingTimeInterval(-60), until: now.addingTimeInterval(3600),
                host: fault == "wrong-name" ? "other.invalid" : "localhost")
            caPEM = try made.ca.serializeAsPEM().pemString
            lab.step(
                "Made a CA and a certificate for \(fault == "wrong-name" ? "other.invalid" : "localhost") signed by it",
                "P-256 keys, X.509 v3 (swift-certificates); the CA is trusted by nobody but the clients the lab gives it to")
            let security = try Self.serverTLS(cert, key)
            target = try await GRPCTarget.resolve(lab, security: fault == "no-tls" ? .plaintext : security)
        } else {
            let path = lab[Self.ca]
            guard !path.isEmpty else { throw SubjectFailure("grpc-tls against your server needs your CA: --param ca=FILE (its certificate, PEM)") }
            do { caPEM = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw SubjectFailure("--param ca=\(path): cannot read it (\(error.localizedDescription))")
            }
            target = try await GRPCTarget.resolve(lab)
        }
        if fault != "none" { lab.step("Broken on purpose: \(fault)") }
        // The name the clients ask for (SNI and the hostname check): localhost, resolved to 127.0.0.1.
        let host = target.host == "127.0.0.1" ? "localhost" : target.host
        let trusting = HTTP2ClientTransport.Posix.TransportSecurity.tls(configure: { config in
            config.trustRoots = .certificates([.bytes(Array(caPEM.utf8), format: .pem)])
        })
        let untrusting = HTTP2ClientTransport.Posix.TransportSecurity.tls(configure: { config in
            config.trustRoots = .systemDefault
            if fault == "untrusting-no-verify" { config.serverCertificateVerification = .noVerification }
        })

        let n = lab[Self.calls]
        let good = await Self.call(host: host, port: target.port, security: trusting, calls: n)
        lab.check(
            "a client trusting the CA gets answers over TLS", good.answered == n,
            expected: "\(n) of \(n) AddAuthor calls answered over TLS (trust root: the CA only; name asked: \(host))",
            observed: good.answered == n ? "\(n) answered" : "\(good.answered) answered; \(good.failure ?? "")")
        let plain = await Self.call(host: host, port: target.port, security: .plaintext, calls: 1)
        lab.check(
            "a plaintext client is refused", plain.answered == 0, expected: "no answer without TLS",
            observed: plain.answered == 0 ? "refused: \(plain.failure ?? "")" : "the plaintext client got an answer")
        let stranger = await Self.call(host: host, port: target.port, security: untrusting, calls: 1)
        lab.check(
            "a client that does not trust the CA is refused", stranger.answered == 0,
            expected: "no answer for a client whose trust roots are the system's",
            observed: stranger.answered == 0 ? "refused: \(stranger.failure ?? "")" : "it got an answer: the certificate was not verified")

        guard let pki else {
            lab.step("Skipped the expired-certificate check", "it needs the reference's own certificate; it runs without --url/--against")
            return
        }
        // A second server, same CA, with a certificate that ended an hour ago.
        let now = Date()
        let (old, oldKey) = try pki.issue(
            from: now.addingTimeInterval(-7200),
            until: now.addingTimeInterval(fault == "expired-still-valid" ? 3600 : -3600))
        let expired = try await GRPCReference.start(lab, service: BookshelfGRPCService(), security: try Self.serverTLS(old, oldKey))
        let late = await Self.call(host: "localhost", port: expired.port, security: trusting, calls: 1)
        lab.check(
            "an expired certificate is refused by the trusting client", late.answered == 0,
            expected: "no answer: the certificate's validity ended an hour ago",
            observed: late.answered == 0 ? "refused: \(late.failure ?? "")" : "it got an answer: the certificate was still valid")
    }

    static func serverTLS(_ cert: Certificate, _ key: P256.Signing.PrivateKey) throws -> HTTP2ServerTransport.Posix.TransportSecurity {
        .tls(
            certificateChain: [.bytes(Array(try cert.serializeAsPEM().pemString.utf8), format: .pem)],
            privateKey: .bytes(Array(key.pemRepresentation.utf8), format: .pem))
    }

    /// `calls` AddAuthor calls over one connection; how many were answered and the first failure.
    static func call(
        host: String, port: Int, security: HTTP2ClientTransport.Posix.TransportSecurity,
        calls: Int
    ) async -> (answered: Int, failure: String?) {
        do {
            return try await withBookshelfClient(host: host, port: port, security: security) { client in
                var answered = 0
                for i in 0..<calls {
                    do {
                        _ = try await client.addAuthor(.with { $0.name = "tls \(i)" }, options: callOptions(timeout: .seconds(3)))
                        answered += 1
                    } catch {
                        return (answered, rpcDescription(error))
                    }
                }
                return (answered, nil)
            }
        } catch {
            return (0, rpcDescription(error))
        }
    }
}
