import Foundation
import Testing

// A lab runs in its own process, so a lab that hangs, crashes or is interrupted never
// takes the tracker or the database down and leaves nothing behind. These tests use the
// hidden fixture labs of Sources/curriculum-labs/Fixtures.swift (CURRICULUM_LABS_FIXTURES=1)
// and give each run a TMPDIR of its own, so "nothing left behind" can be checked exactly:
// no file in it, and no process whose working folder or command line is in it.

@Suite("Hosting labs: hangs, crashes, Ctrl-C, network", .serialized) struct LabHostTests {
    /// A fixture CLI whose lab runs keep their scratch folders under `tmp`.
    struct Sandbox {
        let cli: CLI
        var tmp: String { cli.folder.appendingPathComponent("tmp").path }
        var env: [String: String] { ["CURRICULUM_LABS_FIXTURES": "1", "TMPDIR": tmp] }

        init() throws {
            cli = try CLI()
            try FileManager.default.createDirectory(atPath: cli.folder.appendingPathComponent("tmp").path, withIntermediateDirectories: true)
        }

        func run(_ args: [String]) throws -> CLI.Result { try cli.run(args, env: env) }

        /// Starts `curriculum ARGS` without waiting; output goes to files in the folder.
        func start(_ args: [String], executable: String = CLI.binary, prefix: [String] = []) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: prefix.first ?? executable)
            p.arguments = prefix.isEmpty ? args : Array(prefix.dropFirst()) + [executable] + args
            p.currentDirectoryURL = cli.folder
            var e = ProcessInfo.processInfo.environment
            e["NO_COLOR"] = "1"
            e["CURRICULUM_DB"] = cli.db
            e["CURRICULUM_TODAY"] = cli.today
            for (k, v) in env { e[k] = v }
            p.environment = e
            _ = FileManager.default.createFile(atPath: cli.folder.appendingPathComponent("out.txt").path, contents: nil)
            _ = FileManager.default.createFile(atPath: cli.folder.appendingPathComponent("err.txt").path, contents: nil)
            p.standardOutput = FileHandle(forWritingAtPath: cli.folder.appendingPathComponent("out.txt").path)
            p.standardError = FileHandle(forWritingAtPath: cli.folder.appendingPathComponent("err.txt").path)
            p.standardInput = FileHandle.nullDevice
            try p.run()
            return p
        }

        var output: String { (try? String(contentsOf: cli.folder.appendingPathComponent("out.txt"), encoding: .utf8)) ?? "" }

        /// What is left in `tmp`, and which processes still live in it.
        func leftovers() -> (files: [String], processes: [Int32]) {
            ((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [], ProcFS.processes(under: tmp))
        }

        /// The lab runs recorded in the database, newest first, as (lab, passed).
        func labRuns() throws -> [(String, Bool)] {
            let r = try cli.run(["log", "--json", "-n", "0"])
            let events = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
            return events.filter { $0["kind"] as? String == "lab-run" }.map { ($0["note"] as? String ?? "?", $0["passed"] as? Bool ?? true) }
        }
    }

    /// Waits (up to `seconds`) for `condition`, polling every 50 ms.
    static func wait(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    @Test func aLabThatHangsIsStoppedAtItsTimeLimit() throws {
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        let r = try box.run(["lab", "run", "fixture-hang", "--timeout", "2"])
        #expect(r.status == 1, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("  · started a helper process (pid "), "\(r.stdout)")
        #expect(r.stdout.contains("  FAILED 0/0 checks in "), "\(r.stdout)")
        #expect(r.stdout.contains(" — stopped after its time limit of 2 s"), "\(r.stdout)")
        let left = box.leftovers()
        #expect(left.files.isEmpty, "scratch left behind: \(left.files)")
        #expect(left.processes.isEmpty, "processes left behind: \(left.processes)")
        #expect(try box.labRuns().map(\.0) == ["fixture-hang"])
        #expect(try box.labRuns().map(\.1) == [false])
    }

    /// A lab deaf to SIGTERM gets SIGKILL after the 15 s grace period; the helper process
    /// it started in its own session is swept up by the tracker all the same.
    @Test func aLabThatIgnoresTheStopRequestIsKilled() throws {
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        let r = try box.run(["lab", "run", "fixture-stubborn", "--timeout", "1"])
        #expect(r.status == 1, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("  FAILED 0/0 checks in "), "\(r.stdout)")
        #expect(r.stdout.contains(" — stopped after its time limit of 1 s\n"), "\(r.stdout)")
        let left = box.leftovers()
        #expect(left.files.isEmpty, "scratch left behind: \(left.files)")
        #expect(left.processes.isEmpty, "processes left behind: \(left.processes)")
        #expect(try box.labRuns().map(\.1) == [false])
    }

    @Test func aLabThatCrashesIsAFailedRunAndTheTrackerCarriesOn() throws {
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        #expect(try box.run(["done", "alpha"]).status == 0)
        let r = try box.run(["lab", "run", "fixture-crash"])
        #expect(r.status == 1, "\(r.stdout)\n\(r.stderr)")
        // The tracker knows no title for a lab outside the catalogue, so it shows the id.
        #expect(r.stdout.hasPrefix("fixture-crash  (fixture-crash)\n"), "\(r.stdout)")
        #expect(r.stdout.contains(" — the lab crashed (signal 4, a runtime trap) before it could report\n"), "\(r.stdout)")
        #expect(box.leftovers().files.isEmpty)
        #expect(try box.labRuns().map(\.0) == ["fixture-crash"])
        #expect(try box.labRuns().map(\.1) == [false])
        // The tracker and its database are untouched: progress is there, the log replays.
        #expect(try box.run(["status"]).stdout.hasPrefix("Fixture Plan  1/6 done (16%)"))
        let doctor = try box.run(["doctor"])
        #expect(doctor.stdout.contains("integrity ok"), "\(doctor.stdout)")
        #expect(doctor.stdout.contains("✓ the event log replays to exactly the current state"))
        // And the next lab runs normally.
        let pass = try box.run(["lab", "run", "fixture-pass"])
        #expect(pass.status == 0, "\(pass.stdout)\n\(pass.stderr)")
        #expect(pass.stdout.contains("  PASSED 1/1 checks in "))
        #expect(try box.labRuns().map(\.0) == ["fixture-pass", "fixture-crash"])
    }

    /// Ctrl-C sends SIGINT to the terminal's foreground process group: the tracker and the
    /// lab both get it. The lab stops and reports, the tracker records the run and exits
    /// 130, and the helper process the lab never stopped (in a session of its own, so
    /// Ctrl-C does not reach it) is killed by the tracker's sweep.
    @Test func ctrlCDuringALabLeavesNoProcessAndNoScratchFolder() throws {
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        // setsid gives the tracker a process group of its own, as a shell's job would have.
        let p = try box.start(["lab", "run", "fixture-hang", "--timeout", "120"], prefix: ["/usr/bin/setsid", "--wait"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        var tracker: Int32 = 0
        let found = Self.wait(seconds: 60) {
            tracker =
                ProcFS.descendants(of: p.processIdentifier, including: true)
                .first { ProcFS.executable($0) == CLI.binary } ?? 0
            // The helper is up once a process lives in the scratch root besides the lab.
            return tracker > 0 && ProcFS.processes(under: box.tmp).count >= 1
                && ProcFS.processes(under: box.tmp).contains { ProcFS.commandLine($0).hasPrefix("sleep 3600") }
        }
        #expect(found, "the lab and its helper never started: \(box.output)")
        guard found else { return }
        let group = getpgid(tracker)
        try #require(group > 0 && group != getpgid(0), "the tracker must be in a process group of its own")
        let before = box.leftovers()
        #expect(!before.files.isEmpty, "a scratch root exists while the lab runs")
        kill(-group, SIGINT)
        p.waitUntilExit()
        #expect(p.terminationStatus == 130, "exit \(p.terminationStatus): \(box.output)")
        #expect(box.output.contains("interrupted"), "\(box.output)")
        let left = box.leftovers()
        #expect(left.files.isEmpty, "scratch left behind: \(left.files)")
        #expect(left.processes.isEmpty, "processes left behind: \(left.processes.map(ProcFS.commandLine))")
        #expect(ProcFS.descendants(of: tracker, including: true).isEmpty)
        #expect(try box.labRuns().map(\.0) == ["fixture-hang"])
    }

    /// Ctrl-C while a lab holds its throwaway Redis: the lab stops the server it started,
    /// the run is recorded as interrupted, and no redis-server or scratch folder remains.
    @Test func ctrlCWhileALabHoldsRedisLeavesNoServer() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") else { return }
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        let p = try box.start(["lab", "run", "redis-sessions", "--timeout", "300"], prefix: ["/usr/bin/setsid", "--wait"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        var tracker: Int32 = 0
        let up = Self.wait(seconds: 60) {
            tracker = ProcFS.descendants(of: p.processIdentifier, including: true).first { ProcFS.executable($0) == CLI.binary } ?? 0
            return (tracker > 0 && ProcFS.processes(under: box.tmp).contains { ProcFS.commandLine($0).contains("redis-server") })
                || !p.isRunning
        }
        try #require(up && p.isRunning, "the lab's Redis never started: \(box.output)")
        kill(-getpgid(tracker), SIGINT)
        p.waitUntilExit()
        #expect(p.terminationStatus == 130, "exit \(p.terminationStatus): \(box.output)")
        #expect(
            Self.wait(seconds: 5) { box.leftovers().processes.isEmpty && box.leftovers().files.isEmpty },
            "left behind: \(box.leftovers().files) \(box.leftovers().processes.map(ProcFS.commandLine))")
        #expect(try box.labRuns().map(\.0) == ["redis-sessions"])
    }

    /// `kill <tracker>` (SIGTERM) or a closed terminal (SIGHUP) mid-lab: the tracker passes
    /// the stop on, the lab stops its PostgreSQL and reports, the tracker records the run as
    /// interrupted and sweeps. Within a few seconds no server and no scratch folder remain.
    @Test(arguments: [SIGTERM, SIGHUP])
    func stoppingTheTrackerMidLabStopsTheLabsServer(_ signal: Int32) throws {
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        let p = try box.start(["lab", "run", "fixture-postgres", "--timeout", "120"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let up = Self.wait(seconds: 60) { Self.postgresReady(under: box.tmp) || !p.isRunning }
        try #require(up && p.isRunning, "the lab's PostgreSQL never started: \(box.output)")
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        #expect(p.terminationStatus == 130, "exit \(p.terminationStatus): \(box.output)")
        #expect(box.output.contains("interrupted"), "\(box.output)")
        #expect(
            Self.wait(seconds: 5) { box.leftovers().processes.isEmpty && box.leftovers().files.isEmpty },
            "left behind: \(box.leftovers().files) \(box.leftovers().processes.map(ProcFS.commandLine))")
        #expect(try box.labRuns().map(\.0) == ["fixture-postgres"])
    }

    /// SIGKILL cannot be caught: the tracker dies at once. The lab learns it through its
    /// parent-death signal, stops its PostgreSQL, and removes the scratch root itself.
    @Test func killingTheTrackerMidLabStillStopsTheLabsServer() throws {
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        let p = try box.start(["lab", "run", "fixture-postgres", "--timeout", "120"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let up = Self.wait(seconds: 60) { Self.postgresReady(under: box.tmp) || !p.isRunning }
        try #require(up && p.isRunning, "the lab's PostgreSQL never started: \(box.output)")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(
            Self.wait(seconds: 10) { box.leftovers().processes.isEmpty && box.leftovers().files.isEmpty },
            "left behind: \(box.leftovers().files) \(box.leftovers().processes.map(ProcFS.commandLine))")
    }

    /// SIGKILL to the tracker while multi-client-server's clients load its C++ server: the
    /// lab stops its clients after their current request (not after all 256 × 10,000), stops
    /// the server and removes the scratch folder within seconds.
    @Test func killingTheTrackerMidLoadStopsTheClientsAndTheNativeServer() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/g++") else { return }
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        let p = try box.start([
            "lab", "run", "multi-client-server", "--param", "connections=256", "--param", "requests=10000", "--timeout", "600",
        ])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let loading = Self.wait(seconds: 120) {
            ProcFS.processes(under: box.tmp).contains { ProcFS.commandLine($0).contains("/server thread") } || !p.isRunning
        }
        try #require(loading && p.isRunning, "the lab's server never started: \(box.output)")
        Thread.sleep(forTimeInterval: 1)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(
            Self.wait(seconds: 10) { box.leftovers().processes.isEmpty && box.leftovers().files.isEmpty },
            "left behind: \(box.leftovers().files) \(box.leftovers().processes.map(ProcFS.commandLine))")
    }

    /// The same for the broker several queue labs share: its holder learns of the tracker's
    /// death by its stdin closing (and its parent-death signal), and stops the broker; the
    /// lab running at that moment stops as above. Nothing of RabbitMQ survives.
    /// Killed at two moments: while the broker still boots (its Erlang VM is up, no login
    /// yet), and while a lab uses it.
    @Test(arguments: ["beam.smp", "curriculum-labs run task-queue"])
    func killingTheTrackerWhileQueueLabsShareABrokerLeavesNothing(_ moment: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/lib/rabbitmq/bin/rabbitmq-server") else { return }
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        let p = try box.start(["lab", "run", "task-queue", "retries-dlq", "--timeout", "300"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let running = { ProcFS.descendants(of: p.processIdentifier, including: false).contains { ProcFS.commandLine($0).contains(moment) } }
        let reached = Self.wait(seconds: 120) {
            running() || ProcFS.processes(under: box.tmp).contains { ProcFS.commandLine($0).contains(moment) } || !p.isRunning
        }
        try #require(reached && p.isRunning, "the run never reached \(moment): \(box.output)")
        let before = ProcFS.processes(under: box.tmp).map(ProcFS.commandLine).filter { $0.contains("curriculum-labs") }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(
            Self.wait(seconds: 60) { box.leftovers().processes.isEmpty && box.leftovers().files.isEmpty },
            "left behind: \((FileManager.default.subpaths(atPath: box.tmp) ?? []).prefix(12)) \(box.leftovers().processes.map(ProcFS.commandLine)); before the kill: \(before)"
        )
    }

    /// What a killed run could not clean (here: a scratch root whose tracker is gone, with
    /// a process still running inside it) is swept by the next `lab run`.
    @Test func theNextLabRunSweepsWhatAKilledRunLeft() throws {
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        // A tracker pid that is surely dead: a child we started and reaped.
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run(); dead.waitUntilExit()
        let root = URL(fileURLWithPath: box.tmp).appendingPathComponent("curriculum-lab-\(dead.processIdentifier)-0badc0de")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let orphan = Process()
        orphan.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        orphan.arguments = ["sleep", "3600"]
        orphan.currentDirectoryURL = root
        try orphan.run()
        defer { kill(orphan.processIdentifier, SIGKILL) }
        #expect(Self.wait(seconds: 5) { !ProcFS.processes(under: root.path).isEmpty })
        let r = try box.run(["lab", "run", "fixture-pass"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(Self.wait(seconds: 5) { ProcFS.processes(under: root.path).isEmpty }, "the orphan still runs")
        #expect(!FileManager.default.fileExists(atPath: root.path), "the abandoned scratch root is still there")
    }

    /// Whether fixture-postgres has its server up (it writes `postgres-ready` then).
    static func postgresReady(under root: String) -> Bool {
        let files = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
        return files.contains { $0.hasSuffix("/postgres-ready") }
            && ProcFS.processes(under: root).contains { ProcFS.commandLine($0).contains("postgres") }
    }

    // MARK: Network

    /// No lab source binds a wildcard address: servers listen on 127.0.0.1, ::1, or a
    /// unix socket.
    @Test func noLabSourceBindsAWildcardAddress() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let patterns = [
            "0.0.0.0", "INADDR_ANY", "in6addr_any", "\"::\"", "\"[::]\"", "listen_addresses='*'",
            "listen_addresses = '*'", "listen_addresses=*", "bind *", "protected-mode no",
        ]
        var scanned = 0
        var hits: [String] = []
        for folder in ["Sources/Labs", "Sources/LabKit", "Sources/curriculum-labs"] {
            let base = root.appendingPathComponent(folder)
            let files = FileManager.default.enumerator(atPath: base.path)?.compactMap { $0 as? String } ?? []
            for f in files where f.hasSuffix(".swift") {
                let text = try String(contentsOf: base.appendingPathComponent(f), encoding: .utf8)
                scanned += 1
                for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let code = line.trimmingCharacters(in: .whitespaces)
                    if code.hasPrefix("//") { continue }
                    for p in patterns where line.contains(p) { hits.append("\(folder)/\(f):\(n + 1): \(code)") }
                }
            }
        }
        #expect(scanned > 10, "the scan should see the lab sources")
        #expect(hits.isEmpty, "\(hits.joined(separator: "\n"))")
    }

    /// The sampler sees a real listener: the fixture that listens on 127.0.0.1 is found,
    /// with its address and owner.
    @Test func theListenerSamplerSeesALoopbackListener() throws {
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        let p = try box.start(["lab", "run", "fixture-listen"])
        let seen = ProcFS.sampleListeners(of: p)
        #expect(p.terminationStatus == 0, "\(box.output)")
        #expect(seen.contains { $0.address.hasPrefix("127.0.0.1:") }, "seen: \(seen)")
        #expect(seen.allSatisfy { $0.isLoopback }, "seen: \(seen)")
    }

    /// Every lab of the catalogue, run in quick mode, listens on loopback addresses only
    /// (or not at all): /proc/net/tcp and tcp6 are sampled every few milliseconds for
    /// listening sockets owned by the tracker's process tree or by anything living in
    /// the run's scratch root (servers that detach themselves).
    @Test func everyLabListensOnLoopbackOnly() throws {
        let box = try Sandbox(); defer { box.cli.cleanUp() }
        let p = try box.start(["lab", "run", "--all", "--quick"])
        let seen = ProcFS.sampleListeners(of: p, scratch: box.tmp)
        #expect([0, 1, 69].contains(p.terminationStatus), "\(box.output)")
        #expect(box.output.contains(" passed, "), "\(box.output)")
        let wild = seen.filter { !$0.isLoopback }
        #expect(wild.isEmpty, "labs listening beyond loopback: \(wild)")
        print("listening sockets seen during the catalogue run: \(Set(seen.map(\.description)).sorted())")
    }
}

/// Just enough of /proc to see processes, their sockets and what they listen on.
enum ProcFS {
    static func pids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    static func commandLine(_ pid: Int32) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }

    static func executable(_ pid: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
    }

    static func parent(_ pid: Int32) -> Int32? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // "pid (comm) state ppid …"; comm may hold spaces and parentheses.
        guard let close = text.range(of: ")", options: .backwards) else { return nil }
        let fields = text[close.upperBound...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// Every live process descended from `root` (and `root` itself when asked).
    static func descendants(of root: Int32, including: Bool = false) -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        let all = pids()
        for p in all { if let pp = parent(p) { children[pp, default: []].append(p) } }
        var out: [Int32] = including && all.contains(root) ? [root] : []
        var queue = [root]
        while let p = queue.popLast() {
            for c in children[p] ?? [] { out.append(c); queue.append(c) }
        }
        return out
    }

    /// Processes whose command line or working folder lies inside `folder`.
    static func processes(under folder: String) -> [Int32] {
        let me = getpid()
        return pids().filter { p in
            guard p != me else { return false }
            if commandLine(p).contains(folder) { return true }
            return (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(p)/cwd"))?.hasPrefix(folder) ?? false
        }
    }

    struct Listener: Hashable, CustomStringConvertible {
        var address: String
        var isLoopback: Bool
        var owner: String
        var description: String { "\(address) (\(owner))" }
    }

    /// Listening TCP sockets by inode, from /proc/net/tcp and tcp6.
    static func listeningSockets() -> [String: (address: String, loopback: Bool)] {
        var out: [String: (String, Bool)] = [:]
        for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ")
                guard f.count > 9, f[3] == "0A" else { continue }  // 0A: LISTEN
                let local = f[1].split(separator: ":")
                guard local.count == 2, let port = Int(local[1], radix: 16) else { continue }
                let (address, loopback) = decode(String(local[0]), v6: v6)
                out[String(f[9])] = (v6 ? "[\(address)]:\(port)" : "\(address):\(port)", loopback)
            }
        }
        return out
    }

    /// An address as /proc prints it (32-bit words in host order, little-endian here).
    static func decode(_ hex: String, v6: Bool) -> (String, Bool) {
        var bytes: [UInt8] = []
        let chars = Array(hex)
        var word = 0
        while word * 8 + 8 <= chars.count {
            let w = chars[(word * 8)..<(word * 8 + 8)]
            let b = stride(from: 0, to: 8, by: 2).compactMap { UInt8(String(w[w.startIndex + $0..<w.startIndex + $0 + 2]), radix: 16) }
            bytes += b.reversed()
            word += 1
        }
        if !v6 {
            return (bytes.map(String.init).joined(separator: "."), bytes.first == 127)
        }
        let groups = stride(from: 0, to: bytes.count, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        let loopback =
            bytes == [UInt8](repeating: 0, count: 15) + [1]
            || (bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127)
        return (groups.joined(separator: ":"), loopback)
    }

    /// Samples, until `process` exits, the listening sockets held by its process tree (and
    /// by any process living in `scratch`).
    static func sampleListeners(of process: Process, scratch: String? = nil) -> Set<Listener> {
        var seen: Set<Listener> = []
        repeat {
            let sockets = listeningSockets()
            if !sockets.isEmpty {
                var owners = descendants(of: process.processIdentifier, including: true)
                if let scratch { owners += processes(under: scratch) }
                for pid in Set(owners) {
                    let fdDir = "/proc/\(pid)/fd"
                    for fd in (try? FileManager.default.contentsOfDirectory(atPath: fdDir)) ?? [] {
                        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDir)/\(fd)"),
                            link.hasPrefix("socket:[")
                        else { continue }
                        let inode = String(link.dropFirst("socket:[".count).dropLast())
                        if let s = sockets[inode] {
                            let name = commandLine(pid).split(separator: " ").prefix(3).joined(separator: " ")
                            seen.insert(Listener(address: s.address, isLoopback: s.loopback, owner: "pid \(pid) \(name)"))
                        }
                    }
                }
            }
            usleep(5_000)
        } while process.isRunning
        process.waitUntilExit()
        return seen
    }
}
