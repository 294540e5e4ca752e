import Foundation
import LabCatalog
import Spawn
import Synchronization

/// The lab being hosted and the stop signal the tracker received, shared with the signal
/// handler below (which only loads and stores atomics and calls kill(2), both safe there).
private let hostedLab = Atomic<Int32>(0)
private let receivedStop = Atomic<Int32>(0)

/// Runs a lab in its own process (`curriculum-labs run …`) and reads the lab protocol
/// from it, so a lab that crashes or hangs never takes the tracker or the database down.
///
/// The host gives the child a scratch root of its own, enforces a time limit (SIGTERM,
/// then SIGKILL after a grace period), and afterwards kills any process still running from
/// inside that root (a server the lab could not stop) and removes the root. A child that
/// dies without a report becomes a failed run with the reason.
public enum LabHost {
    public struct Outcome: Sendable {
        public var report: LabReport
        public var exitStatus: Int32
        public var interrupted: Bool
    }

    /// The `curriculum-labs` binary: beside this executable, else on PATH.
    public static func locateLabsBinary() -> String? {
        let fm = FileManager.default
        if let own = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let beside = (own as NSString).deletingLastPathComponent + "/curriculum-labs"
            if fm.isExecutableFile(atPath: beside) { return beside }
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(dir)/curriculum-labs"
            if fm.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// The command that builds the labs beside this binary, in the same configuration.
    public static var buildCommand: String {
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return own.contains("/release/") ? "swift build -c release --product curriculum-labs" : "swift build --product curriculum-labs"
    }

    /// Runs one lab. `onEvent` sees each protocol event as it arrives.
    public static func run(
        binary: String, lab: String, quick: Bool, parameters: [String: String], subject: LabSubject = .reference,
        timeLimit: TimeInterval, onEvent: (LabEvent) -> Void
    ) -> Outcome {
        let info = LabCatalog.lab(lab)
        var report = LabReport(lab: lab, title: info?.title ?? lab, quick: quick, parameters: parameters)
        report.subject = subject.isOwnWork ? subject : nil
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("curriculum-lab-\(getpid())-\(UUID().uuidString.prefix(8))", isDirectory: true).path
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            report.error = "cannot create a scratch folder in \(FileManager.default.temporaryDirectory.path): \(error)"
            return Outcome(report: report, exitStatus: 1, interrupted: false)
        }
        // The scratch root must be reachable by a server running as another user (postgres under root).
        chmod(root, 0o755)
        defer {
            killProcesses(under: root)
            try? FileManager.default.removeItem(atPath: root)
        }
        var args = ["run", lab, "--scratch", root]
        if quick { args.append("--quick") }
        for (k, v) in parameters.sorted(by: { $0.key < $1.key }) { args += ["--param", "\(k)=\(v)"] }
        args += subject.arguments

        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            report.error = "cannot create a pipe: \(String(cString: strerror(errno)))"
            return Outcome(report: report, exitStatus: 1, interrupted: false)
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        // While the lab runs, Ctrl-C belongs to it: the terminal sends SIGINT to both, the
        // lab cleans up and reports, and the tracker records what happened.
        let oldInt = signal(SIGINT, SIG_IGN)
        defer { signal(SIGINT, oldInt) }
        // SIGTERM or SIGHUP to the tracker (`kill`, a closed terminal) is passed on to the
        // lab, which stops and cleans up like after Ctrl-C; the tracker waits for it, records
        // the run as interrupted and sweeps. (SIGKILL cannot be caught: then the lab's
        // parent-death signal stops it, and the next `lab run` sweeps what is left.)
        hostedLab.store(0, ordering: .sequentiallyConsistent)
        receivedStop.store(0, ordering: .sequentiallyConsistent)
        var stopAction = sigaction()
        stopAction.__sigaction_handler.sa_handler = { sig in
            receivedStop.store(sig, ordering: .sequentiallyConsistent)
            let child = hostedLab.load(ordering: .sequentiallyConsistent)
            if child > 0 { kill(child, SIGTERM) }
        }
        sigemptyset(&stopAction.sa_mask)
        var oldTerm = sigaction(), oldHup = sigaction()
        sigaction(SIGTERM, &stopAction, &oldTerm)
        sigaction(SIGHUP, &stopAction, &oldHup)
        // A parent may have started the tracker with these signals blocked (Foundation's
        // Process does): unblocked here, they reach the handler instead of waiting.
        var stops = sigset_t(), oldMask = sigset_t()
        sigemptyset(&stops)
        sigaddset(&stops, SIGTERM); sigaddset(&stops, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &stops, &oldMask)
        defer {
            pthread_sigmask(SIG_SETMASK, &oldMask, nil)
            sigaction(SIGTERM, &oldTerm, nil)
            sigaction(SIGHUP, &oldHup, nil)
            hostedLab.store(0, ordering: .sequentiallyConsistent)
        }

        // The lab writes its report to the pipe; stderr stays the terminal's. It is not in a
        // process group of its own: a Ctrl-C at the terminal reaches it directly.
        var options = Spawn.Options()
        options.stdout = .descriptor(writeEnd)
        options.stderr = .inherit
        let spawned = Result { () throws(Spawn.Failure) in try Spawn.start(binary, args, options) }
        close(writeEnd)
        if case let .success(pid) = spawned {
            hostedLab.store(pid, ordering: .sequentiallyConsistent)
            // A stop that arrived while the lab was being started is passed on now.
            if receivedStop.load(ordering: .sequentiallyConsistent) != 0 { kill(pid, SIGTERM) }
        }
        guard case let .success(pid) = spawned else {
            close(readEnd)
            if case let .failure(failure) = spawned { report.error = failure.description }
            return Outcome(report: report, exitStatus: 1, interrupted: false)
        }

        let started = Date()
        var pending = Data()
        var finalReport: LabReport?
        var timedOut = false
        var termSentAt: Date?
        var open = true
        var chunk = [UInt8](repeating: 0, count: 65536)
        while open {
            var pfd = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 200)
            if ready > 0 {
                let n = read(readEnd, &chunk, chunk.count)
                if n <= 0 {
                    open = false
                } else {
                    pending.append(contentsOf: chunk[0..<n])
                    while let nl = pending.firstIndex(of: 10) {
                        let line = pending[pending.startIndex..<nl]
                        pending.removeSubrange(pending.startIndex...nl)
                        guard let event = LabEvent.parse(line: String(decoding: line, as: UTF8.self)) else { continue }
                        if case let .report(r) = event { finalReport = r } else { onEvent(event) }
                    }
                }
            } else if ready < 0 && errno != EINTR {
                open = false
            }
            let elapsed = Date().timeIntervalSince(started)
            if termSentAt == nil && receivedStop.load(ordering: .sequentiallyConsistent) != 0 {
                termSentAt = Date()  // the handler sent SIGTERM; SIGKILL follows if it is ignored
            } else if termSentAt == nil && elapsed > timeLimit {
                timedOut = true
                kill(pid, SIGTERM)
                termSentAt = Date()
            } else if let t = termSentAt, Date().timeIntervalSince(t) > 15 {
                kill(pid, SIGKILL)
            }
        }
        close(readEnd)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let signalled = exited ? nil : status & 0x7f

