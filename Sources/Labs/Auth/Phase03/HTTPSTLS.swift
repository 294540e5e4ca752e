// HTTPS is HTTP inside TLS. In the handshake the server presents a certificate chain: its
// own certificate (a public key, names like "localhost", a validity period) signed by a
// certificate authority. The client accepts it only if the chain ends at a CA it trusts,
// the certificate is valid now, and one of its names matches the host it asked for; then
// both sides agree a version (TLS 1.3 today; 1.2 still acceptable, 1.1 and older not) and
// a cipher. This lab makes a CA and server certificates at run time (swift-certificates,
// swift-crypto), serves HTTPS on loopback with swift-nio-ssl, and connects with clients
// that trust the CA, trust nothing, ask for the wrong name, or meet an expired certificate.
// Against your server: `--url https://127.0.0.1:PORT --param ca=FILE`, FILE being your CA's
// certificate (PEM; ./ca.pem when the knob is not given).
import Crypto
import Foundation
import Hummingbird
import HummingbirdTLS
import LabKit
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import ServiceLifecycle
import SwiftASN1
import X509

enum TLSFault: String, CaseIterable, Sendable {
    case tls12Max = "tls12-max"
    case noVerify = "no-verify"
    case noHostnameCheck = "no-hostname-check"
    case expiredStillValid = "expired-still-valid"
    case allowTLS10 = "allow-tls10"

    var effect: String {
        switch self {
        case .tls12Max: return "the server offers at most TLS 1.2"
        case .noVerify: return "the untrusting client turns certificate verification off"
        case .noHostnameCheck: return "the client skips the hostname check"
        case .expiredStillValid: return "the \"expired\" certificate is issued with a validity that has not ended"
        case .allowTLS10: return "the server accepts TLS 1.0 and 1.1"
        }
    }
}

/// A CA and the certificates it issues, generated for one run (grpc-tls uses it too).
public struct LabPKI: Sendable {
    public let caKey: P256.Signing.PrivateKey
    public let ca: Certificate
    public let caName: DistinguishedName

    public init(now: Date) throws {
        caKey = P256.Signing.PrivateKey()
        caName = try DistinguishedName { CommonName("curriculum lab CA") }
        ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86_400),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(caKey))
    }

    /// A server certificate for the name `host` (localhost unless told), valid from `from` to `until`.
    public func issue(from: Date, until: Date, host: String = "localhost") throws -> (Certificate, P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(host) }
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: from, notValidAfter: until,
            issuer: caName, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName(host)])
            },
            issuerPrivateKey: .init(caKey))
        return (cert, key)
    }

    public static func nio(_ cert: Certificate) throws -> NIOSSLCertificate {
        try NIOSSLCertificate(bytes: Array(try cert.serializeAsPEM().pemString.utf8), format: .pem)
    }
}

/// What one handshake did: the version agreed, or why it failed.
struct Handshake: Sendable {
    var version: TLSVersion?
    var failure: String?
    var summary: String { version.map { "handshake completed, \($0)" } ?? "refused: \(failure ?? "unknown")" }
}

/// Connects to 127.0.0.1:port with `configuration`, asking for `hostname`, and waits for
/// the handshake (5 s at most).
func handshake(port: Int, host: String = "127.0.0.1", hostname: String?, configuration: TLSConfiguration) async -> Handshake {
    /// Completes `promise` once: handshake done, an error, the connection closing, or the time-out.
    final class Watcher: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Void>
        private var settled = false
        init(_ promise: EventLoopPromise<Void>) { self.promise = promise }
        func settle(_ error: (any Error)?) {
            guard !settled else { return }
            settled = true
            if let error { promise.fail(error) } else { promise.succeed(()) }
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let e = event as? TLSUserEvent, case .handshakeCompleted = e { settle(nil) }
            context.fireUserInboundEventTriggered(event)
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { settle(error) }
        func channelInactive(context: ChannelHandlerContext) { settle(LabError("the connection closed during the handshake")) }
    }
    do {
        let sslContext = try NIOSSLContext(configuration: configuration)
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.next()
        let done = loop.makePromise(of: Void.self)
        let watcher = Watcher(done)
        let channel = try await ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: hostname))
                    try channel.pipeline.syncOperations.addHandler(watcher)
                }
            }
            .connect(host: host, port: port).get()
        loop.scheduleTask(in: .seconds(5)) { watcher.settle(LabError("no handshake within 5 s")) }
        defer { channel.close(promise: nil) }
        do {
            try await done.futureResult.get()
        } catch {
            return Handshake(version: nil, failure: String(describing: error))
        }
        let version = try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).tlsVersion
        }.get()
        return Handshake(version: version, failure: nil)
    } catch {
        return Handshake(version: nil, failure: String(describing: error))
    }
}

