// Rate limiting: a token bucket allows bursts up to its capacity and refills at a steady
// rate; a sliding window allows at most N requests in any window of length W. Either must
// decide atomically: "read the count, then write it" from concurrent clients over-admits.
// In one process a lock makes it atomic; across processes Redis does, with one Lua script
// per attempt (EVAL runs it whole, nothing interleaves). A refused request is 429 with
// Retry-After, the whole seconds until it would be admitted. This lab drives 8 concurrent
// clients on a manual clock (refill without waiting) against both limiters, in process and
// in a throwaway Redis, then checks the bookshelf's /auth/login limit over HTTP: the
// reference, or your server (--url/--against).
import Foundation
import LabKit

enum RateFault: String, CaseIterable, Sendable {
    case racyBucket = "racy-bucket"
    case fixedWindow = "fixed-window"
    case uncappedRefill = "uncapped-refill"
    case redisGetSet = "redis-get-set"
    case redisFixedWindow = "redis-fixed-window"

    var effect: String {
        switch self {
        case .racyBucket: return "the in-process bucket reads its level, waits 1 ms, then writes it"
        case .fixedWindow: return "the in-process sliding window is a fixed window"
        case .uncappedRefill: return "the in-process bucket's refill is not capped at its capacity"
        case .redisGetSet: return "the Redis bucket is HGET then HSET from the client, 1 ms apart, not one Lua script"
        case .redisFixedWindow: return "the Redis sliding window is a fixed window (INCR per window)"
        }
    }
}

struct RateLimitingLab: Lab {
    static let breaker: Knob<String> = {
        let rate = RateFault.allCases.map { "\($0.rawValue) (\($0.effect))" }
        let http = [AuthFault.noLoginLimit, .retryAfterZero].map { "\($0.rawValue) (\($0.effect))" }
        return Knob.choice(
            "break", ["none"] + RateFault.allCases.map(\.rawValue) + ["no-login-limit", "retry-after-zero"], default: "none",
            help: "Breaks the reference on purpose so one check can be seen to fail: " + (rate + http).joined(separator: "; ") + ".")
    }()
    static let limit = Knob.int(
        "limit", 2...500, default: 40, quick: 10,
        help: "Requests per window (10 s of manual clock) for the in-process and Redis limiters; the bucket's capacity, refilled one token every window/limit.")
    static let loginLimit = Knob.int(
        "login-limit", 1...100, default: 5,
        help: "Login attempts per minute per client the server allows (the contract's LOGIN_LIMIT; the reference is built with it).")

    static let info = LabInfo(
        id: "rate-limiting", title: "Rate limiting: token bucket and sliding window, in process and in Redis", phase: 3,
        teaches:
            "Token bucket and sliding window, in process and in Redis (an atomic Lua script), under 8 concurrent clients on an injected clock: no more than the limit admitted in any window, refill over time, and 429 with Retry-After on the bookshelf's /auth/login.",
        parameters: [breaker.parameter, limit.parameter, loginLimit.parameter], needs: [.redis], subjects: [.url, .against],
        source: "Sources/Labs/Auth/Phase03/RateLimiting.swift")

    static let bucket = AuthCheck(
        "In process, the token bucket admits exactly its capacity at once",
        "8 concurrent clients at one instant get exactly `limit` admissions, and over the rounds no window of 10 s holds more than capacity + refill (2 × limit)",
        referenceOnly: true)
    static let window = AuthCheck(
        "In process, the sliding window never exceeds the limit in any window",
        "over rounds at 7.5 s, 10 s, 12.5 s … of 8 concurrent clients, no window of 10 s holds more than `limit` admissions, and the first round gets exactly `limit`",
        referenceOnly: true)
    static let refill = AuthCheck(
        "The bucket refills over injected time, capped at capacity",
        "in process and in Redis: drained, then one refill period later exactly 1 more is admitted, three periods later exactly 3, and after an idle of 2 windows exactly `limit` (not more)",
        referenceOnly: true)
    static let redisBucket = AuthCheck(
        "In Redis, the Lua token bucket admits exactly its capacity across 8 connections",
        "8 clients on 8 connections at one instant get exactly `limit` admissions, and no window holds more than 2 × limit", referenceOnly: true)
    static let redisWindow = AuthCheck(
        "In Redis, the Lua sliding window never exceeds the limit in any window",
        "the same rounds as in process, over 8 connections: no window of 10 s holds more than `limit` admissions", referenceOnly: true)
    static let login = AuthCheck(
        "POST /auth/login admits login-limit attempts a minute, then 429",
        "8 concurrent clients send login attempts (wrong password), at least 8 more than login-limit in all: exactly login-limit answers are not 429 and every other one is 429"
    )
    static let retryAfter = AuthCheck(
        "429 carries a correct Retry-After",
        "every 429 has Retry-After in whole seconds from 1 to 60; on the reference's manual clock a login one second before it is still 429 and one at it is admitted"
    )

