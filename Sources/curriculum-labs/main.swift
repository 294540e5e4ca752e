// curriculum-labs: runs one lab and speaks the lab protocol (see LabKit/LabProtocol.swift)
// on stdout. The tracker (`curriculum lab …`) starts it; a learner can too.
//
//   curriculum-labs catalog                  every lab's declaration, as JSON (plan order)
//   curriculum-labs init LAB DIR             writes the lab's starter folder into DIR
//   curriculum-labs run LAB [--quick] [--param NAME=VALUE]… [--scratch DIR] [--manual-clock]
//                       [--url URL | --against CMD | --source PATH | --answers FILE]
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
let interrupted = Atomic<Bool>(false)
for sig in [SIGINT, SIGTERM] {
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
    switch report.outcome {
    case .passed: exit(runTask.isCancelled ? LabExit.interrupted : LabExit.passed)
    case .failed: exit(runTask.isCancelled ? LabExit.interrupted : LabExit.failed)
    case .unavailable: exit(LabExit.unavailable)
    }
}
dispatchMain()
