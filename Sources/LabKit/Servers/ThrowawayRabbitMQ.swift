import Foundation
import LabCatalog
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A RabbitMQ broker that lives for one lab run: `rabbitmq-server` (an Erlang VM) with a
/// node name of its own and every `RABBITMQ_*` path (Mnesia database, logs, config, enabled
/// plugins: none) in the lab's scratch folder, listening for AMQP on 127.0.0.1 only, on a
/// port picked free; stopped cleanly (SIGTERM, which RabbitMQ handles like `rabbitmqctl
/// stop`), then its process group, by a clean-up registered with `lab.onCleanup`, whatever
/// becomes of the lab.
///
/// Erlang nodes find each other through epmd, the port mapper daemon, which the VM starts if
/// none answers. A system-wide epmd on port 4369 would outlive the lab and be shared with
/// whatever else runs Erlang, so the broker gets its own: `ERL_EPMD_PORT` (a free port) and
/// `ERL_EPMD_ADDRESS=127.0.0.1`; it is killed at stop with the VM's helpers. Every process
/// the broker starts inherits `CURRICULUM_LAB_ROOT=<scratch>` in its environment (and the VM
/// names the scratch folder on its command line), so the tracker's sweep of abandoned runs
/// (`LabHost.sweepAbandoned`) finds what a killed lab left.
///
/// The Erlang cookie (`.erlang.cookie`, mode 0400) lies in the scratch folder and `HOME`
/// points there (for the broker, and for a `rabbitmqctl` a learner points at it with the same
/// variables): the same as root (CI) or not. The
/// Debian wrapper `/usr/sbin/rabbitmq-server` would switch to the `rabbitmq` user and its
/// home; the kit runs the real script in `/usr/lib/rabbitmq/bin` instead.
///
/// Start-up is slow (seconds: an Erlang VM boots, Mnesia opens): one broker per lab run,
/// shared by all its checks, and measured (`startupSeconds`).
public final class ThrowawayRabbitMQ: Sendable {
    public let directory: String
    public let nodeName: String
    /// AMQP on 127.0.0.1.
    public let port: Int
    public let distributionPort: Int
    public let epmdPort: Int
    public let pid: pid_t
    /// From spawning `rabbitmq-server` to the first AMQP login that succeeded.
    public var startupSeconds: Double { measured.withLock { $0.startup } }
    /// "3.10.8", from the broker's log.
    public var version: String { measured.withLock { $0.version } }
    private let measured = Mutex((startup: 0.0, version: "(version unknown)"))
    private let binDirectory: String
    private let environment: [String: String]
    private let stopped = Mutex(false)

    /// A broker a test shares between several lab runs (`$shared.withValue(broker) { … }`):
    /// `start(for:)` then hands it out instead of starting one, and leaves it running. Labs
    /// name their queues and exchanges per run, so runs do not see each other's.
    @TaskLocal public static var shared: ThrowawayRabbitMQ?

    private init(
        directory: String, nodeName: String, port: Int, distributionPort: Int, epmdPort: Int, pid: pid_t,
        binDirectory: String, environment: [String: String]
    ) {
        self.directory = directory; self.nodeName = nodeName; self.port = port
        self.distributionPort = distributionPort; self.epmdPort = epmdPort; self.pid = pid
        self.binDirectory = binDirectory; self.environment = environment
    }

    /// The folder with the real `rabbitmq-server` script (Debian:
    /// /usr/lib/rabbitmq/bin; elsewhere the one on PATH, then ProgramFinder's known folders), or nil.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let fm = FileManager.default
        let known = ProgramFinder.knownFolders(environment: environment)
        var dirs = known.filter { $0.hasSuffix("rabbitmq/bin") }
        dirs += (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin").split(separator: ":").map(String.init)
        dirs += known
        return dirs.first { dir in fm.isExecutableFile(atPath: dir + "/rabbitmq-server") }
    }

