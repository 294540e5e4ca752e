// JWT: a login answers with a token the client sends back as `Authorization: Bearer …`.
// The token is header.payload.signature, each base64url; the payload's claims (sub, role,
// iat, exp, nbf) are readable by anyone, and only the signature (HMAC-SHA256 with a
// server secret, or ECDSA P-256 with a private key) makes them trustworthy. So a server
// must verify the signature with its own key and its own algorithm (never the header's
// `alg`, which may say "none"), and check exp and nbf against its clock; every failure is
// 401 with `WWW-Authenticate: Bearer`. This lab forges each bad token with jwt-kit and
// sends it over real HTTP to the bookshelf: the reference, or your server (--url/--against).
import Foundation
import JWTKit
import LabKit

struct JWTAuthLab: Lab {
    static let breaker = authBreakerKnob([.userEnumeration, .verifyOtherKey, .signatureCache, .devKey, .algNone, .ignoreExp, .ignoreNbf])
    static let algorithm = Knob<TokenAlgorithm>.choice(
        "alg", default: .hs256,
        help:
            "How the reference signs its access tokens: hs256 (HMAC-SHA256, one shared secret) or es256 (ECDSA P-256: a private key signs, the public key verifies)."
    )

    static let info = LabInfo(
        id: "jwt-auth", title: "JWT access tokens: issue on login, verify every claim", phase: 3,
        teaches:
            "Issue JWTs on login with jwt-kit (HS256 or ES256) and verify them: a valid token is accepted; a tampered payload, a wrong key, alg: none, an expired and a not-yet-valid token are each 401 with WWW-Authenticate: Bearer.",
        parameters: [breaker.parameter, algorithm.parameter], needs: [], subjects: [.url, .against],
        source: "Sources/Labs/Auth/Phase03/JWTAuth.swift")

    static let login = AuthCheck(
        "Login issues a Bearer JWT with the contract's claims",
        "POST /users 201 without password fields; POST /auth/login 200 with token_type Bearer, expires_in > 0, a refresh_token and an access_token whose header names HS256 or ES256 and whose payload has sub (the user's id), role, iat, exp and nbf; a wrong password and an unknown email both 401"
    )
    static let valid = AuthCheck(
        "A valid token is accepted",
        "GET /me with the login's access token answers 200 with the user's email")
    static let tampered = AuthCheck(
        "A tampered payload is 401 Bearer",
        "the login's token with its payload changed to role admin (header and signature kept) is 401 with WWW-Authenticate: Bearer on GET /me")
    static let wrongKey = AuthCheck(
        "A token signed with another key is 401 Bearer",
        "tokens made with jwt-kit and signed with the well-known key \"\(wellKnownDevKey)\" (HS256) and with a fresh key of the server's algorithm are each 401 with WWW-Authenticate: Bearer"
    )
    static let algNone = AuthCheck(
        "An alg: none token is 401 Bearer",
        "an unsigned token (header alg: none, empty signature) carrying valid claims is 401 with WWW-Authenticate: Bearer")
    static let expired = AuthCheck(
        "An expired token is 401 Bearer",
        "a token signed with the server's own key whose exp passed a minute ago is 401 with WWW-Authenticate: Bearer", referenceOnly: true)
    static let notYet = AuthCheck(
        "A not-yet-valid token is 401 Bearer",
        "a token signed with the server's own key whose nbf is ten minutes ahead is 401 with WWW-Authenticate: Bearer", referenceOnly: true)

    static let checks = [login, valid, tampered, wrongKey, algNone, expired, notYet]

    static func starter() -> [StarterFile] {
        authStarter(
            info,
            task:
                "Add users and login to the bookshelf: POST /users, POST /auth/login issuing HS256 (or ES256) JWT access tokens, and GET /me, which verifies them.",
            checks: checks,
            extra:
                "\nThe expired and not-yet-valid checks need a token signed with your key, which the lab does not have; they run against the reference only.\n")
    }

