import Foundation
import LabCatalog
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A `redis-server` that lives for one lab run: no persistence (`--save ''`,
/// `--appendonly no`), no TCP port, a unix socket in the lab's scratch folder; stopped and
/// deleted by a clean-up registered with `lab.onCleanup`, whatever becomes of the lab.
/// Labs talk to it with `RedisClient`, a small RESP client (there is no Redis package in
/// the build).
public final class ThrowawayRedis: Sendable {
    public let directory: String
    public let socketPath: String
    public let pid: pid_t
    private let state = Mutex<(clients: [RedisClient], stopped: Bool)>(([], false))

    private init(directory: String, socketPath: String, pid: pid_t) {
        self.directory = directory; self.socketPath = socketPath; self.pid = pid
    }

    /// `redis-server` on PATH, or nil.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let dirs = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/redis-server" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts a server for `lab` and waits until it answers PING.
    /// - Throws: `LabUnavailable(.redis)` when `redis-server` is not installed.
    public static func start(for lab: LabContext,
                             environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> ThrowawayRedis {
        guard let program = locate(environment: environment) else {
            throw LabUnavailable(.redis, detail: "no redis-server on PATH")
        }
        let directory = lab.scratch.standardizedFileURL.path + "/redis"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var socket = directory + "/redis.sock"
        if socket.utf8.count > 100 { socket = "/tmp/labkit-redis-\(UUID().uuidString.prefix(8)).sock" }
        let log = directory + "/redis.log"
        let pid = try Subprocess.spawn(program, [
            "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", directory, "--logfile", log,
        ], directory: directory)
        let server = ThrowawayRedis(directory: directory, socketPath: socket, pid: pid)
        lab.onCleanup { await server.stop() }

        // Ready when it answers PING; give up if it exits or takes too long.
        let deadline = Date().addingTimeInterval(20)
        while true {
            if let client = try? await RedisClient.connect(socket), let pong = try? await client.command("PING") {
                await client.close()
                if pong == .simple("PONG") { break }
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let tail = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").suffix(3)
                throw LabError("redis-server exited at start: \(tail.joined(separator: " / "))")
            }
            guard Date() < deadline else { throw LabError("redis-server did not answer PING within 20 s") }
            try await Task.sleep(for: .milliseconds(10))
        }
        let client = try await server.connect()
        if case let .bulk(info?) = try await client.command("INFO", "server"),
           let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("redis_version:") }) {
            lab.engine("Redis \(line.dropFirst("redis_version:".count))")
        }
        lab.step("Started a throwaway Redis", "socket \(socket); no persistence; stopped and deleted when the lab ends")
        return server
    }

    /// A new client on the server's socket; closed when the server stops.
    public func connect() async throws -> RedisClient {
        let client = try await RedisClient.connect(socketPath)
        state.withLock { $0.clients.append(client) }
        return client
    }

    /// Closes the clients, stops the server (SIGTERM, SIGKILL after 10 s) and deletes its folder.
    public func stop() async {
        let clients: [RedisClient]? = state.withLock { s in
            if s.stopped { return nil }
            s.stopped = true
            return s.clients
        }
        guard let clients else { return }
        for c in clients { await c.close() }
        kill(pid, SIGTERM)
        _ = await Subprocess.wait(pid, timeout: 10)
        try? FileManager.default.removeItem(atPath: directory)
        if !socketPath.hasPrefix(directory) { unlink(socketPath) }
    }
}

/// A reply in RESP, Redis's protocol.
public enum RESPValue: Sendable, Equatable {
    case simple(String)
    case error(String)
    case integer(Int)
    /// nil: the null bulk string (a missing key).
    case bulk(String?)
    /// nil: the null array.
    case array([RESPValue]?)
}

/// A minimal Redis client over a unix socket: one command at a time, replies parsed from
/// RESP. Blocking socket calls run on the client's own serial queue, never on the tasks' pool.
public final class RedisClient: Sendable {
    private let fd: Int32
    private let queue: DispatchQueue
    private let buffer = Mutex<[UInt8]>([])
    private let closed = Mutex(false)

    private init(fd: Int32) {
        self.fd = fd
        queue = DispatchQueue(label: "labkit.redis.\(fd)")
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
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

    /// Sends one command and returns its reply; an error reply comes back as `.error`.
    @discardableResult
    public func command(_ arguments: String...) async throws -> RESPValue {
        try await command(arguments)
    }

    @discardableResult
    public func command(_ arguments: [String]) async throws -> RESPValue {
        try Task.checkCancellation()
        var out = "*\(arguments.count)\r\n"
        for a in arguments { out += "$\(a.utf8.count)\r\n\(a)\r\n" }
        let message = Array(out.utf8)
        return try await onQueue {
            try self.send(message)
            return try self.readValue()
        }
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
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw Failure(description: n == 0 ? "the server closed the connection" : "recv: \(String(cString: strerror(errno)))") }
        buffer.withLock { $0.append(contentsOf: chunk[0..<n]) }
    }

    private func line() throws -> String {
        while true {
            let found: String? = buffer.withLock { b in
                guard let i = b.indices.first(where: { $0 + 1 < b.count && b[$0] == 13 && b[$0 + 1] == 10 }) else { return nil }
                let text = String(decoding: b[0..<i], as: UTF8.self)
                b.removeFirst(i + 2)
                return text
            }
            if let found { return found }
            try fill()
        }
    }

    private func bytes(_ count: Int) throws -> [UInt8] {
        while buffer.withLock({ $0.count }) < count + 2 { try fill() }
        return buffer.withLock { b in
            let out = Array(b[0..<count])
            b.removeFirst(count + 2)
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
