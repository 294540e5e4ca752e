// curriculum-labs: runs one lab and speaks the lab protocol (see LabCatalog/LabProtocol.swift)
// on stdout. The tracker (`curriculum lab …`) starts it; a learner can too.
//
//   curriculum-labs catalog                  every lab's declaration, as JSON (plan order)
//   curriculum-labs init LAB DIR             writes the lab's starter folder into DIR
//   curriculum-labs child LAB ARG…           a lab's own child process (LabChildProcess)
//   curriculum-labs hold-rabbitmq DIR        starts a RabbitMQ broker in DIR for the labs of one
//                                            `lab run`, prints its descriptor line, and stops it
//                                            when stdin closes or on SIGTERM
//   curriculum-labs run LAB [--quick] [--param NAME=VALUE]… [--scratch DIR] [--manual-clock]
//                       [--url URL | --against CMD | --source PATH | --answers FILE]
import CLabSupport
import Foundation
import LabCatalog
import LabKit
import Labs
import Synchronization

/// Set when the run must stop: Ctrl-C, SIGTERM/SIGHUP (a time-out, or the tracker being
/// stopped), or the tracker gone (its end of the pipe closed).
let interrupted = Atomic<Bool>(false)

/// One protocol line on stdout, written at once (no buffering: the tracker shows progress
/// live) with write(2): a closed pipe means the tracker is gone, which stops the run like
/// an interrupt so its clean-ups still run (FileHandle.write would trap on EPIPE instead).
func emit(_ event: LabEvent) { say(event.line()) }

/// Writes `line` and a newline to stdout with write(2); a failure stops the run (see emit).
func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        if n > 0 { offset += n; continue }
        if n < 0 && errno == EINTR { continue }
        interrupted.store(true, ordering: .relaxed)
        return
    }
}

func fail(_ message: String, _ status: Int32) -> Never {
    FileHandle.standardError.write(Data("curriculum-labs: \(message)\n".utf8))
    exit(status)
}

var args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first else { fail("usage: curriculum-labs catalog | run LAB [--quick] [--param k=v]…", LabExit.usage) }
args.removeFirst()

switch command {
case "catalog":
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    let data = (try? enc.encode(LabRegistry.all.map { $0.info })) ?? Data("[]".utf8)
    print(String(decoding: data, as: UTF8.self))
    exit(0)
case "init":
    guard args.count == 2 else { fail("usage: curriculum-labs init LAB DIR", LabExit.usage) }
    guard let type = LabRegistry.lab(args[0]) else { fail("no lab \(args[0]); `curriculum lab list` shows them", LabExit.usage) }
    do {
        for path in try LabStarter.write(type, into: URL(fileURLWithPath: args[1], isDirectory: true)) { print(path) }
    } catch {
        fail("\(error)", (error as? LabStarter.Refusal)?.status ?? LabExit.failed)
    }
    exit(0)
case "child":
    // A lab's second process (a consumer the lab kills mid-task): see LabKit/LabChild.swift.
    guard let id = args.first, let type = LabRegistry.lab(id) as? any LabChildProcess.Type else {
        fail("usage: curriculum-labs child LAB ARG… (a lab with a child process)", LabExit.usage)
    }
    // No parent-death signal here: Linux ties it to the spawning thread, which may end
    // first. A child watches getppid() itself.
    signal(SIGPIPE, SIG_IGN)
    exit(type.child(Array(args.dropFirst())))
case "hold-rabbitmq":
    // One broker for several queue labs of a `lab run` (the tracker starts this, see
    // LabHost.SharedBroker): a broker takes seconds to boot, a lab's checks less.
    guard args.count == 1 else { fail("usage: curriculum-labs hold-rabbitmq DIR", LabExit.usage) }
    let folder = args[0]
    signal(SIGPIPE, SIG_IGN)
    // Ctrl-C belongs to the lab that is running; the tracker ends this holder by closing
    // its stdin (or, gone, by the parent-death signal).
    signal(SIGINT, SIG_IGN)
    _ = clab_set_parent_death_signal(SIGTERM)
    for sig in [SIGTERM, SIGHUP] {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in interrupted.store(true, ordering: .relaxed) }
        sigemptyset(&action.sa_mask)
        sigaction(sig, &action, nil)
    }
    Thread.detachNewThread {
        // stdin reaches end of file when the tracker closes its end, or dies.
        var byte: UInt8 = 0
        while true {
            let n = read(STDIN_FILENO, &byte, 1)
            if n == 0 || (n < 0 && errno != EINTR) { break }
        }
        interrupted.store(true, ordering: .relaxed)
    }
    // The broker's stop, known as soon as it is spawned: the tracker may be gone while the
    // broker still boots, and then it is stopped half-started.
    let stopBroker = Mutex<(@Sendable () async -> Void)?>(nil)
    Task {
        while !interrupted.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(50)) }
        if let stop = stopBroker.withLock({ $0 }) { await stop() }
        // The tracker removes the root it made; when it is gone, this is the last one who
        // knows the folder, which holds nothing but the broker's.
        try? FileManager.default.removeItem(atPath: folder)
        exit(0)
    }
    Task {
        do {
            let broker = try await ThrowawayRabbitMQ.start(in: folder + "/rabbitmq", marker: folder) { stop in
                stopBroker.withLock { $0 = stop }
            }
            // With write(2): the tracker may be gone by now, and FileHandle traps on EPIPE.
            say(broker.descriptor)
        } catch {
            say("error: \(error)")
            exit(error is LabUnavailable ? LabExit.unavailable : LabExit.failed)
        }
    }
    dispatchMain()
