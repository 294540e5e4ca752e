import Foundation
import Spawn

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts programs for labs (server control tools, compilers, the learner's server) and
/// waits for them. Starting is the package's one spawner, `Spawn.start` (see there why not
/// Foundation's `Process`): here the child's stdin is /dev/null, its stdout and stderr go to
/// /dev/null or to a log file, every other descriptor is closed, and it starts in its own
/// process group (a Ctrl-C aimed at the lab does not reach a server behind the lab's back:
/// the lab's clean-up stops it). We wait with `waitpid`, on a thread of our own.
public enum Subprocess {
    /// How a child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)
        /// It ran past its time limit and was killed.
        case timedOut

        public var succeeded: Bool { self == .exited(0) }

        public var description: String {
            switch self {
            case let .exited(code): return "exit status \(code)"
            case let .signalled(sig): return "killed by signal \(sig)"
            case .timedOut: return "timed out"
            }
        }
    }

    public typealias SpawnError = Spawn.Failure

    /// Starts `executable` with `arguments` and returns its pid without waiting.
    /// - Parameters:
    ///   - environment: the child's whole environment (default: ours).
    ///   - output: a file that receives stdout and stderr (appended; created 0644), or nil for /dev/null.
    ///   - directory: the child's working directory, or nil for ours.
    public static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        output: String? = nil,
        directory: String? = nil
    ) throws(SpawnError) -> pid_t {
        var options = Spawn.Options()
        options.stdout = output.map { .file($0) } ?? .null
        options.environment = environment
        options.directory = directory
        options.ownProcessGroup = true
        return try Spawn.start(executable, arguments, options)
    }

    /// Waits for `pid` to end, on a thread of its own so no task of the pool blocks. With a
    /// `timeout`, a child still running after it is killed (SIGKILL to its process group)
    /// and reported as `.timedOut`. Waiting does not stop on task cancellation on purpose:
    /// clean-ups (which run in a cancelled task) wait for the tools they start.
    public static func wait(_ pid: pid_t, timeout: Double? = nil) async -> Termination {
        await withCheckedContinuation { (continuation: CheckedContinuation<Termination, Never>) in
            let thread = Thread {
                continuation.resume(returning: waitBlocking(pid, timeout: timeout))
            }
            thread.start()
        }
    }

    /// Runs a program to its end; see `spawn` and `wait`.
    @discardableResult
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        output: String? = nil,
        directory: String? = nil,
        timeout: Double? = 120
    ) async throws(SpawnError) -> Termination {
        let pid = try spawn(executable, arguments, environment: environment, output: output, directory: directory)
        return await wait(pid, timeout: timeout)
    }

    /// Runs a program to its end and returns what it wrote (stdout and stderr together),
    /// through a temporary file: still no pipe.
    public static func capture(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        directory: String? = nil,
        timeout: Double? = 120
    ) async throws(SpawnError) -> (termination: Termination, output: String) {
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("labkit-capture-\(UUID().uuidString)").path
        defer { unlink(file) }
        let termination = try await run(
            executable, arguments, environment: environment, output: file,
            directory: directory, timeout: timeout)
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return (termination, text)
    }

    static func waitBlocking(_ pid: pid_t, timeout: Double?) -> Termination {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, deadline == nil ? 0 : WNOHANG)
            if r == pid { return decode(status) }
            if r == -1 {
                if errno == EINTR { continue }
                return .exited(-1)
            }
            if let deadline, Date() > deadline {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return .timedOut
            }
            usleep(2_000)
        }
    }

    static func decode(_ status: Int32) -> Termination {
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }
}