    func run(_ lab: LabContext) async throws {
        let fault = AuthFault(rawValue: lab[Self.breaker]) ?? .none
        let subject = try await startAuthBookshelf(lab, AuthOptions(fault: fault), algorithm: lab[Self.algorithm])
        let api = subject.api, isReference = subject.isReference
        let token = runToken()

        // Sign up and log in.
        let (me, setup) = await api.account("reader", run: token)
        let wrong = await api.login(me.email, me.password + "x")
        let unknown = await api.login("nobody-\(token)@example.test", me.password)
        lab.step("Signed up \(me.email) and logged in", observed(setup))
        let made = setup[0], logged = setup[1]
        let parts = jwtParts(me.access)
        let claims = parts?.payload
        let alg = parts?.header["alg"]?.string ?? ""
        let subOK = claims?["sub"]?.string == me.id.map(String.init) || claims?["sub"]?.int == me.id
        let loginOK =
            made.status == 201 && me.id != nil && made.json?["password"] == nil && made.json?["password_hash"] == nil
            && logged.status == 200 && logged.json?["token_type"]?.string?.lowercased() == "bearer"
            && (logged.json?["expires_in"]?.int ?? 0) > 0 && me.refresh != nil
            && ["HS256", "ES256"].contains(alg) && subOK && claims?["role"]?.string != nil
            && ["iat", "exp", "nbf"].allSatisfy { isNumber(claims?[$0]) }
            && wrong.status == 401 && unknown.status == 401
        lab.record(
            Self.login, isReference: isReference, loginOK,
            observed:
                "\(made.summary); login → \(statusText(logged)) alg \(alg.isEmpty ? "none found" : alg), claims \(claims?.object.map { $0.keys.sorted().joined(separator: ",") } ?? "unreadable"); wrong password → \(statusText(wrong)); unknown email → \(statusText(unknown))"
        )

        // The valid token.
        let ok = await api.call("GET", "/me", token: me.access)
        lab.record(Self.valid, isReference: isReference, ok.status == 200 && ok.json?["email"]?.string == me.email, observed: ok.summary)

        // Tampered: the server's own token with its payload edited (this is what tampering
        // is: the issued header and signature kept, the claims changed).
        var tamperedToken = me.access ?? "x.y.z"
        if let p = claims?.object {
            var edited = p
            edited["role"] = "admin"
            let segments = tamperedToken.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            if segments.count == 3 { tamperedToken = [segments[0], base64URL(JSONValue.object(edited).bytes), segments[2]].joined(separator: ".") }
        }
        let tamperedCall = await api.call("GET", "/me", token: tamperedToken)
        lab.record(Self.tampered, isReference: isReference, tamperedCall.isBearer401, observed: tamperedCall.summary)

        // Forged with jwt-kit: valid claims, wrong keys.
        // The server's time: the lab's clock for the reference (it may be a manual one), the real one for yours.
        let now = isReference ? lab.clock.now() : Date()
        let sub = claims?["sub"]?.string ?? me.id.map(String.init) ?? "1"
        let good = AccessClaims(
            sub: SubjectClaim(value: sub), role: "admin", iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: now.addingTimeInterval(600)), nbf: NotBeforeClaim(value: now.addingTimeInterval(-5)))
        let devKey = JWTKeyCollection()
        await devKey.add(hmac: HMACKey(from: wellKnownDevKey), digestAlgorithm: .sha256)
        let fresh = JWTKeyCollection()
        if alg == "ES256" {
            await fresh.add(ecdsa: ES256PrivateKey())
        } else {
            await fresh.add(hmac: HMACKey(key: .init(size: .bits256)), digestAlgorithm: .sha256)
        }
        let byDevKey = await api.call("GET", "/me", token: try await devKey.sign(good, header: ["typ": "JWT"]))
        let byFreshKey = await api.call("GET", "/me", token: try await fresh.sign(good, header: ["typ": "JWT"]))
        lab.record(
            Self.wrongKey, isReference: isReference, byDevKey.isBearer401 && byFreshKey.isBearer401,
            observed: "signed with \"\(wellKnownDevKey)\": \(byDevKey.summary); with a fresh \(alg.isEmpty ? "HS256" : alg) key: \(byFreshKey.summary)")

        // alg: none, made with jwt-kit's unsecured signer (header alg "none", empty signature).
        let unsigned = JWTKeyCollection()
        await unsigned.addUnsecuredNone()
        let noneToken = try await unsigned.sign(good, header: ["typ": "JWT"])
        let noneCall = await api.call("GET", "/me", token: noneToken)
        lab.record(Self.algNone, isReference: isReference, noneCall.isBearer401, observed: "\(noneToken.prefix(40))… → \(noneCall.summary)")

        // Expired and not yet valid: signed with the reference's own key (the learner's is not ours).
        var expiredCall: Call?, notYetCall: Call?
        if let auth = subject.auth {
            let t = lab.clock.now()
            let old = AccessClaims(
                sub: SubjectClaim(value: sub), role: "reader", iat: IssuedAtClaim(value: t.addingTimeInterval(-960)),
                exp: ExpirationClaim(value: t.addingTimeInterval(-60)), nbf: NotBeforeClaim(value: t.addingTimeInterval(-960)))
            let early = AccessClaims(
                sub: SubjectClaim(value: sub), role: "reader", iat: IssuedAtClaim(value: t),
                exp: ExpirationClaim(value: t.addingTimeInterval(1500)), nbf: NotBeforeClaim(value: t.addingTimeInterval(600)))
            expiredCall = await api.call("GET", "/me", token: try await auth.keys.signing.sign(old, header: ["typ": "JWT"]))
            notYetCall = await api.call("GET", "/me", token: try await auth.keys.signing.sign(early, header: ["typ": "JWT"]))
            lab.step(
                "Forged two tokens with the reference's own \(auth.keys.algorithm.jwtName) key",
                "key generated for this run at \(auth.keys.file.lastPathComponent) in the scratch folder")
        }
        lab.record(Self.expired, isReference: isReference, expiredCall?.isBearer401 ?? false, observed: expiredCall?.summary ?? "not sent")
        lab.record(Self.notYet, isReference: isReference, notYetCall?.isBearer401 ?? false, observed: notYetCall?.summary ?? "not sent")
        if let exit = subject.service.exitDescription {
            lab.step("Your server stopped during the checks: \(exit)", subject.service.outputTail() ?? "")
        }
        lab.figure("requests sent", Double(api.calls.count), "requests")
    }
}

/// A JSON number (a JWT NumericDate may carry a fraction).
func isNumber(_ v: JSONValue?) -> Bool {
    switch v {
    case .int?, .double?: return true
    default: return false
    }
}

func statusText(_ call: Call) -> String { call.status.map(String.init) ?? (call.failure ?? "no answer") }

func base64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}
