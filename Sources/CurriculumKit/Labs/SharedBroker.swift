import Foundation
import LabCatalog
import Spawn

#if canImport(Glibc)
import Glibc
#endif

extension LabHost {
    /// One RabbitMQ broker for every queue lab of a `lab run`: an Erlang VM takes seconds to
    /// boot (5 s here, a minute on a loaded machine), the checks of a queue lab about as long.
    ///
    /// The broker lives in a holder process, `curriculum-labs hold-rabbitmq ROOT`, whose
    /// stdin is a pipe from the tracker: it prints the broker's descriptor line, which the
    /// tracker puts in the environment every lab inherits (`LabSharedServer.rabbitmqVariable`),
    /// and stops the broker when that pipe closes: when `stop()` closes it, or when the
    /// tracker dies, however it dies. ROOT is a scratch root like a lab's, so the sweep of
    /// abandoned runs covers it too.
    public final class SharedBroker {
        let pid: pid_t
        let root: String
        var stdinWrite: Int32
        /// The holder's first line: the broker's descriptor (JSON).
        public let descriptor: String
        /// How long the broker took to accept a login, as the holder measured it; nil when
        /// the holder printed no descriptor (its error line instead).
        public var startupSeconds: Double? {
            struct Startup: Decodable { var startup: Double }
            return (try? JSONDecoder().decode(Startup.self, from: Data(descriptor.utf8)))?.startup
        }

        init(pid: pid_t, root: String, stdinWrite: Int32, descriptor: String) {
            self.pid = pid; self.root = root; self.stdinWrite = stdinWrite; self.descriptor = descriptor
        }

        /// The labs of a run that would share a broker: those that need RabbitMQ, when there
        /// are two or more and they judge their references (a run judging your own work starts
        /// its own); empty otherwise.
        public static func sharers(of labs: [String], subject: LabSubject) -> [String] {
            let queueLabs = labs.filter { LabCatalog.lab($0)?.needs.contains(.rabbitmq) == true }
            return queueLabs.count >= 2 && !subject.isOwnWork ? queueLabs : []
        }

        /// Starts the holder and waits (up to `timeout` seconds) for its descriptor; sets the
        /// environment variable the labs read. Nil when the broker cannot start (not installed,
        /// or it failed): each lab then starts its own and reports why it could not.
        public static func start(binary: String, timeout: Double = 300) -> SharedBroker? {
            let root = FileManager.default.temporaryDirectory
                .appendingPathComponent("curriculum-lab-\(getpid())-\(UUID().uuidString.prefix(8))", isDirectory: true).path
            guard (try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)) != nil else { return nil }
            chmod(root, 0o755)
            var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
            guard pipe(&input) == 0 else { return nil }
            guard pipe(&output) == 0 else { close(input[0]); close(input[1]); return nil }
            // The tracker's ends must not leak into the labs it starts later: a lab holding
            // the write end would keep the holder's stdin open after the tracker is gone.
            // Spawn closes them in every child it starts; close-on-exec covers any other exec.
            _ = fcntl(input[1], F_SETFD, FD_CLOEXEC)
            _ = fcntl(output[0], F_SETFD, FD_CLOEXEC)
            var options = Spawn.Options()
            options.stdin = .descriptor(input[0])
            options.stdout = .descriptor(output[1])
            options.stderr = .inherit
            let pid = try? Spawn.start(binary, ["hold-rabbitmq", root], options)
            close(input[0]); close(output[1])
            guard let pid else {
                close(input[1]); close(output[0])
                try? FileManager.default.removeItem(atPath: root)
                return nil
            }
            let line = readLine(output[0], timeout: timeout)
            close(output[0])
            let broker = SharedBroker(pid: pid, root: root, stdinWrite: input[1], descriptor: line ?? "")
            guard broker.startupSeconds != nil else {
                broker.stop()
                return nil
            }
            setenv(LabSharedServer.rabbitmqVariable, broker.descriptor, 1)
            return broker
        }

        /// Ends the sharing: unsets the variable, closes the holder's stdin (it stops the
        /// broker and exits), waits up to 45 s, then kills what is left under its root.
        public func stop() {
            unsetenv(LabSharedServer.rabbitmqVariable)
            if stdinWrite >= 0 { close(stdinWrite); stdinWrite = -1 }
            var status: Int32 = 0
            let deadline = Date().addingTimeInterval(45)
            while waitpid(pid, &status, WNOHANG) == 0 {
                if Date() > deadline {
                    kill(pid, SIGKILL)
                    waitpid(pid, &status, 0)
                    break
                }
                usleep(20_000)
            }
            killProcesses(under: root)
            try? FileManager.default.removeItem(atPath: root)
        }

        /// The first line `fd` gives within `timeout` seconds (without its newline), or nil.
        static func readLine(_ fd: Int32, timeout: Double) -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while !bytes.contains(10) {
                let left = deadline.timeIntervalSinceNow
                guard left > 0 else { return nil }
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&pfd, 1, Int32(min(left, 1) * 1000) + 1)
                if ready < 0 && errno != EINTR { return nil }
                guard ready > 0 else { continue }
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n == 0 { break }
                if n < 0 { if errno == EINTR { continue } else { return nil } }
                bytes += chunk[0..<n]
            }
            guard !bytes.isEmpty else { return nil }
            return String(decoding: bytes.prefix { $0 != 10 }, as: UTF8.self)
        }
    }
}
