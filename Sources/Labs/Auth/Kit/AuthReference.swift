import Crypto
import Foundation
import HTTPLabs
import HTTPTypes
import Hummingbird
import JWTKit
import LabKit
import NIOCore
import Synchronization

// The reference of the bookshelf's phase 3 (docs/bookshelf.md "Phase 3"): users, logins
// that issue JWT access tokens (jwt-kit, HS256 or ES256) and rotating refresh tokens
// (stored as SHA-256 hashes, grouped in families), roles guarding the phase-1 writes, and a
// rate limit on /auth/login. It plugs into the phase-1 reference as a `BookshelfExtension`,
// so every phase-1 route is still there. Time comes from the lab's clock, so expiry and
// refill can be shown on a manual clock without waiting.

/// The ways a phase-3 lab breaks the reference on purpose, each aimed at one check.
enum AuthFault: String, CaseIterable, Sendable {
    case none
    // jwt-auth
    case userEnumeration = "user-enumeration"
    case verifyOtherKey = "verify-other-key"
    case signatureCache = "signature-cache"
    case devKey = "dev-key"
    case algNone = "alg-none"
    case ignoreExp = "ignore-exp"
    case ignoreNbf = "ignore-nbf"
    // rbac
    case anonymousWrites = "anonymous-writes"
    case readerWrites = "reader-writes"
    case editorDenied = "editor-denied"
    case editorDeletes = "editor-deletes"
    case anyoneSetsRoles = "anyone-sets-roles"
    case staleRoleCache = "stale-role-cache"
    // token-refresh
    case noExpiry = "no-expiry"
    case noRotation = "no-rotation"
    case reuseAllowed = "reuse-allowed"
    case noFamilyRevoke = "no-family-revoke"
    case refreshPlaintext = "refresh-plaintext"
    case refreshNoExpiry = "refresh-no-expiry"
    // input-validation (the bookshelf side)
    case reviewsAsHTML = "reviews-as-html"
    case clientErrorsAs500 = "client-errors-as-500"
    // rate-limiting (the /auth/login limit)
    case noLoginLimit = "no-login-limit"
    case retryAfterZero = "retry-after-zero"

    var effect: String {
        switch self {
        case .none: return "nothing is broken"
        case .userEnumeration: return "an unknown email answers 404 instead of the wrong password's 401"
        case .verifyOtherKey: return "tokens are verified with a key other than the one that signed them"
        case .signatureCache: return "a token whose signature the server once issued is trusted without checking its payload"
        case .devKey: return "tokens signed with the well-known development key \"\(wellKnownDevKey)\" are accepted too"
        case .algNone: return "a token whose header says alg: none is accepted unsigned"
        case .ignoreExp: return "exp is not checked"
        case .ignoreNbf: return "nbf is not checked"
        case .anonymousWrites: return "a request without a token may write"
        case .readerWrites: return "any signed-in user may create and replace (readers included)"
        case .editorDenied: return "creating and replacing need admin, not editor"
        case .editorDeletes: return "DELETE needs editor, not admin"
        case .anyoneSetsRoles: return "PUT /users/{id}/role is open to every signed-in user"
        case .staleRoleCache: return "login reuses the role cached at the user's first login"
        case .noExpiry: return "access tokens are accepted after exp"
        case .noRotation: return "/auth/refresh spends the refresh token but hands the same one back"
        case .reuseAllowed: return "a re-used refresh token revokes its family but is still answered 200 with a new pair"
        case .noFamilyRevoke: return "re-using a spent refresh token does not revoke the rest of its family"
        case .refreshPlaintext: return "refresh tokens are stored as they are, not hashed"
        case .refreshNoExpiry: return "refresh tokens never expire"
        case .reviewsAsHTML: return "reviews are served as text/html with their text pasted in"
        case .clientErrorsAs500: return "a malformed or oversized request body is answered 500"
        case .noLoginLimit: return "/auth/login has no rate limit"
        case .retryAfterZero: return "the 429 says Retry-After: 0"
        }
    }
}