case "run":
    break
default:
    fail("unknown command \(command); use catalog or run", LabExit.usage)
}

var labID: String?
var quick = false
var given: [String: String] = [:]
var scratchRoot: URL?
var manualClock = false
var subject = LabSubject.reference
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--quick": quick = true
    case "--manual-clock": manualClock = true
    case "--param":
        guard !args.isEmpty else { fail("--param needs NAME=VALUE", LabExit.usage) }
        let kv = args.removeFirst()
        guard let eq = kv.firstIndex(of: "=") else { fail("--param needs NAME=VALUE, got \(kv)", LabExit.usage) }
        given[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
    case "--url", "--against", "--source", "--answers":
        guard !args.isEmpty else { fail("\(a) needs a value", LabExit.usage) }
        guard !subject.isOwnWork else { fail("give one subject: \(subject.kind.flag ?? "") and \(a) were both given", LabExit.usage) }
        subject = LabSubject(LabSubject.Kind(rawValue: String(a.dropFirst(2))) ?? .reference, args.removeFirst())
    case "--scratch":
        guard !args.isEmpty else { fail("--scratch needs a folder", LabExit.usage) }
        scratchRoot = URL(fileURLWithPath: args.removeFirst(), isDirectory: true)
    default:
        if a.hasPrefix("-") || labID != nil { fail("unexpected argument \(a)", LabExit.usage) }
        labID = a
    }
}
guard let labID else { fail("run needs a lab id", LabExit.usage) }
// Hidden test fixtures (Fixtures.swift) exist only with CURRICULUM_LABS_FIXTURES=1.
guard let found = LabRegistry.lab(labID).map({ (info: $0.info, type: $0) }) ?? LabFixtures.lab(labID) else {
    fail("no lab \(labID); `curriculum lab list` shows them", LabExit.usage)
}
let (info, type) = found
if let refusal = info.refusal(of: subject) { fail(refusal, LabExit.usage) }
let parameters: [String: String]
do { parameters = try info.resolve(parameters: given, quick: quick) } catch { fail(error.description, LabExit.usage) }

// Ctrl-C or a time-out (SIGTERM from the tracker) cancels the lab; its clean-ups still run
// and the report still goes out, so no server or scratch folder is left behind. The
// handler only sets a flag (all a signal handler may safely do); a watcher cancels the run.
// A closed pipe is reported by write(2) as EPIPE (see emit) instead of killing the process.
signal(SIGPIPE, SIG_IGN)
// When the tracker dies, even by SIGKILL, the kernel sends this lab SIGTERM, which stops it
// and runs its clean-ups: no server outlives the run it belonged to.
_ = clab_set_parent_death_signal(SIGTERM)
// The tracker that started this run: its pid is in the scratch root's name
// (curriculum-lab-PID-XXXXXXXX, see LabHost), else it is the parent. Read from the name, not
// from getppid() now: the tracker may already be gone, this process handed to another.
let tracker: pid_t =
    scratchRoot.flatMap { root -> pid_t? in
        let parts = root.lastPathComponent.split(separator: "-")
        return parts.count == 4 && parts[0] == "curriculum" && parts[1] == "lab" ? pid_t(parts[2]) : nil
    } ?? getppid()
// Gone before the parent-death signal was armed: stop at once.
if getppid() != tracker { interrupted.store(true, ordering: .relaxed) }
for sig in [SIGINT, SIGTERM, SIGHUP] {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in interrupted.store(true, ordering: .relaxed) }
    sigemptyset(&action.sa_mask)
    sigaction(sig, &action, nil)
}
let clock: LabClock = manualClock ? .manual() : .system()
let runTask = Task {
    await LabRunner.run(type, info: info, quick: quick, parameters: parameters, subject: subject, clock: clock, scratchRoot: scratchRoot) { event in
        emit(event)
    }
}
Task {
    while !interrupted.load(ordering: .relaxed) {
        try? await Task.sleep(nanoseconds: 50_000_000)
    }
    runTask.cancel()
}
Task {
    let report = await runTask.value
    emit(.report(report))
    // The tracker removes the scratch root it made; when it is gone (killed), this lab is
    // the last one who knows the folder, so it removes it (only if empty: the runner has
    // already removed the lab's own scratch folder inside it).
    if getppid() != tracker, let root = scratchRoot { rmdir(root.path) }
    switch report.outcome {
    case .passed: exit(runTask.isCancelled ? LabExit.interrupted : LabExit.passed)
    case .failed: exit(runTask.isCancelled ? LabExit.interrupted : LabExit.failed)
    case .unavailable: exit(LabExit.unavailable)
    }
}
dispatchMain()
