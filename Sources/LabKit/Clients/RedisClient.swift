// The kit's Redis client: RESP (Redis's wire protocol) over the throwaway server's unix
// socket. A command is an array of bulk strings; a reply is one RESP value. Besides one
// command at a time it pipelines (many commands written at once, the replies read back in
// order: one round trip instead of many), and it has the typed helpers the phase-7 labs
// use: strings with a TTL, EXPIRE/PTTL, PUBLISH and SUBSCRIBE (after which the server
// pushes `message` arrays), EVAL (a Lua script run atomically) and INFO, parsed.
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A reply in RESP, Redis's protocol.
public enum RESPValue: Sendable, Equatable {
    case simple(String)
    case error(String)
    case integer(Int)
    /// nil: the null bulk string (a missing key).
    case bulk(String?)
    /// nil: the null array.
    case array([RESPValue]?)

    /// The reply as text: a simple or bulk string (nil for a null bulk or another kind).
    public var string: String? {
        switch self {
        case let .simple(s): s
        case let .bulk(s): s
        default: nil
        }
    }

    public var int: Int? {
        if case let .integer(i) = self { return i }
        return nil
    }
}

/// A message pushed to a subscriber: the channel it was published on and its payload.
public struct RedisMessage: Sendable, Equatable {
    public var channel: String
    public var payload: String
    public init(channel: String, payload: String) { self.channel = channel; self.payload = payload }
}

/// `INFO`'s `field:value` lines, with the counters the caching labs read.
public struct RedisInfo: Sendable {
    public var fields: [String: String]

    public init(parsing text: String) {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        }
        self.fields = fields
    }

    public subscript(_ field: String) -> String? { fields[field] }
    public func int(_ field: String) -> Int? { fields[field].flatMap { Int($0) } }

    /// Reads of an existing key (GET and friends) since start or `CONFIG RESETSTAT`.
    public var keyspaceHits: Int { int("keyspace_hits") ?? 0 }
    /// Reads of a missing key.
    public var keyspaceMisses: Int { int("keyspace_misses") ?? 0 }
    /// Keys removed because their TTL ran out.
    public var expiredKeys: Int { int("expired_keys") ?? 0 }
}

/// A minimal Redis client over a unix socket: commands (one at a time, or pipelined),
/// replies parsed from RESP. Blocking socket calls run on the client's own serial queue,
/// never on the tasks' pool, so concurrent callers are served one after another.
public final class RedisClient: Sendable {
    private let fd: Int32
    private let queue: DispatchQueue
    /// Bytes received and not yet parsed: `bytes[head...]`.
    private let buffer = Mutex<(bytes: [UInt8], head: Int)>(([], 0))
    private let closed = Mutex(false)

    private init(fd: Int32) {
        self.fd = fd
        queue = DispatchQueue(label: "labkit.redis.\(fd)")
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public static func connect(_ path: String) async throws -> RedisClient {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            Glibc.close(fd)
            throw Failure(description: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw Failure(description: "connect \(path): \(message)")
        }
        // A reply that never comes ends in an error, not a hang.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return RedisClient(fd: fd)
    }

    // MARK: Commands

    /// Sends one command and returns its reply; an error reply comes back as `.error`.
    @discardableResult
    public func command(_ arguments: String...) async throws -> RESPValue {
        try await command(arguments)
    }

    @discardableResult
    public func command(_ arguments: [String]) async throws -> RESPValue {
        try await pipeline([arguments])[0]
    }

    /// Writes every command at once and reads their replies back in order: one round trip
    /// for the lot. Error replies come back as `.error`, in their place.
    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        try Task.checkCancellation()
        guard !commands.isEmpty else { return [] }
        let message = commands.flatMap(Self.encode)
        return try await onQueue {
            try self.send(message)
            return try commands.map { _ in try self.readValue() }
        }
    }

    /// RESP's request form: an array of bulk strings.
    public static func encode(_ arguments: [String]) -> [UInt8] {
        var out = Array("*\(arguments.count)\r\n".utf8)
        for a in arguments {
            out += Array("$\(a.utf8.count)\r\n".utf8)
            out += Array(a.utf8)
            out += [13, 10]
        }
        return out
    }

    /// The next value the server pushes (after SUBSCRIBE: each message).
    public func next() async throws -> RESPValue {
        try await onQueue { try self.readValue() }
    }

    public func close() async {
        let already = closed.withLock { c in
            defer { c = true }
            return c
        }
        if !already { Glibc.shutdown(fd, Int32(SHUT_RDWR)); Glibc.close(fd) }
    }

    // MARK: Typed helpers (an error reply throws `Failure`)

    /// The reply, or `Failure` when Redis answered with an error.
    @discardableResult
    public func checked(_ arguments: [String]) async throws -> RESPValue {
        let reply = try await command(arguments)
        if case let .error(message) = reply { throw Failure(description: "\(arguments.first ?? "") failed: \(message)") }
        return reply
    }

    /// GET: the value, or nil when the key is missing (or expired).
    public func get(_ key: String) async throws -> String? {
        try await checked(["GET", key]).string
    }

    /// SET, with a time to live when `ttl` is given (`PX` milliseconds).
    public func set(_ key: String, _ value: String, ttl: Duration? = nil) async throws {
        var arguments = ["SET", key, value]
        if let ttl { arguments += ["PX", String(Self.milliseconds(ttl))] }
        try await checked(arguments)
    }