/// A lab's breaker knob: one choice among the faults that break its checks.
func authBreakerKnob(_ faults: [AuthFault]) -> Knob<String> {
    let help =
        "Breaks the reference on purpose so one check can be seen to fail: "
        + faults.map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + "."
    return Knob.choice("break", ["none"] + faults.map(\.rawValue), default: "none", help: help)
}

/// The signing algorithm of the access tokens.
enum TokenAlgorithm: String, CaseIterable, Sendable {
    case hs256, es256
    var jwtName: String { rawValue.uppercased() }
}

/// The access-token claims of the contract: `sub`, `role`, `iat`, `exp`, `nbf`. jwt-kit
/// verifies the signature; the time claims are checked against the lab's clock by the
/// caller (`verify(using:)` would read the system clock).
struct AccessClaims: JWTPayload, Equatable {
    var sub: SubjectClaim
    var role: String
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The keys of one run, generated fresh and written to the scratch folder (removed with it).
struct AuthKeys: Sendable {
    let algorithm: TokenAlgorithm
    /// Signs and verifies the server's tokens.
    let signing: JWTKeyCollection
    /// A key the server never uses (the verify-other-key breaker verifies with it).
    let other: JWTKeyCollection
    /// Where the key was written.
    let file: URL

    static func generate(_ algorithm: TokenAlgorithm, in folder: URL) async throws -> AuthKeys {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let signing = JWTKeyCollection(), other = JWTKeyCollection()
        let file: URL
        switch algorithm {
        case .hs256:
            let secret = SymmetricKey(size: .bits256)
            let bytes = secret.withUnsafeBytes { Data($0) }
            file = folder.appendingPathComponent("hs256.key")
            try bytes.base64EncodedString().write(to: file, atomically: true, encoding: .utf8)
            await signing.add(hmac: HMACKey(key: secret), digestAlgorithm: .sha256)
            await other.add(hmac: HMACKey(key: SymmetricKey(size: .bits256)), digestAlgorithm: .sha256)
        case .es256:
            let key = ES256PrivateKey()
            file = folder.appendingPathComponent("es256.pem")
            try key.pemRepresentation.write(to: file, atomically: true, encoding: .utf8)
            await signing.add(ecdsa: key)
            await other.add(ecdsa: ES256PrivateKey())
        }
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        return AuthKeys(algorithm: algorithm, signing: signing, other: other, file: file)
    }
}

/// How the phase-3 reference is built for one run.
struct AuthOptions: Sendable {
    var fault: AuthFault = .none
    var accessTTL: Duration = .seconds(900)
    var refreshTTL: Duration = .seconds(86_400)
    /// Login attempts per minute per client address (the contract's LOGIN_LIMIT).
    var loginLimit = 5
    var loginWindow: Duration = .seconds(60)
}

enum Role: String, CaseIterable, Sendable {
    case reader, editor, admin
    var rank: Int { Role.allCases.firstIndex(of: self) ?? 0 }
}

/// The users, refresh tokens and login attempts of one reference run.
final class AuthState: Sendable {
    struct User: Sendable {
        var id: Int
        var email: String
        var salt: [UInt8]
        var hash: [UInt8]
        var role: Role
        var createdAt: Date
        /// The stale-role-cache breaker: the role seen at the first login.
        var cachedRole: Role?
    }
    struct Refresh: Sendable {
        var userID: Int
        var family: String
        var expires: Duration
        var spent = false
    }
    struct Store: Sendable {
        var users: [Int: User] = [:]
        var nextID = 1
        /// Keyed by the token's SHA-256 (hex), or by the token itself under refresh-plaintext.
        var refresh: [String: Refresh] = [:]
        var revokedFamilies: Set<String> = []
        /// Signatures of issued tokens (only the signature-cache breaker reads them).
        var issuedSignatures: Set<String> = []
        /// Start times (on the lab clock) of the login attempts in the current window, per client.
        var attempts: [String: [Duration]] = [:]
        /// Review texts by path (only the reviews-as-html breaker keeps them).
        var reviewTexts: [String: [String]] = [:]
    }
    let store = Mutex(Store())
}

/// The phase-3 routes and guard, added to the phase-1 reference.
struct AuthExtension: BookshelfExtension {
    let options: AuthOptions
    let keys: AuthKeys
    let clock: LabClock
    let state = AuthState()
    /// The well-known development key the dev-key breaker still accepts.
    let devKeys: JWTKeyCollection

