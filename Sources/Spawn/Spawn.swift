// Starting a child program, once for the whole package: the tracker starting a lab, the
// tracker starting the shared-broker holder, and the lab kit starting servers, compilers and
// the learner's own server all go through `Spawn.start`.
//
// Why not Foundation's `Process`: a program that daemonises (`pg_ctl start`) leaves a
// server behind that inherits whatever descriptors the child had; a parent reading a pipe
// the server inherited waits for it to close, for ever. Here the child gets exactly the
// descriptors it is given (0, 1 and 2) and every other one is closed, so no pipe and no
// database file of the parent leaks into it or into what it starts. Signals the parent
// ignores or blocks are back to their defaults in the child, and it may start in a process
// group of its own (a Ctrl-C aimed at the terminal's group does not reach it).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Spawn {
    /// Where one of the child's standard descriptors comes from.
    public enum Stream: Sendable, Equatable {
        /// The parent's own descriptor, as it is.
        case inherit
        /// /dev/null.
        case null
        /// A file, opened for appending (created 0644) for output, for reading for input.
        case file(String)
        /// A descriptor of the parent (a pipe's end), duplicated onto the child's.
        case descriptor(Int32)
        /// For stderr only: wherever stdout goes.
        case stdout
    }

    public struct Options: Sendable {
        public var stdin: Stream = .null
        public var stdout: Stream = .null
        public var stderr: Stream = .stdout
        /// The child's whole environment; nil for the parent's.
        public var environment: [String: String]?
        /// The child's working directory; nil for the parent's.
        public var directory: String?
        /// Starts the child in a process group of its own (its pid is the group's id), so the
        /// whole group can be signalled with `kill(-pid, …)`.
        public var ownProcessGroup = false
        public init() {}
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Signals back to their default action in the child, whatever the parent did with them.
    static let defaultSignals: [Int32] = [SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP]

    /// Starts `executable` (a path) with `arguments` and returns its pid without waiting.
    public static func start(_ executable: String, _ arguments: [String], _ options: Options = Options()) throws(Failure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, stream) in [(Int32(0), options.stdin), (1, options.stdout), (2, options.stderr)] {
            switch stream {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            case let .file(path):
                posix_spawn_file_actions_addopen(&actions, fd, path, fd == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND, 0o644)
            case let .descriptor(source): posix_spawn_file_actions_adddup2(&actions, source, fd)
            case .stdout: posix_spawn_file_actions_adddup2(&actions, 1, fd)
            }
        }
        // No inherited descriptor beyond 0, 1, 2: no pipe can keep a waiter waiting.
        if let closeFrom = GlibcExtras.addCloseFrom {
            _ = closeFrom(&actions, 3)
        } else {
            for fd in openDescriptors() where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        if let directory = options.directory {
            guard let chdir = GlibcExtras.addChdir else {
                throw Failure(description: "this C library cannot set a child's working directory")
            }
            _ = chdir(&actions, directory)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in defaultSignals { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var noMask = sigset_t()
        sigemptyset(&noMask)
        posix_spawnattr_setsigmask(&attributes, &noMask)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if options.ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = options.environment.map { env in env.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            for p in argv { free(p) }
            for p in envp ?? [] { free(p) }
        }
        var pid: pid_t = 0
        let rc =
            if var envp {
                posix_spawn(&pid, executable, &actions, &attributes, argv, &envp)
            } else {
                posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
            }
        guard rc == 0 else {
            throw Failure(description: "could not start \(executable): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// The descriptors open in this process now (Linux: /proc/self/fd).
    static func openDescriptors() -> [Int32] {
        guard let dir = opendir("/proc/self/fd") else { return [] }
        defer { closedir(dir) }
        var fds: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let fd = Int32(name) { fds.append(fd) }
        }
        return fds
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
}