    /// DEL: how many of the keys existed.
    @discardableResult
    public func del(_ keys: String...) async throws -> Int {
        try await checked(["DEL"] + keys).int ?? 0
    }

    public func exists(_ key: String) async throws -> Bool {
        try await checked(["EXISTS", key]).int == 1
    }

    /// PEXPIRE: gives an existing key a time to live; false when the key does not exist.
    @discardableResult
    public func expire(_ key: String, after ttl: Duration) async throws -> Bool {
        try await checked(["PEXPIRE", key, String(Self.milliseconds(ttl))]).int == 1
    }

    /// PTTL in milliseconds: -1 when the key has no expiry, -2 when it does not exist.
    public func pttl(_ key: String) async throws -> Int {
        try await checked(["PTTL", key]).int ?? -2
    }

    /// TTL in whole seconds: -1 when the key has no expiry, -2 when it does not exist.
    public func ttl(_ key: String) async throws -> Int {
        try await checked(["TTL", key]).int ?? -2
    }

    /// PUBLISH: how many subscribers received the message.
    @discardableResult
    public func publish(_ channel: String, _ message: String) async throws -> Int {
        try await checked(["PUBLISH", channel, message]).int ?? 0
    }

    /// SUBSCRIBE: reads each channel's confirmation; from then on this connection only
    /// receives messages (`nextMessage`), so give a subscriber its own client.
    public func subscribe(_ channels: String...) async throws {
        let message = Self.encode(["SUBSCRIBE"] + channels)
        let confirmations = try await onQueue {
            try self.send(message)
            return try channels.map { _ in try self.readValue() }
        }
        for c in confirmations {
            guard case let .array(parts?) = c, parts.first?.string == "subscribe" else {
                throw Failure(description: "SUBSCRIBE was not confirmed: \(c)")
            }
        }
    }

    /// The next published message on a subscribed connection (skipping other pushes).
    public func nextMessage() async throws -> RedisMessage {
        while true {
            let value = try await next()
            if case let .array(parts?) = value, parts.count == 3, parts[0].string == "message",
                let channel = parts[1].string, let payload = parts[2].string
            {
                return RedisMessage(channel: channel, payload: payload)
            }
        }
    }

    /// EVAL: runs a Lua script atomically on the server with `keys` (KEYS[1]…) and `args` (ARGV[1]…).
    public func eval(_ script: String, keys: [String] = [], args: [String] = []) async throws -> RESPValue {
        try await checked(["EVAL", script, String(keys.count)] + keys + args)
    }

    /// INFO (one section, or the default ones), parsed into fields.
    public func info(_ section: String? = nil) async throws -> RedisInfo {
        let reply = try await checked(["INFO"] + (section.map { [$0] } ?? []))
        return RedisInfo(parsing: reply.string ?? "")
    }

    /// CONFIG RESETSTAT: zeroes INFO's counters (keyspace hits and misses among them).
    public func resetStats() async throws {
        try await checked(["CONFIG", "RESETSTAT"])
    }

    static func milliseconds(_ d: Duration) -> Int64 {
        max(1, d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }

    // MARK: The wire

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    private func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw Failure(description: n == 0 ? "the server closed the connection" : "recv: \(String(cString: strerror(errno)))") }
        buffer.withLock { b in
            // Drop what has been parsed before growing the buffer.
            if b.head > 0 { b.bytes.removeFirst(b.head); b.head = 0 }
            b.bytes.append(contentsOf: chunk[0..<n])
        }
    }

    private func line() throws -> String {
        while true {
            let found: String? = buffer.withLock { b in
                var i = b.head
                while i + 1 < b.bytes.count {
                    if b.bytes[i] == 13 && b.bytes[i + 1] == 10 {
                        let text = String(decoding: b.bytes[b.head..<i], as: UTF8.self)
                        b.head = i + 2
                        return text
                    }
                    i += 1
                }
                return nil
            }
            if let found { return found }
            try fill()
        }
    }

    private func bytes(_ count: Int) throws -> [UInt8] {
        while buffer.withLock({ $0.bytes.count - $0.head }) < count + 2 { try fill() }
        return buffer.withLock { b in
            let out = Array(b.bytes[b.head..<(b.head + count)])
            b.head += count + 2
            return out
        }
    }

    private func readValue() throws -> RESPValue {
        let l = try line()
        guard let kind = l.first else { throw Failure(description: "empty reply line") }
        let rest = String(l.dropFirst())
        switch kind {
        case "+": return .simple(rest)
        case "-": return .error(rest)
        case ":":
            guard let i = Int(rest) else { throw Failure(description: "bad integer reply \(rest)") }
            return .integer(i)
        case "$":
            guard let n = Int(rest) else { throw Failure(description: "bad bulk length \(rest)") }
            if n < 0 { return .bulk(nil) }
            return .bulk(String(decoding: try bytes(n), as: UTF8.self))
        case "*":
            guard let n = Int(rest) else { throw Failure(description: "bad array length \(rest)") }
            if n < 0 { return .array(nil) }
            return .array(try (0..<n).map { _ in try readValue() })
        default:
            throw Failure(description: "unknown reply type \(kind)")
        }
    }
}