    static let bearer = HTTPField.Name("WWW-Authenticate")!
    static let retryAfter = HTTPField.Name("Retry-After")!

    func register(on router: Router<BasicRequestContext>) {
        router.add(middleware: AuthGuard(auth: self))
        router.post("/users") { request, _ in try await self.createUser(request) }
        router.post("/auth/login") { request, _ in try await self.login(request) }
        router.post("/auth/refresh") { request, _ in try await self.refresh(request) }
        router.get("/me") { request, _ in
            let claims = try await self.authenticate(request)
            guard let id = Int(claims.sub.value), let user = self.state.store.withLock({ $0.users[id] }) else {
                return unauthorized("the token's user does not exist")
            }
            return authJSON(.ok, Self.userJSON(user))
        }
        router.put("/users/:id/role") { request, context in
            let claims = try await self.authenticate(request)
            let role = Role(rawValue: claims.role) ?? .reader
            if role != .admin && options.fault != .anyoneSetsRoles {
                return problemResponse(.forbidden, "Forbidden", "Only an admin may change roles.")
            }
            let id = Int(context.parameters.get("id") ?? "") ?? 0
            let body = JSONValue.parse(Array(try await request.body.collect(upTo: 1 << 16).readableBytesView))
            guard let name = body?["role"]?.string, let newRole = Role(rawValue: name) else {
                return problemResponse(.unprocessableContent, "Invalid fields", "role must be reader, editor or admin.")
            }
            let user: AuthState.User? = self.state.store.withLock { s in
                guard s.users[id] != nil else { return nil }
                s.users[id]?.role = newRole
                return s.users[id]
            }
            guard let user else { return problemResponse(.notFound, "Not found", "There is no user \(id).") }
            return authJSON(.ok, Self.userJSON(user))
        }
    }

    static func userJSON(_ u: AuthState.User) -> JSONValue {
        [
            "id": .int(u.id), "email": .string(u.email), "role": .string(u.role.rawValue),
            "created_at": .string(ISO8601DateFormatter().string(from: u.createdAt)),
        ]
    }

    static func hash(_ password: String, salt: [UInt8]) -> [UInt8] {
        // A salted SHA-256, iterated: a stand-in for a slow password hash (bcrypt, Argon2).
        var digest = Array(SHA256.hash(data: salt + Array(password.utf8)))
        for _ in 0..<1000 { digest = Array(SHA256.hash(data: digest + salt)) }
        return digest
    }

