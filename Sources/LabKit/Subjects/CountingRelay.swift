import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP relay on 127.0.0.1 that counts the connections it accepts and passes every byte
/// through to a server, unchanged, both ways.
///
/// How a lab observes connection reuse on a server it cannot see inside (the learner's, in
/// exercise mode): put the relay in front of it, send the requests to the relay, and each
/// TCP connection the client opens is one the server would have accepted. Closing is
/// passed on too: when either side ends its stream the other side's write half is shut, so
/// a server's `Connection: close` reaches the client as it would directly.
///
/// One thread accepts; each connection gets a thread that polls both sockets. Blocking
/// POSIX calls on threads of their own, like `Loopback`: a relay of a lab's handful of
/// connections needs no event loop. `stop()` (registered as a clean-up by `start`) closes
/// the listener and every open connection and waits for the threads.
public final class CountingRelay: Sendable {
    /// The relay's own port on 127.0.0.1.
    public let port: Int
    /// "http://127.0.0.1:PORT": the base URL a client uses instead of the server's.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private struct State {
        var accepted = 0
        var open: Set<Int32> = []
        var threads = 0
        var stopping = false
    }
    private let state = Mutex(State())
    private let listener: Int32
    private let upstreamHost: String
    private let upstreamPort: Int

    /// Connections accepted since the start or the last `reset()`.
    public var connections: Int { state.withLock { $0.accepted } }
    public func reset() { state.withLock { $0.accepted = 0 } }

    private init(listener: Int32, port: Int, upstreamHost: String, upstreamPort: Int) {
        self.listener = listener; self.port = port; self.upstreamHost = upstreamHost; self.upstreamPort = upstreamPort
    }

    /// Starts a relay in front of `baseURL`'s host and port (an `http://` URL).
    public static func start(_ lab: LabContext, to baseURL: String) throws -> CountingRelay {
        guard let components = URLComponents(string: baseURL), let host = components.host else {
            throw LabError("cannot relay to \(baseURL): not an http://host:port URL")
        }
        let relay = try start(to: host, port: components.port ?? (components.scheme == "https" ? 443 : 80))
        lab.onCleanup { relay.stop() }
        return relay
    }

    /// Starts a relay in front of `host:port`; the caller stops it.
    public static func start(to host: String, port upstream: Int) throws -> CountingRelay {
        let (fd, port): (Int32, Int)
        do { (fd, port) = try Loopback.boundSocket(listening: true) } catch { throw LabError("the relay \(error)") }
        let relay = CountingRelay(listener: fd, port: port, upstreamHost: host, upstreamPort: upstream)
        relay.state.withLock { $0.threads += 1 }
        Thread.detachNewThread { relay.acceptLoop() }
        return relay
    }

    /// Closes the listener and every connection, and waits (up to 5 s) for the threads.
    public func stop() {
        let fds: [Int32] = state.withLock { s in
            guard !s.stopping else { return [] }
            s.stopping = true
            return Array(s.open)
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        let deadline = ContinuousClock.now + .seconds(5)
        while state.withLock({ $0.threads }) > 0, ContinuousClock.now < deadline { usleep(5_000) }
        close(listener)
    }

    private func acceptLoop() {
        defer { state.withLock { $0.threads -= 1 } }
        while true {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 100)
            if state.withLock({ $0.stopping }) { return }
            guard ready > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            let admitted = state.withLock { s -> Bool in
                guard !s.stopping else { return false }
                s.accepted += 1
                s.threads += 1
                return true
            }
            guard admitted else { close(client); return }
            Thread.detachNewThread { [self] in pipe(client) }
        }
    }

    /// Connects upstream, then passes bytes both ways until both directions have ended.
    private func pipe(_ client: Int32) {
        defer { state.withLock { $0.threads -= 1 } }
        guard case let .connected(server) = Loopback.connect(host: upstreamHost, port: upstreamPort, timeout: 5) else {
            close(client)
            return
        }
        _ = fcntl(server, F_SETFL, fcntl(server, F_GETFL) & ~O_NONBLOCK)
        let registered = state.withLock { s -> Bool in
            guard !s.stopping else { return false }
            s.open.formUnion([client, server])
            return true
        }
        defer {
            state.withLock { $0.open.subtract([client, server]) }
            close(client); close(server)
        }
        guard registered else { return }
        // Bytes go on at once: Nagle's algorithm on the relay would hold a small second
        // write (a body after its headers) for the peer's delayed ACK, 40 ms a time.
        var yes: Int32 = 1
        for fd in [client, server] { setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size)) }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        // Which directions are still flowing: client → server, server → client.
        var flowing = [true, true]
        let ends: [(from: Int32, to: Int32)] = [(client, server), (server, client)]
        while flowing.contains(true) {
            var pfds = ends.enumerated().map { i, end in pollfd(fd: flowing[i] ? end.from : -1, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&pfds, 2, 200)
            if state.withLock({ $0.stopping }) { return }
            if ready < 0 && errno != EINTR { return }
            guard ready > 0 else { continue }
            for (i, end) in ends.enumerated() where flowing[i] && pfds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { recv(end.from, $0.baseAddress, $0.count, 0) }
                if n > 0, Self.sendAll(end.to, buffer, count: n) { continue }
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                // End of stream (or an error): pass the close on and stop reading this way.
                flowing[i] = false
                shutdown(end.to, Int32(SHUT_WR))
                // A reset means nothing more can flow either way.
                if n < 0 { return }
            }
        }
    }

    private static func sendAll(_ fd: Int32, _ buffer: [UInt8], count: Int) -> Bool {
        var sent = 0
        while sent < count {
            let n = buffer[sent..<count].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Loopback.noSignal) }
            if n > 0 { sent += n } else if n < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }
}
