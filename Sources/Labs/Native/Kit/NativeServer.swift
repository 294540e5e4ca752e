import Foundation
import Glibc
import LabKit
import Synchronization

/// A compiled server the lab runs itself (the reference, or the learner's `--source`): on a
/// free loopback port given as `PORT`, output in the scratch folder, stopped with SIGTERM
/// (SIGKILL after 3 s) as a clean-up.
public final class NativeServer: Sendable {
    public let pid: pid_t
    public let port: Int
    public let log: String
    private let ended = Mutex<Subprocess.Termination?>(nil)

    private init(pid: pid_t, port: Int, log: String) {
        self.pid = pid; self.port = port; self.log = log
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var termination: Subprocess.Termination? { ended.withLock { $0 } }

    /// Starts `program` and waits (up to `timeout` seconds) until 127.0.0.1:PORT accepts.
    /// A server that exits first, or never listens, is a `SubjectFailure` with its last lines.
    public static func start(
        _ lab: LabContext, _ program: CppBuild.Executable, _ arguments: [String] = [],
        environment extra: [String: String] = [:], timeout: Double = 30
    ) async throws -> NativeServer {
        let port = try Loopback.freePort()
        var env = CppBuild.environment(for: program.sanitizers)
        env["PORT"] = String(port)
        for (k, v) in extra { env[k] = v }
        let log = lab.scratch.appendingPathComponent("\(program.url.lastPathComponent)-\(arguments.joined(separator: "-"))-\(port).log").path
        let pid: pid_t
        do {
            pid = try Subprocess.spawn(program.url.path, arguments, environment: env, output: log, directory: lab.scratch.path)
        } catch {
            throw LabError(error.description)
        }
        let server = NativeServer(pid: pid, port: port, log: log)
        Task.detached {
            let t = await Subprocess.wait(pid); server.ended.withLock { $0 = t }
        }
        lab.onCleanup { await server.stop() }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if Probe.accepts(port: port) { return server }
            if let t = server.termination {
                throw SubjectFailure("the server ended (\(t)) before it listened on 127.0.0.1:\(port); its last lines:\n" + server.tail())
            }
            if Date() > deadline {
                throw SubjectFailure("the server did not listen on 127.0.0.1:\(port) (from $PORT) within \(Int(timeout)) s; its last lines:\n" + server.tail())
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGTERM, up to 3 s, then SIGKILL; returns whether it ended on SIGTERM.
    @discardableResult
    public func stop() async -> Bool {
        guard termination == nil else { return true }
        kill(pid, SIGTERM)
        for _ in 0..<150 {
            if termination != nil { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        for _ in 0..<100 where termination == nil { try? await Task.sleep(for: .milliseconds(20)) }
        return false
    }

    public func tail(_ n: Int = 12) -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").suffix(n)
        return lines.isEmpty ? "(no output)" : lines.joined(separator: "\n")
    }
}

/// Blocking TCP client calls on loopback, for probes and the load generator.
enum Probe {
    static let stream = Int32(SOCK_STREAM.rawValue)

    /// Opens a connection to 127.0.0.1:port (blocking, with send/receive time limits), or -1.
    static func connect(port: Int, timeout: Double = 5, noDelay: Bool = true) -> Int32 {
        let fd = socket(AF_INET, stream, 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = noDelay ? 1 : 0
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else { close(fd); return -1 }
        return fd
    }

    static func accepts(port: Int) -> Bool {
        let fd = connect(port: port, timeout: 0.5)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    static func send(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var at = 0
        while at < bytes.count {
            let n = bytes[at...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            at += n
        }
        return true
    }

    /// Reads one HTTP/1.1 response (status line, headers, Content-Length body) from `fd`,
    /// keeping bytes past it in `buffer`; nil on EOF, error or timeout.
    static func readResponse(_ fd: Int32, _ buffer: inout [UInt8]) -> (status: Int, body: String)? {
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            if let end = find(buffer, [13, 10, 13, 10]) {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                let status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
                let length =
                    lines.dropFirst().compactMap { line -> Int? in
                        let p = line.split(separator: ":", maxSplits: 1)
                        return p.count == 2 && p[0].lowercased() == "content-length" ? Int(p[1].trimmingCharacters(in: .whitespaces)) : nil
                    }.first ?? 0
                if buffer.count >= end + 4 + length {
                    let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
                    buffer.removeFirst(end + 4 + length)
                    return (status, body)
                }
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    static func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}
