import Foundation
import LabKit
import Synchronization

// Two rate limiters, each in process and in Redis, on the lab's clock (integer time):
// - token bucket: `capacity` tokens, one more every `period`; a request takes one or is
//   refused. Bursts up to capacity; in any window W at most capacity + W/period.
// - sliding window log: the times of the admitted requests in the last W; a request is
//   admitted while fewer than `limit` are. Never more than `limit` in any window W.
// The breakers are the classic mistakes: check-then-act split across a wait (racy), refill
// not capped at capacity, a fixed window (2× the limit across a boundary), and GET-then-SET
// from the client instead of one atomic script.

/// What a limiter answered: admitted, and when refused how long until it would admit.
struct Decision: Sendable {
    var admitted: Bool
    var retryAfter: Duration
}

protocol Limiter: Sendable {
    func attempt(key: String, at now: Duration) async throws -> Decision
}

extension Duration {
    var nanos: Int64 {
        let c = components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
}

/// A token bucket in process. `racy`: reads the level, waits 1 ms, then writes it back
/// (what a read-modify-write without a lock or an atomic step does); `uncapped`: refill is
/// not capped at capacity.
final class TokenBucket: Limiter {
    let capacity: Int
    let period: Duration
    let racy: Bool
    let uncapped: Bool
    private let state = Mutex<[String: (tokens: Int, last: Duration)]>([:])

    init(capacity: Int, period: Duration, racy: Bool = false, uncapped: Bool = false) {
        self.capacity = capacity; self.period = period; self.racy = racy; self.uncapped = uncapped
    }

    private func refilled(_ s: (tokens: Int, last: Duration)?, at now: Duration) -> (tokens: Int, last: Duration) {
        guard var s else { return (capacity, now) }
        let added = Int((now - s.last).nanos / period.nanos)
        if added > 0 {
            s.tokens = uncapped ? s.tokens + added : min(capacity, s.tokens + added)
            s.last += period * added
        }
        if !uncapped, s.tokens >= capacity { s.last = now }
        return s
    }

    func attempt(key: String, at now: Duration) async throws -> Decision {
        if racy {
            let seen = state.withLock { refilled($0[key], at: now) }
            try await Task.sleep(for: .milliseconds(1))
            let ok = seen.tokens > 0
            state.withLock { $0[key] = (ok ? seen.tokens - 1 : seen.tokens, seen.last) }
            return Decision(admitted: ok, retryAfter: ok ? .zero : period - (now - seen.last))
        }
        return state.withLock { all in
            var s = refilled(all[key], at: now)
            let ok = s.tokens > 0
            if ok { s.tokens -= 1 }
            all[key] = s
            return Decision(admitted: ok, retryAfter: ok ? .zero : period - (now - s.last))
        }
    }
}

/// A sliding window log in process. `fixed`: a fixed window instead (counts reset at
/// every multiple of W), which admits up to 2× the limit across a boundary.
final class SlidingWindow: Limiter {
    let limit: Int
    let window: Duration
    let fixed: Bool
    private let state = Mutex<[String: [Duration]]>([:])

    init(limit: Int, window: Duration, fixed: Bool = false) {
        self.limit = limit; self.window = window; self.fixed = fixed
    }

    func attempt(key: String, at now: Duration) async throws -> Decision {
        state.withLock { all in
            var log = all[key] ?? []
            let refusal: Duration?
            if fixed {
                let start = window * Int(now.nanos / window.nanos)
                log = log.filter { $0 >= start }
                refusal = log.count < limit ? nil : start + window - now
            } else {
                log = log.filter { now - $0 < window }
                refusal = log.count < limit ? nil : log[0] + window - now
            }
            if refusal == nil { log.append(now) }
            all[key] = log
            return Decision(admitted: refusal == nil, retryAfter: refusal ?? .zero)
        }
    }
}

/// The Redis versions: one atomic Lua script per attempt (EVAL), time passed in from the
/// lab's clock as integer microseconds, so the injected clock drives Redis too.
enum RedisScripts {
    static let tokenBucket = """
        local capacity = tonumber(ARGV[1])
        local period = tonumber(ARGV[2])
        local now = tonumber(ARGV[3])
        local h = redis.call('HMGET', KEYS[1], 'tokens', 'last')
        local tokens = tonumber(h[1]) or capacity
        local last = tonumber(h[2]) or now
        local added = math.floor((now - last) / period)
        if added > 0 then
          tokens = math.min(capacity, tokens + added)
          last = last + added * period
        end
        if tokens >= capacity then last = now end
        local ok = 0
        if tokens > 0 then
          tokens = tokens - 1
          ok = 1
        end
        redis.call('HSET', KEYS[1], 'tokens', tokens, 'last', last)
        local wait = 0
        if ok == 0 then wait = period - (now - last) end
        return {ok, wait}
        """

