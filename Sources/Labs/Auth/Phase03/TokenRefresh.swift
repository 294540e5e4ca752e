// Refresh tokens: access tokens live minutes, so a stolen one is worth little; a long-lived
// refresh token gets new pairs from POST /auth/refresh. Each refresh *rotates*: the old
// refresh token is spent and a new one comes back. A spent token presented again means two
// parties hold it (one is a thief), so the server revokes the whole family descended from
// that login. The server keeps only each refresh token's hash, so a leaked table is useless.
// Against the reference the lab drives time on a manual clock (expiry shown without
// waiting); against your server (--url/--against) it waits for real, so start it with short
// expiries matching the access-ttl and refresh-ttl knobs.
import Crypto
import Foundation
import LabKit

struct TokenRefreshLab: Lab {
    static let breaker = authBreakerKnob([.noRotation, .reuseAllowed, .noFamilyRevoke, .noExpiry, .refreshNoExpiry, .refreshPlaintext])
    static let accessTTL = Knob.int(
        "access-ttl", 1...600, default: 3, quick: 1,
        help:
            "Seconds an access token lives (the reference is built with it; your server must use the same). Real waiting only against your server; a server that writes exp in whole seconds needs 2 or more, since a 1 s token can expire before its first request."
    )
    static let refreshTTL = Knob.int(
        "refresh-ttl", 1...3600, default: 6, quick: 2,
        help: "Seconds a refresh token lives (the reference is built with it; your server must use the same).")

    static let info = LabInfo(
        id: "token-refresh", title: "Refresh tokens: rotation, expiry and reuse detection", phase: 3,
        teaches:
            "Short-lived access tokens with rotating refresh tokens stored hashed, on an injected clock: expiry enforced, a refresh rotates, re-use of a spent refresh token revokes its whole family.",
        parameters: [breaker.parameter, accessTTL.parameter, refreshTTL.parameter], needs: [], subjects: [.url, .against],
        source: "Sources/Labs/Auth/Phase03/TokenRefresh.swift")

    static let rotates = AuthCheck(
        "A refresh rotates the pair",
        "POST /auth/refresh with the login's refresh token is 200 with a new access token that GET /me accepts and a refresh token different from the one sent")
    static let spent = AuthCheck(
        "A spent refresh token is refused",
        "sending the already-used refresh token again is 401")
    static let family = AuthCheck(
        "Re-use revokes the whole family",
        "after that re-use, the family's newest refresh token (never used) is 401 too")
    static let accessExpires = AuthCheck(
        "Access tokens expire",
        "GET /me with a fresh access token is 200, and 401 with WWW-Authenticate: Bearer once access-ttl seconds have passed (+1 s against your server)")
    static let refreshExpires = AuthCheck(
        "Refresh tokens expire",
        "a refresh token never used is 401 once refresh-ttl seconds have passed since its login (+1 s against your server)")
    static let hashed = AuthCheck(
        "Refresh tokens are stored hashed",
        "no key of the reference's refresh-token table is a token it issued; each issued token is found under its SHA-256", referenceOnly: true)

    static let checks = [rotates, spent, family, accessExpires, refreshExpires, hashed]

    static func starter() -> [StarterFile] {
        authStarter(
            info, task: "Add POST /auth/refresh with rotation and reuse detection, and expire access and refresh tokens.", checks: checks,
            extra:
                "\nThe expiry checks wait for real against your server: start it with the lifetimes the knobs say (`--param access-ttl=3 --param refresh-ttl=6` by default), for example `--against 'ACCESS_TTL=3 REFRESH_TTL=6 ./run.sh'` if your server reads them from the environment.\n"
        )
    }