struct HTTPSTLSLab: Lab {
    static let breaker: Knob<String> = {
        Knob.choice(
            "break", ["none"] + TLSFault.allCases.map(\.rawValue), default: "none",
            help: "Breaks the reference or its clients on purpose so one check can be seen to fail: "
                + TLSFault.allCases.map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + ".")
    }()

    static let ca = Knob.text(
        "ca",
        help:
            "Your CA's certificate (PEM file) for --url: the trusting clients trust it and nothing else. Empty means ./ca.pem. Ignored for the reference, which makes its own CA."
    )

    static let info = LabInfo(
        id: "https-tls", title: "HTTPS: a CA, a certificate and a TLS 1.3 handshake on loopback", phase: 3,
        teaches:
            "Generate a CA and a server certificate at run time, serve HTTPS with swift-nio-ssl, and see which clients get in: one trusting the CA does (TLS 1.3); an untrusting one, a hostname mismatch, an expired certificate and TLS 1.1 do not.",
        parameters: [breaker.parameter, ca.parameter], needs: [], subjects: [.url],
        source: "Sources/Labs/Auth/Phase03/HTTPSTLS.swift")

    static let trusted = AuthCheck(
        "A client trusting the CA completes the handshake (TLS 1.3 on the reference)",
        "a client whose only trust root is the CA completes the handshake for localhost; the reference negotiates TLS 1.3, your server at least TLS 1.2; GET /health over it answers 200"
    )
    static let untrusted = AuthCheck(
        "A client that does not trust the CA is refused",
        "a client with the system's trust roots (which do not include the lab's CA) fails the handshake")
    static let mismatch = AuthCheck(
        "A hostname mismatch is refused",
        "a client trusting the CA but asking for wrong-name.example fails the handshake")
    static let expired = AuthCheck(
        "An expired certificate is refused",
        "a second reference listener serves a certificate from the same CA that expired an hour ago; a client trusting the CA fails the handshake",
        referenceOnly: true)
    static let oldVersions = AuthCheck(
        "TLS 1.1 and older are refused",
        "a client trusting the CA but capped at TLS 1.1 fails the handshake")

    static let checks = [trusted, untrusted, mismatch, expired, oldVersions]

    static func starter() -> [StarterFile] {
        authStarter(
            info, task: "Serve your bookshelf over HTTPS with a certificate from your own CA.", checks: checks,
            extra:
                "\nRun it as `curriculum lab run https-tls --url https://127.0.0.1:8443 --param ca=./ca.pem`, `ca.pem` being your CA's certificate (PEM). Your certificate must name `localhost`.\n"
        )
    }