    static let slidingWindow = """
        local limit = tonumber(ARGV[1])
        local window = tonumber(ARGV[2])
        local now = tonumber(ARGV[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
        local n = redis.call('ZCARD', KEYS[1])
        if n < limit then
          redis.call('ZADD', KEYS[1], now, ARGV[4])
          return {1, 0}
        end
        local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        return {0, tonumber(oldest[2]) + window - now}
        """

    /// The redis-fixed-window breaker: INCR on a key per window.
    static let fixedWindow = """
        local limit = tonumber(ARGV[1])
        local window = tonumber(ARGV[2])
        local now = tonumber(ARGV[3])
        local start = now - (now % window)
        local key = KEYS[1] .. ':' .. start
        local n = redis.call('INCR', key)
        if n <= limit then return {1, 0} end
        return {0, start + window - now}
        """
}

func micros(_ d: Duration) -> Int64 { d.nanos / 1000 }

/// A limiter in Redis: each client task has its own connection (8 clients, 8 connections).
struct RedisLimiter: Limiter {
    enum Kind: Sendable { case tokenBucket, slidingWindow, fixedWindow, getThenSet }
    let kind: Kind
    let client: RedisClient
    let limit: Int
    /// The bucket's refill period, or the window.
    let span: Duration

    func attempt(key: String, at now: Duration) async throws -> Decision {
        let t = String(micros(now)), s = String(micros(span))
        let reply: RESPValue
        switch kind {
        case .tokenBucket:
            reply = try await client.command(["EVAL", RedisScripts.tokenBucket, "1", key, String(limit), s, t])
        case .slidingWindow:
            reply = try await client.command(["EVAL", RedisScripts.slidingWindow, "1", key, String(limit), s, t, UUID().uuidString])
        case .fixedWindow:
            reply = try await client.command(["EVAL", RedisScripts.fixedWindow, "1", key, String(limit), s, t])
        case .getThenSet:
            // The breaker: the bucket's read and write as two commands from the client, 1 ms apart.
            let level = try await client.command(["HGET", key, "tokens"])
            var tokens = limit
            if case let .bulk(v?) = level, let n = Int(v) { tokens = n }
            try await Task.sleep(for: .milliseconds(1))
            let ok = tokens > 0
            _ = try await client.command(["HSET", key, "tokens", String(ok ? tokens - 1 : tokens), "last", t])
            return Decision(admitted: ok, retryAfter: ok ? .zero : span)
        }
        guard case let .array(items?) = reply, items.count == 2,
            case let .integer(ok) = items[0], case let .integer(wait) = items[1]
        else {
            throw LabError("the Lua script answered \(reply)")
        }
        return Decision(admitted: ok == 1, retryAfter: .microseconds(wait))
    }
}

/// 8 (or `clients`) tasks, each attempting `perClient` times at the same clock instant;
/// returns how many were admitted.
func hammer(_ limiters: [any Limiter], key: String, at now: Duration, perClient: Int) async throws -> Int {
    try await withThrowingTaskGroup(of: Int.self) { group in
        for limiter in limiters {
            group.addTask {
                var n = 0
                for _ in 0..<perClient {
                    if try await limiter.attempt(key: key, at: now).admitted { n += 1 }
                }
                return n
            }
        }
        return try await group.reduce(0, +)
    }
}

/// The most admissions any window (t - W, t] holds, over a list of (time, count) rounds.
func worstWindow(_ rounds: [(at: Duration, admitted: Int)], window: Duration) -> Int {
    rounds.map { r in rounds.filter { $0.at <= r.at && r.at - $0.at < window }.reduce(0) { $0 + $1.admitted } }.max() ?? 0
}
