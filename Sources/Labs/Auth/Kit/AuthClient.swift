import Foundation
import LabKit
import Synchronization

/// One request and what came back, or the sentence saying why nothing did.
struct Call: Sendable {
    var method: String
    var path: String
    var reply: HTTPReply?
    var failure: String?

    var status: Int? { reply?.status }
    var json: JSONValue? { reply?.json }
    var id: Int? { json?["id"]?.int }

    /// A 401 that says `WWW-Authenticate: Bearer…`, as the contract asks.
    var isBearer401: Bool {
        status == 401 && (reply?.header("WWW-Authenticate") ?? "").lowercased().hasPrefix("bearer")
    }

    var summary: String {
        var s = "\(method) \(path) → " + (reply.map { $0.summary(limit: 120) } ?? failure ?? "nothing")
        if let reply, reply.status == 401 { s += " [WWW-Authenticate: \(reply.header("WWW-Authenticate") ?? "none")]" }
        return s
    }
}

/// The phase-3 labs' client: every exchange kept, nothing thrown (a request with no answer
/// is a call with a failure sentence, and the check reading it fails saying so).
final class AuthClient: Sendable {
    let http: LoopbackHTTP
    private let log = Mutex<[Call]>([])

    init(_ lab: LabContext, baseURL: String) {
        http = LoopbackHTTP.open(for: lab, baseURL: baseURL)
    }

    var calls: [Call] { log.withLock { $0 } }

    @discardableResult
    func call(
        _ method: String, _ path: String, json: JSONValue? = nil, raw: [UInt8]? = nil, token: String? = nil,
        headers: [(String, String)] = []
    ) async -> Call {
        var call = Call(method: method, path: path)
        var headers = headers
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        do {
            call.reply = try await http.request(method, path, headers: headers, body: raw ?? json?.bytes)
        } catch {
            call.failure = String(describing: error)
        }
        log.withLock { $0.append(call) }
        return call
    }

    func signUp(_ email: String, _ password: String) async -> Call {
        await call("POST", "/users", json: ["email": .string(email), "password": .string(password)])
    }

    func login(_ email: String, _ password: String) async -> Call {
        await call("POST", "/auth/login", json: ["email": .string(email), "password": .string(password)])
    }
}

/// A user the lab created: email, password, id, and the tokens of its last login.
struct Account: Sendable {
    var email: String
    var password: String
    var id: Int?
    var access: String?
    var refresh: String?
    var role: String?
}

extension AuthClient {
    /// Creates a user with a random email under this run's token, then logs in.
    func account(_ name: String, run token: String) async -> (Account, [Call]) {
        var a = Account(email: "\(name)-\(token)@example.test", password: "correct horse \(token) battery")
        let made = await signUp(a.email, a.password)
        a.id = made.id
        a.role = made.json?["role"]?.string
        let logged = await login(a.email, a.password)
        a.access = logged.json?["access_token"]?.string
        a.refresh = logged.json?["refresh_token"]?.string
        return (a, [made, logged])
    }
}

/// The decoded header and payload of a JWT (reading, not making one).
func jwtParts(_ token: String?) -> (header: JSONValue, payload: JSONValue)? {
    guard let token else { return nil }
    let p = token.split(separator: ".", omittingEmptySubsequences: false)
    guard p.count == 3, let h = base64URLJSON(p[0]), let b = base64URLJSON(p[1]) else { return nil }
    return (h, b)
}

func observed(_ calls: [Call], limit: Int = 4) -> String {
    calls.prefix(limit).map(\.summary).joined(separator: "; ")
}

/// A short token unique to this run (letters only).
func runToken() -> String {
    let letters = Array("abcdefghjkmnpqrstuvwxyz")
    return String((0..<6).map { _ in letters[Int.random(in: 0..<letters.count)] })
}

