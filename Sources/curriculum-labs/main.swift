// curriculum-labs: runs one lab and speaks the lab protocol (see LabKit/LabProtocol.swift)
// on stdout. The tracker (`curriculum lab …`) starts it; a learner can too.
//
//   curriculum-labs catalog
//   curriculum-labs run LAB [--quick] [--param NAME=VALUE]… [--scratch DIR] [--manual-clock]
import Foundation
import LabCatalog
import LabKit
import Labs
import Synchronization

/// One protocol line on stdout, written at once (no buffering: the tracker shows progress live).
func emit(_ event: LabEvent) {
    FileHandle.standardOutput.write(Data((event.line() + "\n").utf8))
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
    let data = (try? enc.encode(LabCatalog.all)) ?? Data("[]".utf8)
    print(String(decoding: data, as: UTF8.self))
    exit(0)
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
guard let found = LabCatalog.lab(labID).flatMap({ i in LabRegistry.lab(labID).map { (info: i, type: $0) } }) ?? LabFixtures.lab(labID) else {
    fail("no lab \(labID); `curriculum lab list` shows them", LabExit.usage)
}
let (info, type) = found
let parameters: [String: String]
do { parameters = try info.resolve(parameters: given, quick: quick) } catch { fail(error.description, LabExit.usage) }

// Ctrl-C or a time-out (SIGTERM from the tracker) cancels the lab; its clean-ups still run
// and the report still goes out, so no server or scratch folder is left behind. The
// handler only sets a flag (all a signal handler may safely do); a watcher cancels the run.
let interrupted = Atomic<Bool>(false)
for sig in [SIGINT, SIGTERM] {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in interrupted.store(true, ordering: .relaxed) }
    sigemptyset(&action.sa_mask)
    sigaction(sig, &action, nil)
}
let clock: LabClock = manualClock ? .manual() : .system()
let runTask = Task {
    await LabRunner.run(type, info: info, quick: quick, parameters: parameters, clock: clock, scratchRoot: scratchRoot) { event in
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
    switch report.outcome {
    case .passed: exit(runTask.isCancelled ? LabExit.interrupted : LabExit.passed)
    case .failed: exit(runTask.isCancelled ? LabExit.interrupted : LabExit.failed)
    case .unavailable: exit(LabExit.unavailable)
    }
}
dispatchMain()
