import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The learner's server started with `--against CMD`: `sh -c CMD` in a process group of its
/// own (the group's id is the shell's pid), its output in a file, reaped by a thread of its
/// own the moment it ends, and stopped with SIGTERM, then SIGKILL.
final class ServerProcess: Sendable {
    let pid: pid_t
    let port: Int
    let outputPath: String
    /// "CURRICULUM_LAB_SERVER=…" as it stands in the server's environment: finds its
    /// processes that left the group (see `ProcessTable.members`).
    let marker: String
    /// Seconds a server gets between SIGTERM and SIGKILL.
    static let grace = 3.0

    private struct State {
        /// How the shell ended, once the waiter has reaped it.
        var shell: Subprocess.Termination?
        /// Set once the server accepted a connection on its port.
        var listened = false
    }
    private let state = Mutex(State())

    /// Starts `sh -c command`. Its stdout and stderr go to `outputPath`, a file: a pipe
    /// that a server never reads (and we would not read while the checks run) fills up and
    /// blocks the server's next write to the log.
    init(
        command: String, port: Int, environment: [String: String], outputPath: String,
        marker: String, directory: String?
    ) throws(SubjectFailure) {
        do {
            pid = try Subprocess.spawn("/bin/sh", ["-c", command], environment: environment, output: outputPath, directory: directory)
        } catch {
            throw SubjectFailure("could not start your server with `sh -c \(command)`: \(error.description)")
        }
        self.port = port; self.outputPath = outputPath; self.marker = marker
        // The waiter reaps the shell as soon as it ends, so a server that dies is seen at
        // once and never lingers as a zombie; it lives exactly as long as the shell.
        Thread { [self] in
            let end = Subprocess.waitBlocking(pid, timeout: nil)
            state.withLock { $0.shell = end }
        }.start()
    }

    var listened: Bool { state.withLock { $0.listened } }

    /// The processes still running for this server (none once it is gone).
    func liveProcesses() -> [pid_t] { ProcessTable.members(group: pid, marker: marker) }

    /// Whether any of it still runs: the shell, or something it left behind in its group.
    var isRunning: Bool {
        state.withLock { $0.shell == nil } || !liveProcesses().isEmpty
    }

    /// nil while it runs; else how the shell ended, as a learner reads it.
    var exitDescription: String? {
        guard !isRunning else { return nil }
        switch state.withLock({ $0.shell }) {
        case let .exited(code)?: return "exited with status \(code)"
        case let .signalled(signal)?: return "killed by signal \(signal)"
        case .timedOut?, nil: return "stopped"
        }
    }

    /// Polls until 127.0.0.1:`port` accepts a connection. Throws a `SubjectFailure` as soon
    /// as the server is gone, or at `timeout` (naming any other port it listens on).
    func waitUntilListening(timeout: Duration, timeoutText: String) async throws {
        let deadline = ContinuousClock.now + timeout
        let port = port
        while true {
            // Listening is what the kernel says: a connection accepted, or else a LISTEN
            // socket of the server's own on exactly 127.0.0.1:PORT (on a loaded machine a
            // probe can fail while the server is ready; the checks then speak for themselves).
            if await offThread({ Loopback.accepts(port: port) })
                || ProcessTable.listeningAddresses(of: liveProcesses()).contains("127.0.0.1:\(port)")
            {
                state.withLock { $0.listened = true }
                return
            }
            if let ended = exitDescription {
                throw SubjectFailure("your server \(ended) before it listened on 127.0.0.1:\(port)." + tailBlock())
            }
            if ContinuousClock.now >= deadline {
                var sentence = "your server did not accept connections on 127.0.0.1:\(port) within \(timeoutText)"
                let elsewhere = ProcessTable.listeningAddresses(of: liveProcesses())
                if !elsewhere.isEmpty {
                    let list = elsewhere.joined(separator: " and ")
                    // Right port on the wrong address (a LAN address, say), or the wrong port.
                    sentence +=
                        elsewhere.contains { $0.hasSuffix(":\(port)") }
                        ? "; it is listening on \(list) instead — listen on 127.0.0.1 as the contract says"
                        : "; it is listening on \(list) instead — read the port from $PORT"
                }
                throw SubjectFailure(sentence + "." + tailBlock())
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    enum Stop: Equatable {
        /// Nothing of it was running any more.
        case alreadyGone
        /// Everything exited within the grace period after SIGTERM.
        case exitedOnTerm(seconds: Double)
        /// Still running after the grace period: killed with SIGKILL.
        case killed
    }

    /// SIGTERM to the group (and to any of its processes outside it), up to `grace`
    /// seconds for all of it to exit, then SIGKILL. Blocks; see `stop()`.
    func stopBlocking() -> Stop {
        guard !liveProcesses().isEmpty else { return .alreadyGone }
        signal(SIGTERM)
        let sent = Date()
        while Date().timeIntervalSince(sent) < Self.grace {
            usleep(50_000)
            if liveProcesses().isEmpty { return .exitedOnTerm(seconds: Date().timeIntervalSince(sent)) }
        }
        signal(SIGKILL)
        let killed = Date()
        // SIGKILL cannot be refused; this waits only for the kernel to tear them down.
        while !liveProcesses().isEmpty && Date().timeIntervalSince(killed) < 5 {
            usleep(20_000)
            signal(SIGKILL)
        }
        return .killed
    }

    /// Stops the server (see `stopBlocking`) off the cooperative pool; it completes also
    /// in a cancelled task, as clean-ups are.
    func stop() async -> Stop { await offThread { self.stopBlocking() } }

    private func signal(_ sig: Int32) {
        let live = liveProcesses()
        // The group as a whole first (one call reaches what /proc has not shown yet), then
        // whatever carries the marker outside it.
        if live.contains(where: { ProcessTable.status(of: $0)?.group == pid }) { kill(-pid, sig) }
        for p in live where ProcessTable.status(of: p)?.group != pid { kill(p, sig) }
    }

    /// The last `lines` lines the server wrote (stdout and stderr together). Reads at most
    /// the file's last 64 KiB: a server that logs every request can write megabytes.
    func outputTail(lines: Int) -> String {
        guard let file = FileHandle(forReadingAtPath: outputPath) else { return "" }
        defer { try? file.close() }
        let size = (try? file.seekToEnd()) ?? 0
        let start = size > 65_536 ? size - 65_536 : 0
        try? file.seek(toOffset: start)
        var text = String(decoding: (try? file.readToEnd()) ?? Data(), as: UTF8.self)
        if start > 0, let newline = text.firstIndex(of: "\n") { text = String(text[text.index(after: newline)...]) }
        var all = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        while all.last?.allSatisfy(\.isWhitespace) == true { all.removeLast() }
        return all.suffix(max(0, lines)).joined(separator: "\n")
    }

    /// The tail for a report: on lines of their own, indented, or a note that there was none.
    func tailBlock(lines: Int = 20) -> String {
        let tail = outputTail(lines: lines)
        guard !tail.isEmpty else { return " It wrote no output." }
        return " The last lines of its output:\n"
            + tail.split(separator: "\n", omittingEmptySubsequences: false)
            .map { "      " + $0 }.joined(separator: "\n")
    }
}