    func run(_ lab: LabContext) async throws {
        let fault = AuthFault(rawValue: lab[Self.breaker]) ?? .none
        let accessTTL = Duration.seconds(lab[Self.accessTTL]), refreshTTL = Duration.seconds(lab[Self.refreshTTL])
        // The reference runs on a manual clock this lab advances: expiry without waiting.
        let referenceClock = lab.clock.isManual ? lab.clock : LabClock.manual()
        let subject = try await startAuthBookshelf(
            lab, AuthOptions(fault: fault, accessTTL: accessTTL, refreshTTL: refreshTTL),
            clock: referenceClock)
        let api = subject.api, isReference = subject.isReference
        let clock = isReference ? referenceClock : lab.clock
        let token = runToken()

        // Family one: rotate, then re-use the spent token.
        let (user, setup) = await api.account("refresher", run: token)
        lab.step("Signed up \(user.email) and logged in", observed(setup))
        let first = await api.call("POST", "/auth/refresh", json: ["refresh_token": .string(user.refresh ?? "")])
        let newAccess = first.json?["access_token"]?.string, newRefresh = first.json?["refresh_token"]?.string
        let me = await api.call("GET", "/me", token: newAccess)
        lab.record(
            Self.rotates, isReference: isReference,
            first.status == 200 && newRefresh != nil && newRefresh != user.refresh && me.status == 200,
            observed:
                "\(first.summary); new refresh token \(newRefresh == nil ? "missing" : newRefresh == user.refresh ? "identical to the old one" : "differs"); \(me.summary)"
        )

        let reuse = await api.call("POST", "/auth/refresh", json: ["refresh_token": .string(user.refresh ?? "")])
        lab.record(Self.spent, isReference: isReference, reuse.status == 401, observed: reuse.summary)
        let newest = await api.call("POST", "/auth/refresh", json: ["refresh_token": .string(newRefresh ?? "")])
        lab.record(Self.family, isReference: isReference, newest.status == 401, observed: "the newest token of the family → \(newest.summary)")

        // Family two: expiry.
        let started = clock.elapsed
        let second = await api.login(user.email, user.password)
        let access = second.json?["access_token"]?.string, refresh = second.json?["refresh_token"]?.string
        let fresh = await api.call("GET", "/me", token: access)
        let slack: Duration = isReference ? .zero : .seconds(1)
        try await clock.sleep(for: accessTTL + slack)
        let stale = await api.call("GET", "/me", token: access)
        lab.step("Waited \(accessTTL + slack) on \(isReference ? "the reference's manual clock" : "the real clock")")
        lab.record(
            Self.accessExpires, isReference: isReference, second.status == 200 && fresh.status == 200 && stale.isBearer401,
            observed: "at once: \(fresh.summary); after \(accessTTL + slack): \(stale.summary)")
        let remaining = refreshTTL + slack - (clock.elapsed - started)
        if remaining > .zero { try await clock.sleep(for: remaining) }
        let late = await api.call("POST", "/auth/refresh", json: ["refresh_token": .string(refresh ?? "")])
        lab.record(
            Self.refreshExpires, isReference: isReference, refresh != nil && late.status == 401,
            observed: "after \(clock.elapsed - started) since the login: \(late.summary)")

        // The reference's table: hashes only.
        var hashedOK = false, hashedObserved = "not inspected"
        if let auth = subject.auth {
            let keys = auth.state.store.withLock { Set($0.refresh.keys) }
            let issued = api.calls.compactMap { $0.json?["refresh_token"]?.string }
            let plain = issued.filter { keys.contains($0) }
            let underHash = issued.filter { t in keys.contains(SHA256.hash(data: Array(t.utf8)).map { String(format: "%02x", $0) }.joined()) }
            hashedOK = !issued.isEmpty && plain.isEmpty && underHash.count == issued.count
            hashedObserved =
                "\(keys.count) stored keys; \(issued.count) issued tokens: \(plain.count) stored as they are, \(underHash.count) found under their SHA-256"
        }
        lab.record(Self.hashed, isReference: isReference, hashedOK, observed: hashedObserved)
        if let exit = subject.service.exitDescription {
            lab.step("Your server stopped during the checks: \(exit)", subject.service.outputTail() ?? "")
        }
    }
}