    func run(_ lab: LabContext) async throws {
        let fault = TLSFault(rawValue: lab[Self.breaker])
        let now = Date()
        var port: Int, expiredPort: Int?
        var caCert: NIOSSLCertificate
        let isReference = lab.subject.kind == .reference
        var host = "127.0.0.1"
        var caPath = lab.scratch.appendingPathComponent("pki/ca.pem").path

        if isReference {
            let pki = try LabPKI(now: now)
            let (cert, key) = try pki.issue(from: now.addingTimeInterval(-60), until: now.addingTimeInterval(3600))
            let (old, oldKey) =
                fault == .expiredStillValid
                ? try pki.issue(from: now.addingTimeInterval(-7200), until: now.addingTimeInterval(3600))
                : try pki.issue(from: now.addingTimeInterval(-7200), until: now.addingTimeInterval(-3600))
            // The CA and keys live in the scratch folder, removed with it.
            let folder = lab.scratch.appendingPathComponent("pki")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try pki.ca.serializeAsPEM().pemString.write(to: folder.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
            try key.pemRepresentation.write(to: folder.appendingPathComponent("server-key.pem"), atomically: true, encoding: .utf8)
            caCert = try LabPKI.nio(pki.ca)
            var server = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try LabPKI.nio(cert))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
            server.minimumTLSVersion = fault == .allowTLS10 ? .tlsv1 : .tlsv12
            if fault == .tls12Max { server.maximumTLSVersion = .tlsv12 }
            var expiredServer = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try LabPKI.nio(old))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(oldKey.pemRepresentation.utf8), format: .pem)))
            expiredServer.minimumTLSVersion = .tlsv12
            port = try await Self.serve(lab, server)
            expiredPort = try await Self.serve(lab, expiredServer)
            lab.step(
                "Generated a CA and two server certificates (P-256)",
                "CA and key in \(folder.lastPathComponent)/ of the scratch folder; the second certificate expired an hour ago")
            lab.step(
                "Serving HTTPS on 127.0.0.1:\(port) (and the expired certificate on 127.0.0.1:\(expiredPort ?? 0))",
                fault.map { "broken on purpose: \($0.effect)" })
        } else {
            guard let url = URLComponents(string: lab.subject.value ?? ""), url.scheme == "https", let p = url.port else {
                throw LabError("https-tls takes --url https://127.0.0.1:PORT")
            }
            host = url.host ?? "127.0.0.1"
            port = p
            let given = lab[Self.ca]
            let path = given.isEmpty ? "ca.pem" : given
            let pem: String
            do { pem = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw SubjectFailure(
                    given.isEmpty
                        ? "https-tls against your server needs your CA: --param ca=FILE (its certificate, PEM); there is no ./ca.pem"
                        : "--param ca=\(path): cannot read it (\(error.localizedDescription))")
            }
            caPath = path
            do { caCert = try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem) } catch {
                throw SubjectFailure("--param ca=\(path): not a PEM certificate (\(error))")
            }
            lab.step("Checking your TLS endpoint at \(host):\(port)", "CA from \(path)")
        }

        var trusting = TLSConfiguration.makeClientConfiguration()
        trusting.trustRoots = .certificates([caCert])
        if fault == .noHostnameCheck { trusting.certificateVerification = .noHostnameVerification }

        let good = await handshake(port: port, host: host, hostname: "localhost", configuration: trusting)
        let health = await Self.get(port: port, host: host, path: "/health", configuration: trusting)
        let versionOK: Bool
        if isReference { versionOK = good.version == .tlsv13 } else { versionOK = good.version == .tlsv13 || good.version == .tlsv12 }
        lab.record(
            Self.trusted, isReference: true, versionOK && health == 200,
            observed: "\(good.summary); GET /health over it → \(health.map(String.init) ?? "no answer")")
        if let cipher = Self.cipher(port: port, host: host, caPEM: caPath) {
            lab.step("Negotiated: \(good.version.map { "\($0)" } ?? "nothing"), cipher \(cipher)", "as reported by openssl s_client -brief")
        } else {
            lab.step("Negotiated: \(good.version.map { "\($0)" } ?? "nothing")", "the cipher needs openssl s_client, which did not report one")
        }

        var system = TLSConfiguration.makeClientConfiguration()
        if fault == .noVerify { system.certificateVerification = .none }
        let stranger = await handshake(port: port, host: host, hostname: "localhost", configuration: system)
        lab.record(Self.untrusted, isReference: true, stranger.version == nil, observed: stranger.summary)

        let wrongName = await handshake(port: port, host: host, hostname: "wrong-name.example", configuration: trusting)
        lab.record(Self.mismatch, isReference: true, wrongName.version == nil, observed: wrongName.summary)

        var expiredResult: Handshake?
        if let expiredPort {
            var strict = TLSConfiguration.makeClientConfiguration()
            strict.trustRoots = .certificates([caCert])
            expiredResult = await handshake(port: expiredPort, hostname: "localhost", configuration: strict)
        }
        lab.record(
            Self.expired, isReference: isReference, expiredResult.map { $0.version == nil } ?? false,
            observed: expiredResult?.summary ?? "not tried")

        var old = trusting
        old.certificateVerification = .fullVerification
        old.minimumTLSVersion = .tlsv1
        old.maximumTLSVersion = .tlsv11
        let legacy = await handshake(port: port, host: host, hostname: "localhost", configuration: old)
        lab.record(Self.oldVersions, isReference: true, legacy.version == nil, observed: legacy.summary)
    }

    /// Serves GET /health over TLS on 127.0.0.1, port 0; returns the bound port.
    static func serve(_ lab: LabContext, _ tls: TLSConfiguration) async throws -> Int {
        let router = Router()
        router.get("/health") { _, _ in "{\"status\":\"ok\"}" }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "bookshelf-tls"),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0); continuation.finish()
            },
            logger: Logger(label: "tls", factory: { _ in SwiftLogNoOpLogHandler() }))
        let group = ServiceGroup(
            configuration: .init(
                services: [app], gracefulShutdownSignals: [],
                logger: Logger(label: "tls.group", factory: { _ in SwiftLogNoOpLogHandler() })))
        let task = Task { try await group.run() }
        lab.onCleanup {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else { throw LabError("the TLS reference did not start") }
        return port
    }

    /// GET over HTTPS with the kit's HTTP client and these trust roots: the status.
    static func get(port: Int, host: String, path: String, configuration: TLSConfiguration) async -> Int? {
        // The certificate names localhost, so the request asks for localhost (resolving to loopback).
        let target = host == "127.0.0.1" ? "localhost" : host
        guard let client = try? HTTP1Pool(host: target, port: port, tls: configuration, maxConnections: 1) else { return nil }
        let reply = try? await client.execute("GET", path, timeout: .seconds(5))
        await client.shutdown()
        return reply?.status
    }

    /// The cipher as openssl s_client reports it, or nil.
    static func cipher(port: Int, host: String, caPEM: String) -> String? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments =
            ["s_client", "-connect", "\(host):\(port)", "-servername", "localhost", "-brief"]
            + (FileManager.default.fileExists(atPath: caPEM) ? ["-CAfile", caPEM] : [])
        let output = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        guard (try? process.run()) != nil else { return nil }
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: "\n").first { $0.contains("Ciphersuite") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) }
    }
}
