import Foundation
import LabCatalog
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `redis-server` that lives for one lab run: no persistence (`--save ''`,
/// `--appendonly no`), no TCP port, a unix socket in the lab's scratch folder; stopped and
/// deleted by a clean-up registered with `lab.onCleanup`, whatever becomes of the lab.
/// Labs talk to it with `RedisClient` (Clients/RedisClient.swift), a small RESP client
/// (there is no Redis package in the build).
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
    public static func start(
        for lab: LabContext,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> ThrowawayRedis {
        guard let program = locate(environment: environment) else {
            throw LabUnavailable(.redis, detail: "no redis-server on PATH")
        }
        let directory = lab.scratch.standardizedFileURL.path + "/redis"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var socket = directory + "/redis.sock"
        if socket.utf8.count > 100 { socket = "/tmp/labkit-redis-\(UUID().uuidString.prefix(8)).sock" }
        let log = directory + "/redis.log"
        let pid = try Subprocess.spawn(
            program,
            [
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
            let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("redis_version:") })
        {
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