        let stopped = receivedStop.load(ordering: .sequentiallyConsistent) != 0
        if var r = finalReport {
            if stopped && !timedOut {
                r.outcome = .failed
                r.error = "interrupted: the tracker was asked to stop (signal \(receivedStop.load(ordering: .sequentiallyConsistent)))"
                return Outcome(report: r, exitStatus: LabExit.interrupted, interrupted: true)
            }
            if timedOut {
                r.outcome = .failed
                r.error = "stopped after its time limit of \(Int(timeLimit)) s" + (r.error.map { " (\($0))" } ?? "")
            }
            return Outcome(report: r, exitStatus: code, interrupted: code == 130 && !timedOut)
        }
        report.seconds = Date().timeIntervalSince(started)
        report.outcome = .failed
        if stopped && !timedOut {
            report.error = "interrupted: the tracker was asked to stop"
            return Outcome(report: report, exitStatus: LabExit.interrupted, interrupted: true)
        }
        if timedOut {
            report.error = "stopped after its time limit of \(Int(timeLimit)) s"
        } else if let sig = signalled {
            report.error =
                "the lab crashed (signal \(sig)\(sig == SIGSEGV ? ", segmentation fault" : sig == SIGABRT ? ", abort" : sig == SIGILL || sig == SIGTRAP ? ", a runtime trap" : "")) before it could report"
        } else if code == 64 {
            report.error = "the lab refused its arguments (exit status 64)"
        } else {
            report.error = "the lab exited with status \(code) without a report"
        }
        return Outcome(report: report, exitStatus: code == 0 ? 1 : code, interrupted: code == 130)
    }

    /// The scratch roots of lab runs whose tracker is gone (killed with SIGKILL, or the
    /// machine lost power): whatever still runs from inside them is stopped and the folders
    /// removed. Called before every lab run and by `doctor`; returns the roots removed.
    @discardableResult
    public static func sweepAbandoned(in folder: URL = FileManager.default.temporaryDirectory) -> [String] {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: folder.path) else { return [] }
        var removed: [String] = []
        for name in entries where name.hasPrefix("curriculum-lab-") {
            // curriculum-lab-<tracker pid>-<8 hex digits>
            let parts = name.dropFirst("curriculum-lab-".count).split(separator: "-")
            guard parts.count == 2, let owner = pid_t(parts[0]), owner != getpid() else { continue }
            if kill(owner, 0) == 0 || errno == EPERM { continue }  // its tracker still runs
            let root = folder.appendingPathComponent(name).path
            killProcesses(under: root)
            if (try? fm.removeItem(atPath: root)) != nil { removed.append(root) }
        }
        return removed
    }

    /// Kills every process whose command line, working folder or CURRICULUM_LAB_ROOT lies
    /// inside `root` (servers a lab started and could not stop), waiting briefly for them to go.
    public static func killProcesses(under root: String) {
        for _ in 0..<2 {
            let pids = processes(under: root)
            if pids.isEmpty { return }
            for p in pids { kill(p, SIGKILL) }
            usleep(100_000)
        }
    }

    public static func processes(under root: String) -> [pid_t] {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [pid_t] = []
        let me = getpid()
        for e in entries {
            guard let p = pid_t(e), p != me else { continue }
            var hit = false
            if let data = fm.contents(atPath: "/proc/\(p)/cmdline"), !data.isEmpty {
                let cmd = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
                hit = cmd.contains(root)
            }
            if !hit, let cwd = try? fm.destinationOfSymbolicLink(atPath: "/proc/\(p)/cwd") {
                hit = cwd.hasPrefix(root)
            }
            // A learner's server started with `--against` runs in their project with their
            // command line; the kit marks it with CURRICULUM_LAB_ROOT=<its scratch folder>.
            if !hit, let data = fm.contents(atPath: "/proc/\(p)/environ") {
                hit = data.split(separator: 0).contains { entry in
                    let s = String(decoding: entry, as: UTF8.self)
                    return s == "CURRICULUM_LAB_ROOT=\(root)" || s.hasPrefix("CURRICULUM_LAB_ROOT=\(root)/")
                }
            }
            if hit { found.append(p) }
        }
        return found
    }
}