/// One check of a phase-3 lab: its name and exactly what it asserts (the starter README
/// lists them). `referenceOnly`: it needs the reference's keys or clock, so it is skipped
/// (not passed) against the learner's server.
struct AuthCheck: Sendable {
    var name: String
    var asserts: String
    var referenceOnly = false
    init(_ name: String, _ asserts: String, referenceOnly: Bool = false) {
        self.name = name; self.asserts = asserts; self.referenceOnly = referenceOnly
    }
}

extension LabContext {
    /// Records `check`, or, against a learner's server, a step saying it was skipped.
    func record(_ check: AuthCheck, isReference: Bool, _ passed: Bool, observed: String) {
        if check.referenceOnly && !isReference {
            step("Skipped (reference only): \(check.name)", "it needs the reference's signing key or clock, so it does not judge \(subject)")
            return
        }
        self.check(check.name + (check.referenceOnly ? " (reference only)" : ""), passed, expected: check.asserts, observed: observed)
    }
}

/// The starter folder of a phase-3 lab: a README with the task, how to run, what each
/// check asserts, and the contract's phase-3 part.
func authStarter(_ info: LabInfo, task: String, checks: [AuthCheck], extra: String = "") -> [StarterFile] {
    let list = checks.map { c in
        "- **\(c.name)**\(c.referenceOnly ? " (reference only: skipped against your server)" : ""): \(c.asserts)"
    }.joined(separator: "\n")
    let readme = """
        # \(info.title)

        \(task)

        Add phase 3 of the bookshelf contract (`docs/bookshelf.md`, "Phase 3": users, login,
        JWT access tokens, refresh tokens, roles, the login rate limit) to your phase-1 service.
        Listen on `127.0.0.1:$PORT` (`PORT` comes from the environment). Start from an empty
        store: the first user created is `admin`, and the checks create that user themselves.

        ## Run the checks
        Let the lab start your server (it sets `PORT`, waits for `GET /health`, stops it with SIGTERM):

            curriculum lab run \(info.id) --against 'java -jar build/libs/bookshelf.jar'

        or point it at a server you already run:

            curriculum lab run \(info.id) --url http://127.0.0.1:8080

        Without either, the lab judges its own reference (`\(info.source)` and
        `Sources/Labs/Auth/Kit/AuthReference.swift`), which shows one way to pass.
        \(extra)
        ## What the checks assert
        \(list)

        Every check speaks HTTP only; a request with no answer within 5 s fails the check that
        sent it.

        """
    return [StarterFile("README.md", readme), StarterFile("bookshelf-phase3.md", phase3Contract)]
}

let phase3Contract = """
    # Bookshelf, phase 3: users and auth (added to the phase-1 service)

    | method and path | success | errors |
    |---|---|---|
    | `POST /users` `{email, password}` | 201 `{id, email, role, created_at}` (never the password or its hash) | 409 email taken, 422 weak password (< 12 chars) or bad email |
    | `POST /auth/login` `{email, password}` | 200 `{access_token, refresh_token, token_type: "Bearer", expires_in}` | 401 (same answer for unknown email and wrong password) |
    | `POST /auth/refresh` `{refresh_token}` | 200, a new pair; the old refresh token is spent | 401 expired/unknown; re-using a spent one revokes its whole family (later refreshes of that family are 401) |
    | `GET /me` | 200 the user | 401 |

    - Access tokens are JWTs (HS256 by default; the lab may ask for ES256) with `sub`, `role`,
      `iat`, `exp`, `nbf`; `alg: none`, a wrong signature, an expired or not-yet-valid token
      are all 401 with `WWW-Authenticate: Bearer`.
    - Roles: `reader` (default), `editor`, `admin`. Writes to books and authors need
      `editor`; `DELETE` needs `admin`; reads are public. 401 without a token, 403 with the
      wrong role. The first user created is `admin` (so a lab can bootstrap the others);
      `PUT /users/{id}/role` `{role}` is admin-only.
    - Rate limit on `/auth/login`: at most `LOGIN_LIMIT` (env, default 5) attempts per minute
      per client address; the next is 429 with `Retry-After` in whole seconds.

    """
