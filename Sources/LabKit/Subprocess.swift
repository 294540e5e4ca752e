import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts programs for labs (server control tools, compilers) with `posix_spawn`.
///
/// Why not Foundation's `Process`: a program that daemonises (`pg_ctl start`) leaves a
/// server behind that inherits whatever pipes the child had; `Process` waits for those
/// pipes to close and so can hang for ever. Here the child gets no pipe at all: stdin is
/// /dev/null, stdout and stderr go to /dev/null or to a log file, every other descriptor is
/// closed, it starts in its own process group (a Ctrl-C aimed at the lab does not reach a
/// server behind the lab's back: the lab's clean-up stops it), and SIGINT, SIGTERM and
/// SIGPIPE are back to their defaults. We wait with `waitpid`, on a thread of our own.
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

    public struct SpawnError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

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
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let output {
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // No inherited descriptor beyond 0, 1, 2: no pipe can keep a waiter waiting.
        if let closeFrom = GlibcExtras.addCloseFrom {
            _ = closeFrom(&actions, 3)
        } else {
            for fd in openDescriptors() where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        if let directory {
            guard let chdir = GlibcExtras.addChdir else {
                throw SpawnError(description: "this C library cannot set a child's working directory")
            }
            _ = chdir(&actions, directory)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var noMask = sigset_t()
        sigemptyset(&noMask)
        posix_spawnattr_setsigmask(&attributes, &noMask)
        posix_spawnattr_setpgroup(&attributes, 0)
        let flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let env = environment ?? ProcessInfo.processInfo.environment
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw SpawnError(description: "could not start \(executable): \(String(cString: strerror(rc)))")
        }
        return pid
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

    /// The descriptors open in this process now (Linux: /proc/self/fd).
    static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+) and `…_addchdir_np` (2.29+)
    /// are not in the Swift Glibc module's view of spawn.h; look them up at run time.
    enum GlibcExtras {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        typealias Chdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

        static let addCloseFrom: CloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
        static let addChdir: Chdir? = symbol("posix_spawn_file_actions_addchdir_np")

        private static func symbol<F>(_ name: String) -> F? {
            guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, name) else { return nil }
            return unsafeBitCast(sym, to: F.self)
        }
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