    static let checks = [bucket, window, refill, redisBucket, redisWindow, login, retryAfter]

    static func starter() -> [StarterFile] {
        authStarter(
            info, task: "Limit POST /auth/login to LOGIN_LIMIT attempts per minute per client address, answering 429 with Retry-After.", checks: checks,
            extra:
                "\nAgainst your server only the two HTTP checks run (the limiter checks judge the lab's own limiters); run it on a fresh server, since earlier logins count against the minute. Tell the lab your limit with `--param login-limit=N`.\n"
        )
    }

    func run(_ lab: LabContext) async throws {
        let choice = lab[Self.breaker]
        let rateFault = RateFault(rawValue: choice)
        let authFault = AuthFault(rawValue: choice) ?? .none
        let clock = lab.clock.isManual ? lab.clock : LabClock.manual()
        let isReferenceRun = lab.subject.kind == .reference

        if isReferenceRun {
            try await limiters(lab, fault: rateFault, clock: clock)
        } else {
            for c in [Self.bucket, Self.window, Self.refill, Self.redisBucket, Self.redisWindow] {
                lab.record(c, isReference: false, false, observed: "")
            }
        }

        // Over HTTP: the login limit.
        let loginLimit = lab[Self.loginLimit]
        let subject = try await startAuthBookshelf(
            lab, AuthOptions(fault: authFault, loginLimit: loginLimit),
            clock: clock)
        let api = subject.api, isReference = subject.isReference
        let token = runToken()
        let made = await api.signUp("limited-\(token)@example.test", "correct horse \(token) battery")
        lab.step("Signed up a user", made.summary)
        // Eight clients at once, each sending its share of login-limit + 8 attempts (two at least).
        let each = max(2, (loginLimit + 8 + 7) / 8)
        let calls: [Call] = await withTaskGroup(of: [Call].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var mine: [Call] = []
                    for _ in 0..<each { mine.append(await api.login("limited-\(token)@example.test", "wrong password \(token)")) }
                    return mine
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        let refused = calls.filter { $0.status == 429 }, answered = calls.filter { $0.status != nil && $0.status != 429 }
        let lost = calls.filter { $0.status == nil }
        lab.record(
            Self.login, isReference: isReference, answered.count == loginLimit && refused.count == calls.count - loginLimit && lost.isEmpty,
            observed:
                "\(calls.count) attempts: \(answered.count) not 429 (want \(loginLimit)), \(refused.count) answered 429\(lost.isEmpty ? "" : ", \(lost.count) unanswered: \(observed(lost, limit: 1))")"
        )

        let values = refused.map { $0.reply?.header("Retry-After") ?? "none" }
        let seconds = values.compactMap { Int($0) }
        var retryOK = !refused.isEmpty && seconds.count == values.count && seconds.allSatisfy { (1...60).contains($0) }
        var detail = "Retry-After values: \(Set(values).sorted().joined(separator: ", "))"
        if isReference, retryOK, let wait = seconds.min() {
            try await clock.sleep(for: .seconds(wait - 1))
            let early = await api.login("limited-\(token)@example.test", "wrong password \(token)")
            try await clock.sleep(for: .seconds(1))
            let onTime = await api.login("limited-\(token)@example.test", "wrong password \(token)")
            retryOK = early.status == 429 && onTime.status == 401
            detail += "; \(wait - 1) s later: \(statusText(early)); \(wait) s later: \(statusText(onTime))"
        }
        lab.record(Self.retryAfter, isReference: isReference, retryOK, observed: detail)
        if let exit = subject.service.exitDescription {
            lab.step("Your server stopped during the checks: \(exit)", subject.service.outputTail() ?? "")
        }
    }

    /// The in-process and Redis limiters under 8 concurrent clients on the manual clock.
    func limiters(_ lab: LabContext, fault: RateFault?, clock: LabClock) async throws {
        let limit = lab[Self.limit]
        let window = Duration.seconds(10)
        let period = Duration.nanoseconds(window.nanos / Int64(limit))
        let perClient = (2 * limit) / 8 + 2
        let base = clock.elapsed
        let times = (3...10).map { base + window * $0 / 4 }

        func rounds(_ limiters: [any Limiter], key: String) async throws -> [(at: Duration, admitted: Int)] {
            var out: [(at: Duration, admitted: Int)] = []
            for t in times { out.append((t, try await hammer(limiters, key: key, at: t, perClient: perClient))) }
            return out
        }
        func describe(_ r: [(at: Duration, admitted: Int)]) -> String {
            r.map { "\(Measure.seconds($0.at - base))s:\($0.admitted)" }.joined(separator: " ")
        }

        // In process.
        let bucket = TokenBucket(capacity: limit, period: period, racy: fault == .racyBucket)
        let b = try await rounds(Array(repeating: bucket, count: 8), key: "bucket")
        lab.record(
            Self.bucket, isReference: true, b.first?.admitted == limit && worstWindow(b, window: window) <= 2 * limit,
            observed: "admitted per round (time:count) \(describe(b)); worst 10 s window \(worstWindow(b, window: window)) (bound \(2 * limit))")
        let sliding = SlidingWindow(limit: limit, window: window, fixed: fault == .fixedWindow)
        let w = try await rounds(Array(repeating: sliding, count: 8), key: "window")
        lab.record(
            Self.window, isReference: true, w.first?.admitted == limit && worstWindow(w, window: window) <= limit,
            observed: "admitted per round \(describe(w)); worst 10 s window \(worstWindow(w, window: window)) (limit \(limit))")

        // Redis.
        let redis = try await ThrowawayRedis.start(for: lab)
        var connections: [RedisClient] = []
        for _ in 0..<8 { connections.append(try await redis.connect()) }
        let redisBucket = connections.map { RedisLimiter(kind: fault == .redisGetSet ? .getThenSet : .tokenBucket, client: $0, limit: limit, span: period) }
        let rb = try await rounds(redisBucket, key: "bucket")
        lab.record(
            Self.redisBucket, isReference: true, rb.first?.admitted == limit && worstWindow(rb, window: window) <= 2 * limit,
            observed: "admitted per round \(describe(rb)); worst 10 s window \(worstWindow(rb, window: window)) (bound \(2 * limit))")
        let redisWindow = connections.map {
            RedisLimiter(kind: fault == .redisFixedWindow ? .fixedWindow : .slidingWindow, client: $0, limit: limit, span: window)
        }
        let rw = try await rounds(redisWindow, key: "window")
        lab.record(
            Self.redisWindow, isReference: true, rw.first?.admitted == limit && worstWindow(rw, window: window) <= limit,
            observed: "admitted per round \(describe(rw)); worst 10 s window \(worstWindow(rw, window: window)) (limit \(limit))")

        // Refill, on a fresh key: drain, then step the clock.
        func refillSteps(_ limiters: [any Limiter]) async throws -> [Int] {
            var t = times.last! + window * 4
            var seen = [try await hammer(limiters, key: "refill", at: t, perClient: perClient)]
            for step in [period, period * 3, window * 2] {
                t += step
                seen.append(try await hammer(limiters, key: "refill", at: t, perClient: perClient))
            }
            return seen
        }
        let want = [limit, 1, 3, limit]
        let local = try await refillSteps(Array(repeating: TokenBucket(capacity: limit, period: period, uncapped: fault == .uncappedRefill), count: 8))
        let remote = try await refillSteps(connections.map { RedisLimiter(kind: .tokenBucket, client: $0, limit: limit, span: period) })
        lab.record(
            Self.refill, isReference: true, local == want && remote == want,
            observed: "admitted when drained, +1 period, +3 periods, +2 windows idle: in process \(local), in Redis \(remote) (want \(want))")
    }
}
