import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few socket operations the subject runner needs: a free port, a TCP connect with a
/// time limit, and one raw HTTP request that tells an HTTP server from anything else.
///
/// Plain POSIX sockets, not the kit's HTTP client: a probe must classify what a broken
/// server does (refuses, stays silent, answers garbage) rather than fail on it, and every
/// call here blocks for at most its time limit, on a thread of its own (`offThread`).
public enum Loopback {
    #if canImport(Glibc)
    static let stream = Int32(SOCK_STREAM.rawValue)
    // Writing to a socket the peer closed must be an error, not a SIGPIPE that kills the lab.
    static let noSignal = Int32(MSG_NOSIGNAL)
    #else
    static let stream = SOCK_STREAM
    static let noSignal: Int32 = 0
    #endif

    /// A TCP port free on 127.0.0.1 now: bind port 0, read the port the kernel chose, close.
    /// The learner's server binds it a moment later; the kernel hands out ephemeral ports in
    /// turn, so the same one is not given to someone else in between.
    public static func freePort() throws(SubjectFailure) -> Int {
        let (fd, port) = try boundSocket(listening: false)
        close(fd)
        return port
    }

    /// A TCP socket bound to 127.0.0.1 on a port the kernel chose (listening when asked),
    /// and that port. The caller closes it.
    static func boundSocket(listening: Bool) throws(SubjectFailure) -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, stream, 0)
        guard fd >= 0 else { throw SubjectFailure("could not open a socket on 127.0.0.1: \(lastError())") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, named == 0, !listening || listen(fd, 128) == 0 else {
            let reason = lastError()
            close(fd)
            throw SubjectFailure("could not \(listening ? "listen" : "find a free port") on 127.0.0.1: \(reason)")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    enum Connection {
        case connected(Int32)
        /// Nothing listens there (ECONNREFUSED), or the host has no such address.
        case refused(String)
        case timedOut
    }

    /// Opens a TCP connection to `host:port` (each address the name resolves to, in turn),
    /// giving up after `timeout` seconds. The socket comes back non-blocking.
    static func connect(host: String, port: Int, timeout: Double) -> Connection {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = stream
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            return .refused("\(host) does not resolve (\(String(cString: gai_strerror(resolved))))")
        }
        defer { freeaddrinfo(first) }
        let deadline = Date().addingTimeInterval(timeout)
        var outcome = Connection.refused("connection refused")
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let ai = next {
            next = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, stream, 0)
            guard fd >= 0 else { continue }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var failure: Int32 = systemConnect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 ? 0 : errno
            if failure == EINPROGRESS {
                let left = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&pfd, 1, left) <= 0 {
                    close(fd)
                    outcome = .timedOut
                    continue
                }
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                failure = soError
            }
            if failure == 0 { return .connected(fd) }
            let reason = String(cString: strerror(failure))
            close(fd)
            if case .timedOut = outcome { continue }
            outcome = .refused(reason)
        }
        return outcome
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port` right now.
    public static func accepts(port: Int, timeout: Double = 0.5) -> Bool {
        guard case let .connected(fd) = connect(host: "127.0.0.1", port: port, timeout: timeout) else { return false }
        close(fd)
        return true
    }

    enum Answer: Equatable {
        /// The first line of an HTTP response ("HTTP/1.1 200 OK").
        case http(String)
        /// Bytes that are not an HTTP response, shown printable.
        case notHTTP(String)
        /// The peer closed (or reset) the connection without a byte.
        case closed
        case noAnswer
    }

    /// Sends `GET path` on a connected socket and reads until the status line is complete,
    /// the peer closes, or `timeout` seconds pass. Closes the socket.
    static func request(_ fd: Int32, host: String, path: String, timeout: Double) -> Answer {
        defer { close(fd) }
        let deadline = Date().addingTimeInterval(timeout)
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nAccept: */*\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        // A server that answers (or hangs up) before reading the request is judged by what
        // it sent, so a failed write only ends the writing.
        writing: while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, noSignal) }
            if n > 0 { sent += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&pfd, 1, Int32(max(0, deadline.timeIntervalSinceNow) * 1000)) > 0 { continue }
                return .noAnswer
            }
            break writing
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while received.count < 512, !received.contains(10) {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(left * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { break }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n > 0 { received += chunk[0..<n]; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            // 0: an orderly close; < 0: a reset. Either way nothing more will come.
            return received.isEmpty ? .closed : classify(received)
        }
        return received.isEmpty ? .noAnswer : classify(received)
    }

    static func classify(_ bytes: [UInt8]) -> Answer {
        let line = bytes.prefix { $0 != 10 && $0 != 13 }
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("HTTP/"), text.split(separator: " ").count >= 2 { return .http(text) }
        return .notHTTP(printable(bytes.prefix(40)))
    }

    /// Bytes as a learner can read them in a report: ASCII as is, the rest as \xNN.
    static func printable<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        bytes.map { b in
            switch b {
            case 10: return "\\n"
            case 13: return "\\r"
            case 32...126: return String(UnicodeScalar(b))
            default: return String(format: "\\x%02x", b)
            }
        }.joined()
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}

/// `connect` as the C library names it; inside `Loopback` the name is taken by our own.
private func systemConnect(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>!, _ length: socklen_t) -> Int32 {
    #if canImport(Glibc)
    return Glibc.connect(fd, address, length)
    #else
    return Darwin.connect(fd, address, length)
    #endif
}

/// Runs a blocking call on a thread of its own, so no thread of the cooperative pool waits
/// on a socket or a child, and so the call finishes even in a cancelled task (clean-ups run
/// in one, and must still wait for the server they stop).
public func offThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        Thread { continuation.resume(returning: body()) }.start()
    }
}
