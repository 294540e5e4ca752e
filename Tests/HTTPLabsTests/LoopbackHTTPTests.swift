import Foundation
import LabCatalog
import LabKit
import Testing

@testable import HTTPLabs

/// The kit's loopback client turns what goes wrong on the wire into one sentence, and a
/// lab records it as a failed check instead of crashing.
@Suite(.serialized) struct LoopbackHTTPTests {
    /// A TCP server that misbehaves one way: "hang" (never answers), "close" (hangs up
    /// after reading the request), "garbage" (answers something that is not HTTP).
    static let rogue = """
        import os, socket, threading, time
        mode = os.environ["MODE"]
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen(16)
        def serve(c):
            c.recv(65536)
            if mode == "garbage": c.sendall(b"SSH-2.0-OpenSSH_9.2 not http at all\\r\\n\\r\\n"); time.sleep(0.2)
            if mode == "hang": time.sleep(30)
            c.close()
        while True:
            c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
        """

    static func startRogue(_ mode: String) async throws -> (url: String, pid: pid_t) {
        let port = try HTTPLabsTests.freePort()
        var environment = ProcessInfo.processInfo.environment
        environment["PORT"] = String(port); environment["MODE"] = mode
        let pid = try Subprocess.spawn("/usr/bin/python3", ["-c", rogue], environment: environment)
        // Wait until it accepts connections.
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET); address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            close(fd)
            if connected { return ("http://127.0.0.1:\(port)", pid) }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        HTTPLabsTests.stop(pid)
        throw LabError("the rogue server did not listen")
    }

    static func failure(_ mode: String, timeout: Duration = .seconds(5)) async throws -> String {
        let server = try await startRogue(mode)
        defer { HTTPLabsTests.stop(server.pid) }
        let http = LoopbackHTTP(baseURL: server.url, timeout: timeout)
        do {
            let reply = try await http.get("/health")
            await http.shutdown()
            return "answered \(reply.status)"
        } catch {
            await http.shutdown()
            return String(describing: error)
        }
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        let sentence = try await Self.failure("hang", timeout: .milliseconds(300))
        #expect(sentence.hasPrefix("no answer within"), "\(sentence)")
    }

    @Test func aServerThatHangsUpIsSaidToHaveClosedTheConnection() async throws {
        let sentence = try await Self.failure("close")
        #expect(sentence.contains("closed the connection"), "\(sentence)")
    }

    @Test func aReplyThatIsNotHTTPIsNamedSo() async throws {
        let sentence = try await Self.failure("garbage")
        #expect(sentence.contains("is not HTTP"), "\(sentence)")
    }

    @Test func headersAreLookedUpWhateverTheirCase() {
        let reply = HTTPReply(
            status: 201, headers: [(name: "location", value: "/books/1"), (name: "Content-Type", value: "application/problem+json; charset=utf-8")], body: [])
        #expect(reply.header("Location") == "/books/1")
        #expect(reply.header("LOCATION") == "/books/1")
        #expect(reply.mediaType == "application/problem+json")
        #expect(reply.header("Allow") == nil)
    }

    /// A --url that hangs up is found out by the kit's probe before any check runs: the
    /// run fails with that one sentence, and no check pretends to have judged anything.
    @Test func aLabAgainstAServerThatHangsUpFailsWithTheSentence() async throws {
        let server = try await Self.startRogue("close")
        defer { HTTPLabsTests.stop(server.pid) }
        let report = try await HTTPLabsTests.run("rest-api", subject: LabSubject(.url, server.url))
        #expect(report.outcome == .failed)
        #expect(report.error?.contains("closed the connection without answering") == true, "\(report.error ?? "")")
        #expect(report.checks.isEmpty)
    }
}