    func createUser(_ request: Request) async throws -> Response {
        let body = JSONValue.parse(Array(try await request.body.collect(upTo: 1 << 16).readableBytesView))
        guard let email = body?["email"]?.string, let password = body?["password"]?.string else {
            return problemResponse(.unprocessableContent, "Invalid fields", "email and password are required strings.")
        }
        guard email.range(of: #"^[^@\s]+@[^@\s]+\.[^@\s]+$"#, options: .regularExpression) != nil else {
            return problemResponse(.unprocessableContent, "Invalid fields", "email is not an email address.")
        }
        guard password.count >= 12 else {
            return problemResponse(.unprocessableContent, "Invalid fields", "password must be at least 12 characters.")
        }
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255) }
        let hash = Self.hash(password, salt: salt)
        let now = clock.now()
        let user: AuthState.User? = state.store.withLock { s in
            if s.users.values.contains(where: { $0.email.lowercased() == email.lowercased() }) { return nil }
            let u = AuthState.User(
                id: s.nextID, email: email, salt: salt, hash: hash,
                role: s.users.isEmpty ? .admin : .reader, createdAt: now)
            s.users[u.id] = u
            s.nextID += 1
            return u
        }
        guard let user else { return problemResponse(.conflict, "Conflict", "That email is taken.") }
        var response = authJSON(.created, Self.userJSON(user))
        response.headers[.location] = "/users/\(user.id)"
        return response
    }

    /// The login limit: at most `loginLimit` attempts per window per client; the next is 429
    /// with Retry-After, the whole seconds until the oldest attempt leaves the window.
    func admitLogin(client: String) -> Response? {
        guard options.fault != .noLoginLimit else { return nil }
        let now = clock.elapsed, window = options.loginWindow, limit = options.loginLimit
        let wait: Duration? = state.store.withLock { s in
            var list = (s.attempts[client] ?? []).filter { now - $0 < window }
            defer { s.attempts[client] = list }
            if list.count >= limit, let oldest = list.first { return oldest + window - now }
            list.append(now)
            return nil
        }
        guard let wait else { return nil }
        let seconds = wait.components.seconds + (wait.components.attoseconds > 0 ? 1 : 0)
        var response = problemResponse(.tooManyRequests, "Too many requests", "Too many login attempts; try again later.")
        response.headers[Self.retryAfter] = options.fault == .retryAfterZero ? "0" : String(max(1, seconds))
        return response
    }

    func login(_ request: Request) async throws -> Response {
        if let refused = admitLogin(client: "127.0.0.1") { return refused }
        let body = JSONValue.parse(Array(try await request.body.collect(upTo: 1 << 16).readableBytesView))
        guard let email = body?["email"]?.string, let password = body?["password"]?.string else {
            return unauthorized("email or password is wrong")
        }
        let found = state.store.withLock { s in s.users.values.first { $0.email.lowercased() == email.lowercased() } }
        guard var user = found else {
            if options.fault == .userEnumeration { return problemResponse(.notFound, "Not found", "There is no user \(email).") }
            return unauthorized("email or password is wrong")
        }
        guard Self.hash(password, salt: user.salt) == user.hash else { return unauthorized("email or password is wrong") }
        if options.fault == .staleRoleCache {
            user.role = state.store.withLock { s in
                if let cached = s.users[user.id]?.cachedRole { return cached }
                s.users[user.id]?.cachedRole = user.role
                return user.role
            }
        }
        return try await issuePair(for: user, family: UUID().uuidString)
    }

    func issuePair(for user: AuthState.User, family: String, reuse refresh: String? = nil) async throws -> Response {
        let access = try await sign(user)
        let token = refresh ?? Self.randomToken()
        if refresh == nil {
            let record = AuthState.Refresh(userID: user.id, family: family, expires: clock.elapsed + options.refreshTTL)
            let key = storageKey(token)
            state.store.withLock { $0.refresh[key] = record }
        }
        let seconds = options.accessTTL.components.seconds
        return authJSON(
            .ok,
            [
                "access_token": .string(access), "refresh_token": .string(token),
                "token_type": "Bearer", "expires_in": .int(Int(seconds)),
            ])
    }

    func sign(_ user: AuthState.User) async throws -> String {
        // NumericDate in whole seconds (RFC 7519 allows fractions; whole seconds are the norm).
        let now = Date(timeIntervalSince1970: clock.now().timeIntervalSince1970.rounded(.down))
        let claims = AccessClaims(
            sub: SubjectClaim(value: String(user.id)), role: user.role.rawValue,
            iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: now.addingTimeInterval(Double(options.accessTTL.components.seconds))),
            nbf: NotBeforeClaim(value: now))
        let token = try await keys.signing.sign(claims, header: ["typ": "JWT"])
        if let signature = token.split(separator: ".").last {
            state.store.withLock { _ = $0.issuedSignatures.insert(String(signature)) }
        }
        return token
    }

    /// The refresh store's key: the token's SHA-256, so a leaked table holds no usable token.
    func storageKey(_ token: String) -> String {
        options.fault == .refreshPlaintext ? token : SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func randomToken() -> String {
        Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    func refresh(_ request: Request) async throws -> Response {
        let body = JSONValue.parse(Array(try await request.body.collect(upTo: 1 << 16).readableBytesView))
        guard let token = body?["refresh_token"]?.string else { return unauthorized("no refresh token") }
        let key = storageKey(token), now = clock.elapsed, fault = options.fault
        enum Outcome { case unknown, expired, revoked, reused, ok(AuthState.User, String) }
        let outcome: Outcome = state.store.withLock { s in
            guard let r = s.refresh[key] else { return .unknown }
            if s.revokedFamilies.contains(r.family) { return .revoked }
            if r.spent {
                if fault != .noFamilyRevoke { s.revokedFamilies.insert(r.family) }
                // The reuse-allowed breaker: the family is revoked, yet this request gets a pair.
                if fault == .reuseAllowed, let user = s.users[r.userID] { return .ok(user, r.family) }
                return .reused
            }
            guard now < r.expires || fault == .refreshNoExpiry else { return .expired }
            s.refresh[key]?.spent = true
            guard let user = s.users[r.userID] else { return .unknown }
            return .ok(user, r.family)
        }
        switch outcome {
        case .unknown: return unauthorized("unknown refresh token")
        case .expired: return unauthorized("the refresh token has expired")
        case .revoked: return unauthorized("the refresh token's family was revoked")
        case .reused: return unauthorized("the refresh token was already used; its family is revoked")
        case let .ok(user, family):
            return try await issuePair(for: user, family: family, reuse: fault == .noRotation ? token : nil)
        }
    }

    /// The request's verified claims, or an `AuthFailure` (401 with WWW-Authenticate: Bearer).
    func authenticate(_ request: Request) async throws -> AccessClaims {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw AuthFailure(reason: "no bearer token")
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        let fault = options.fault
        var claims: AccessClaims?
        // The breakers, each a real-world mistake.
        if fault == .algNone, parts.count >= 2, let h = base64URLJSON(parts[0]), h["alg"]?.string?.lowercased() == "none" {
            claims = try? await keys.signing.unverified(token, as: AccessClaims.self)
        }
        if claims == nil, fault == .signatureCache, parts.count == 3,
            state.store.withLock({ $0.issuedSignatures.contains(String(parts[2])) })
        {
            claims = try? await keys.signing.unverified(token, as: AccessClaims.self)
        }
        if claims == nil {
            let verifier = fault == .verifyOtherKey ? keys.other : keys.signing
            claims = try? await verifier.verify(token, as: AccessClaims.self)
        }
        if claims == nil, fault == .devKey {
            claims = try? await devKeys.verify(token, as: AccessClaims.self)
        }
        guard let claims else { throw AuthFailure(reason: "the token's signature does not verify") }
        let now = clock.now()
        if fault != .ignoreExp && fault != .noExpiry, now >= claims.exp.value { throw AuthFailure(reason: "the token has expired") }
        if fault != .ignoreNbf, let nbf = claims.nbf?.value, now < nbf { throw AuthFailure(reason: "the token is not valid yet") }
        return claims
    }

    /// The role a write needs, by method and path (nil: public).
    func requiredRole(_ method: HTTPRequest.Method, _ path: String) -> Role? {
        let books = path == "/books" || path.range(of: #"^/books/[^/]+$"#, options: .regularExpression) != nil
        let authors = path == "/authors" || path.range(of: #"^/authors/[^/]+$"#, options: .regularExpression) != nil
        guard books || authors else { return nil }
        switch method {
        case .post, .put:
            if options.fault == .editorDenied { return .admin }
            return .editor
        case .delete:
            return options.fault == .editorDeletes ? .editor : .admin
        default: return nil
        }
    }
}

/// A key copied from a tutorial and left in a config file: the kind of key an attacker tries
/// first (jwt-kit wants at least 32 bytes for HS256).
let wellKnownDevKey = "development-secret-do-not-use-in-prod"

struct AuthFailure: Error { var reason: String }

/// Guards the phase-1 writes by role: 401 without a valid token, 403 with too low a role.
struct AuthGuard: RouterMiddleware {
    typealias Context = BasicRequestContext
    let auth: AuthExtension

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let fault = auth.options.fault
        if fault == .reviewsAsHTML, request.uri.path.hasSuffix("/reviews") {
            // The breaker: reviews rendered as HTML by pasting their text into a template.
            let path = request.uri.path
            if request.method == .post {
                var request = request
                let buffer = try await request.collectBody(upTo: 1 << 20)
                if let text = JSONValue.parse(Array(buffer.readableBytesView))?["text"]?.string {
                    auth.state.store.withLock { $0.reviewTexts[path, default: []].append(text) }
                }
                return try await next(request, context)
            }
            let response = try await next(request, context)
            guard response.status == .ok else { return response }
            let texts = auth.state.store.withLock { $0.reviewTexts[path] ?? [] }
            let html = "<html><body><ul>" + texts.map { "<li>\($0)</li>" }.joined() + "</ul></body></html>"
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        guard let needed = auth.requiredRole(request.method, request.uri.path) else {
            return try await catching { try await next(request, context) }
        }
        if fault == .anonymousWrites, request.headers[.authorization] == nil { return try await next(request, context) }
        let claims: AccessClaims
        do { claims = try await auth.authenticate(request) } catch let f as AuthFailure { return unauthorized(f.reason) }
        let role = Role(rawValue: claims.role) ?? .reader
        let enough = fault == .readerWrites && needed == .editor ? true : role.rank >= needed.rank
        guard enough else {
            return problemResponse(.forbidden, "Forbidden", "This needs the role \(needed.rawValue); the token's role is \(role.rawValue).")
        }
        return try await catching { try await next(request, context) }
    }

    /// The phase-3 routes throw `AuthFailure` from `authenticate`: a 401, not a 500.
    func catching(_ body: () async throws -> Response) async throws -> Response {
        let response: Response
        do { response = try await body() } catch let f as AuthFailure { return unauthorized(f.reason) } catch {
            if auth.options.fault == .clientErrorsAs500 { return problemResponse(.internalServerError, "Internal error", "Something went wrong.") }
            // A body over the phase-1 routes' 1 MiB limit: 413, not the 500 of an unknown error.
            if error is NIOTooManyBytesError { return problemResponse(.contentTooLarge, "Content too large", "Request bodies are limited to 1 MiB.") }
            if auth.options.fault == .clientErrorsAs500 { return problemResponse(.internalServerError, "Internal error", "\(error)") }
            throw error
        }
        if auth.options.fault == .clientErrorsAs500, [400, 413].contains(response.status.code) {
            return problemResponse(.internalServerError, "Internal error", "Something went wrong.")
        }
        return response
    }
}

func unauthorized(_ detail: String) -> Response {
    var r = problemResponse(.unauthorized, "Unauthorized", detail)
    r.headers[AuthExtension.bearer] = "Bearer"
    return r
}

func problemResponse(_ status: HTTPResponse.Status, _ title: String, _ detail: String) -> Response {
    let body: JSONValue = ["type": "about:blank", "title": .string(title), "status": .int(status.code), "detail": .string(detail)]
    return Response(
        status: status, headers: [.contentType: "application/problem+json"],
        body: .init(byteBuffer: ByteBuffer(bytes: body.bytes)))
}

func authJSON(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
    Response(
        status: status, headers: [.contentType: "application/json; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(bytes: value.bytes)))
}

/// A JWT segment decoded as JSON (reading a token, never making one).
func base64URLJSON(_ segment: Substring) -> JSONValue? {
    var s = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while s.count % 4 != 0 { s += "=" }
    guard let data = Data(base64Encoded: s) else { return nil }
    return JSONValue.parse(Array(data))
}

/// Starts the reference bookshelf with phase 3 added; its keys go to `lab.scratch/keys`.
func startAuthReference(
    _ lab: LabContext, _ options: AuthOptions, algorithm: TokenAlgorithm, port: Int, clock: LabClock? = nil,
    configure: (inout BookshelfConfiguration) -> Void = { _ in }
) async throws -> (RunningReference, AuthExtension) {
    let keys = try await AuthKeys.generate(algorithm, in: lab.scratch.appendingPathComponent("keys"))
    let dev = JWTKeyCollection()
    await dev.add(hmac: HMACKey(from: wellKnownDevKey), digestAlgorithm: .sha256)
    let auth = AuthExtension(options: options, keys: keys, clock: clock ?? lab.clock, devKeys: dev)
    var configuration = BookshelfConfiguration()
    configuration.port = port
    configuration.extensions = [auth]
    configure(&configuration)
    return (try await BookshelfServer.start(configuration), auth)
}