    /// Starts a broker for `lab` (or hands out the test's shared one) and waits until an AMQP
    /// login succeeds. Its stop is registered with `lab.onCleanup` before it is spawned.
    /// - Throws: `LabUnavailable(.rabbitmq)` when `rabbitmq-server` is not installed.
    public static func start(
        for lab: LabContext,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> ThrowawayRabbitMQ {
        if let shared = shared ?? attached(environment: environment) {
            lab.engine("RabbitMQ \(shared.version)")
            lab.step(
                "Using a throwaway RabbitMQ \(shared.version) shared by the labs of this run",
                "AMQP on 127.0.0.1:\(shared.port), node \(shared.nodeName); it started in \(String(format: "%.1f", shared.startupSeconds)) s, once for every queue lab of the run, and is stopped when the run ends. Queues and exchanges are named per lab run, so the labs do not see each other's."
            )
            return shared
        }
        let scratch = lab.scratch.standardizedFileURL.path
        let broker = try await start(in: scratch + "/rabbitmq", marker: scratch, environment: environment) { stop in
            lab.onCleanup { await stop() }
        }
        lab.engine("RabbitMQ \(broker.version)")
        lab.step(
            "Started a throwaway RabbitMQ \(broker.version) (node \(broker.nodeName))",
            "start-up took \(String(format: "%.1f", broker.startupSeconds)) s (an Erlang VM boots and opens its database); AMQP on 127.0.0.1:\(broker.port), its own epmd on 127.0.0.1:\(broker.epmdPort); data, logs and cookie in the scratch folder; stopped and deleted when the lab ends"
        )
        lab.figure("broker start-up", broker.startupSeconds, "s")
        return broker
    }

    /// Starts a broker in `directory` (created; removed by `stop()`). `marker` is the folder
    /// written into every broker process's `CURRICULUM_LAB_ROOT`. For tests that share one
    /// broker between lab runs; labs use `start(for:)`.
    public static func start(
        in directory: String, marker: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        registerCleanup: @Sendable (@escaping @Sendable () async -> Void) -> Void = { _ in }
    ) async throws -> ThrowawayRabbitMQ {
        guard let bin = locate(environment: environment) else {
            throw LabUnavailable(.rabbitmq, detail: "no rabbitmq-server in /usr/lib/rabbitmq/bin or on PATH")
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o700)
        let tag = String(UUID().uuidString.prefix(8)).lowercased()
        let node = "lab-\(tag)@localhost"
        let port = try Loopback.freePort()
        var dist = try Loopback.freePort()
        var epmd = try Loopback.freePort()
        while dist == port { dist = try Loopback.freePort() }
        while epmd == port || epmd == dist { epmd = try Loopback.freePort() }

        let cookie = directory + "/.erlang.cookie"
        try? fm.removeItem(atPath: cookie)
        try Data(UUID().uuidString.replacingOccurrences(of: "-", with: "").utf8).write(to: URL(fileURLWithPath: cookie))
        chmod(cookie, 0o400)
        try "[].\n".write(toFile: directory + "/enabled_plugins", atomically: false, encoding: .utf8)
        let config = """
            # Written by LabKit for one lab run.
            listeners.tcp.1 = 127.0.0.1:\(port)
            loopback_users.guest = true
            disk_free_limit.absolute = 1MB
            log.file.level = info
            log.console = false

            """
        try config.write(toFile: directory + "/rabbitmq.conf", atomically: false, encoding: .utf8)

        var env = environment
        for key in env.keys where key.hasPrefix("RABBITMQ_") || key.hasPrefix("ERL_") { env[key] = nil }
        env["HOME"] = directory
        env["CURRICULUM_LAB_ROOT"] = marker ?? directory
        env["LABKIT_RABBITMQ"] = tag
        env["ERL_EPMD_PORT"] = "\(epmd)"
        env["ERL_EPMD_ADDRESS"] = "127.0.0.1"
        env["RABBITMQ_NODENAME"] = node
        env["RABBITMQ_USE_LONGNAME"] = "false"
        env["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1"
        env["RABBITMQ_NODE_PORT"] = "\(port)"
        env["RABBITMQ_DIST_PORT"] = "\(dist)"
        env["RABBITMQ_MNESIA_BASE"] = directory + "/mnesia"
        env["RABBITMQ_LOG_BASE"] = directory + "/log"
        env["RABBITMQ_LOGS"] = directory + "/log/rabbit.log"
        env["RABBITMQ_CONFIG_FILE"] = directory + "/rabbitmq.conf"
        env["RABBITMQ_ADVANCED_CONFIG_FILE"] = directory + "/advanced.config"
        env["RABBITMQ_CONF_ENV_FILE"] = directory + "/rabbitmq-env.conf"
        env["RABBITMQ_ENABLED_PLUGINS_FILE"] = directory + "/enabled_plugins"
        env["RABBITMQ_PID_FILE"] = directory + "/rabbit.pid"
        // The distribution listener (for rabbitmqctl) on loopback too.
        env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}"
        // Every Erlang VM the scripts start, not only the broker's, keeps its distribution
        // listener on loopback (a CI run saw a beam.smp listening on 0.0.0.0).
        env["ERL_AFLAGS"] = "-kernel inet_dist_use_interface {127,0,0,1}"
        env["RABBITMQ_CTL_ERL_ARGS"] = ""

        let began = ContinuousClock.now
        let pid = try Subprocess.spawn(
            bin + "/rabbitmq-server", [], environment: env,
            output: directory + "/server.out", directory: directory)
        let broker = ThrowawayRabbitMQ(
            directory: directory, nodeName: node, port: port, distributionPort: dist,
            epmdPort: epmd, pid: pid, binDirectory: bin, environment: env)
        registerCleanup { await broker.stop() }

        // Ready when a login succeeds; give up if the script exits or it takes too long (an
        // Erlang VM on this two-core machine under parallel builds was seen to need 60 s).
        let limit = 240.0
        let deadline = Date().addingTimeInterval(limit)
        var version = ""
        while true {
            let attempt: String? = try await AMQPThread.run("labkit.rabbitmq.probe") {
                guard let c = try? AMQPConnection.open(port: port, timeout: 2) else { return nil }
                c.close()
                return "up"
            }
            if attempt != nil { break }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                await broker.stop(keepFiles: true)
                let tail = Self.tail(directory + "/server.out") + " / " + Self.tail(directory + "/log/rabbit.log")
                throw LabError("rabbitmq-server exited at start: \(tail)")
            }
            guard Date() < deadline else {
                await broker.stop()
                throw LabError("RabbitMQ did not accept an AMQP login within \(Int(limit)) s")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let startup = Measure.seconds(ContinuousClock.now - began)
        if let log = try? String(contentsOfFile: directory + "/log/rabbit.log", encoding: .utf8),
            let range = log.range(of: "RabbitMQ ")
        {
            // "Starting RabbitMQ 3.10.8 on Erlang 25.2.3 [jit]"
            let rest = log[range.upperBound...].prefix(20)
            version = String(rest.prefix { $0.isNumber || $0 == "." })
        }
        let found = version
        broker.measured.withLock { $0 = (startup, found.isEmpty ? "(version unknown)" : found) }
        return broker
    }

    // MARK: One broker for the labs of a run

    /// The environment variable through which `lab run` of several queue labs hands each lab
    /// the broker it started once (`curriculum-labs hold-rabbitmq`), as `descriptor`'s JSON.
    public static let sharedVariable = LabSharedServer.rabbitmqVariable

    private struct Descriptor: Codable {
        var directory, node, marker, version: String
        var port, distributionPort, epmdPort: Int
        var pid: Int32
        var startup: Double
    }

    /// This broker, in one line of JSON: what a lab needs to use it without owning it.
    public var descriptor: String {
        let d = Descriptor(
            directory: directory, node: nodeName, marker: marker, version: version, port: port,
            distributionPort: distributionPort, epmdPort: epmdPort, pid: pid, startup: startupSeconds)
        return String(decoding: (try? JSONEncoder().encode(d)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The run's shared broker named by `sharedVariable`, or nil. A lab never stops it: the
    /// process that started it does, when the run ends.
    public static func attached(environment: [String: String] = ProcessInfo.processInfo.environment) -> ThrowawayRabbitMQ? {
        guard let text = environment[sharedVariable],
            let d = try? JSONDecoder().decode(Descriptor.self, from: Data(text.utf8))
        else { return nil }
        let broker = ThrowawayRabbitMQ(
            directory: d.directory, nodeName: d.node, port: d.port, distributionPort: d.distributionPort,
            epmdPort: d.epmdPort, pid: d.pid, binDirectory: "", environment: ["LABKIT_RABBITMQ": d.marker])
        broker.measured.withLock { $0 = (d.startup, d.version) }
        broker.stopped.withLock { $0 = true }
        return broker
    }

    /// A new AMQP connection (blocking; call it on an `AMQPThread`).
    public func connect(timeout: Double = 10) throws -> AMQPConnection {
        try AMQPConnection.open(port: port, timeout: timeout)
    }

    /// Stops the broker: SIGTERM (a clean shutdown), then SIGKILL to its process
    /// group and to every process it left (its epmd, the VM's port helpers, found by the
    /// `LABKIT_RABBITMQ` marker in their environment), then deletes its folder. Safe to call twice.
    public func stop() async { await stop(keepFiles: false) }

    func stop(keepFiles: Bool) async {
        let already = stopped.withLock { s in
            defer { s = true }
            return s
        }
        if already { return }
        // SIGTERM to the rabbitmq-server script, which forwards it to the VM: RabbitMQ's own
        // signal handler then stops the broker cleanly, as `rabbitmqctl stop` would. Not
        // rabbitmqctl itself: it boots an Erlang VM of its own, measured at 6.6 s and 87 s
        // on this two-core machine under builds. After 30 s, SIGKILL to the process group.
        if kill(pid, 0) == 0 {
            kill(pid, SIGTERM)
            _ = await Subprocess.wait(pid, timeout: 30)
        }
        kill(-pid, SIGKILL)
        for _ in 0..<3 {
            let left = Self.processes(marked: environment["LABKIT_RABBITMQ"] ?? "-")
            if left.isEmpty { break }
            for p in left { kill(p, SIGKILL) }
            for p in left { var s: Int32 = 0; _ = waitpid(p, &s, WNOHANG) }
            usleep(100_000)
        }
        guard !keepFiles else { return }
        // A VM killed a moment ago may still be closing its log files: try a few times.
        for _ in 0..<20 where FileManager.default.fileExists(atPath: directory) {
            if (try? FileManager.default.removeItem(atPath: directory)) != nil { break }
            usleep(100_000)
        }
    }

    /// Processes whose environment carries `LABKIT_RABBITMQ=<tag>` (zombies excluded).
    public static func processes(marked tag: String) -> [pid_t] {
        let wanted = Array("LABKIT_RABBITMQ=\(tag)".utf8)
        return ProcessTable.pids().filter { p in
            p != getpid() && ProcessTable.status(of: p)?.state != "Z"
                && ProcessTable.environment(of: p).contains { Array($0) == wanted }
        }
    }

    /// The tag of this broker's processes (see `processes(marked:)`).
    public var marker: String { environment["LABKIT_RABBITMQ"] ?? "" }

    private static func tail(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").suffix(3).joined(separator: " / ")
    }
}
