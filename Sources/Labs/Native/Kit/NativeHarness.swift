import Foundation
import LabKit

/// What the phase-5 labs share: their embedded C++ (`CppSources`, from Phase05/cpp), the
/// files a run compiles (the reference, or the learner's `--source` with the lab's harness),
/// and the harness protocol: the C++ prints `RESULT name pass|fail detail` and
/// `FIGURE name value unit` lines, which the lab turns into checks and figures.
enum Native {
    static let compilerNeed = LabNeed.cxx
    static let httplibNeed = LabNeed("cpp-httplib", programs: ["pkg-config"], packages: ["g++", "libcpp-httplib-dev", "pkg-config"])
    static let pqxxNeed = LabNeed("libpqxx", programs: ["pkg-config"], packages: ["g++", "libpqxx-dev", "pkg-config"])

    /// An embedded file, by its path under cpp/ ("cpp-threads/harness.cpp").
    static func file(_ path: String, as name: String? = nil) -> CppBuild.File {
        guard let text = CppSources.files[path] else { preconditionFailure("no embedded C++ file \(path); run scripts/embed-cpp.sh") }
        return CppBuild.File(name ?? URL(fileURLWithPath: path).lastPathComponent, text)
    }

    /// The files of one build: the harness (always the lab's), and either the reference
    /// (`reference`, under cpp/LAB/) or the learner's `--source` files; contract headers the
    /// learner did not write are added from the lab. Returns the extra `-I` flags the
    /// learner's folders need.
    static func files(
        _ lab: LabContext, folder: String, harness: [String], reference: [String], contract: [String] = []
    )
        throws -> (sources: [CppBuild.File], headers: [CppBuild.File], flags: [String])
    {
        let harnessFiles = harness.map { file("\(folder)/\($0)") }
        var own: [CppBuild.File]
        var flags: [String] = []
        if lab.subject.kind == .source, let path = lab.subject.value {
            own = try CppBuild.learnerFiles(at: path).filter { f in !harness.contains(URL(fileURLWithPath: f.path).lastPathComponent) }
            let names = Set(own.map { URL(fileURLWithPath: $0.path).lastPathComponent })
            own += contract.filter { !names.contains($0) }.map { file("\(folder)/\($0)") }
            let dirs = Set(own.map { ($0.path as NSString).deletingLastPathComponent }).filter { $0 != "." && !$0.isEmpty }
            flags = dirs.sorted().map { "-I\($0)" }
            lab.step(
                "Compiling your source \(path) with the lab's harness",
                "your files: \(own.map(\.path).joined(separator: ", ")); the harness: \(harness.joined(separator: ", "))")
        } else {
            own = (reference + contract).map { file("\(folder)/\($0)") }
        }
        let all = harnessFiles + own
        return (all.filter(\.isSource), all.filter { !$0.isSource }, flags)
    }

    /// `-DLAB_BREAK_NAME` for a breaker ("skip-item" → LAB_BREAK_SKIP_ITEM); none for "none"
    /// or for the learner's code (breakers break the reference only).
    static func breakFlags(_ lab: LabContext, _ value: String) -> [String] {
        guard value != "none", lab.subject.kind == .reference else { return [] }
        return ["-DLAB_BREAK_" + value.uppercased().replacingOccurrences(of: "-", with: "_")]
    }
}

/// What a harness run printed.
struct HarnessOutput: Sendable {
    struct Result: Sendable { var pass: Bool; var detail: String }
    var termination: Subprocess.Termination
    var text: String
    var results: [String: Result] = [:]
    var figures: [String: (value: Double, unit: String)] = [:]

    init(termination: Subprocess.Termination, text: String) {
        self.termination = termination; self.text = text
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            if parts.first == "RESULT", parts.count >= 3 {
                results[parts[1]] = Result(pass: parts[2] == "pass", detail: parts.count > 3 ? parts[3] : "")
            } else if parts.first == "FIGURE", parts.count >= 3, let v = Double(parts[2]) {
                figures[parts[1]] = (v, parts.count > 3 ? parts[3] : "")
            }
        }
    }

    /// Up to `n` last lines, indented, for a report.
    func tail(_ n: Int = 12) -> String {
        let lines = text.split(separator: "\n").suffix(n)
        return lines.isEmpty ? "no output" : lines.joined(separator: "\n")
    }

    var sanitizerFinding: String? { CppBuild.sanitizerFinding(in: text) }
}

extension LabContext {
    /// Runs a built harness (in the scratch folder, the sanitizers' environment set) and
    /// parses what it printed.
    func runHarness(
        _ program: CppBuild.Executable, _ arguments: [String], timeout: Double = 60,
        environment extra: [String: String] = [:]
    ) async throws -> HarnessOutput {
        var env = CppBuild.environment(for: program.sanitizers)
        for (k, v) in extra { env[k] = v }
        do {
            let (termination, text) = try await Subprocess.capture(
                program.url.path, arguments, environment: env,
                directory: scratch.path, timeout: timeout)
            return HarnessOutput(termination: termination, text: text)
        } catch {
            throw LabError(error.description)
        }
    }

    /// A check judged by the harness's RESULT line `key`; a missing line (a crash, a hang)
    /// fails it with how the harness ended and its last lines.
    @discardableResult
    func harnessCheck(_ name: String, _ asserts: String, _ output: HarnessOutput, _ key: String) -> Bool {
        if let r = output.results[key] {
            return check(name, r.pass, expected: asserts, observed: r.detail)
        }
        let finding = output.sanitizerFinding.map { "; the sanitizer said:\n" + $0 } ?? ""
        return check(
            name, false, expected: asserts,
            observed: "the harness printed no result (it \(output.termination))\(finding.isEmpty ? "; its last lines:\n" + output.tail(8) : finding)")
    }

    /// The sanitizer check: nothing reported and a clean exit, or the report's first lines quoted.
    @discardableResult
    func sanitizerCheck(_ name: String, _ asserts: String, _ output: HarnessOutput, ran: String) -> Bool {
        if let finding = output.sanitizerFinding {
            return check(name, false, expected: asserts, observed: "\(ran): the sanitizer reported:\n" + finding)
        }
        guard output.termination.succeeded else {
            return check(name, false, expected: asserts, observed: "\(ran): the program \(output.termination); its last lines:\n" + output.tail(8))
        }
        return check(name, true, expected: asserts, observed: "\(ran): no report, exit status 0")
    }

    /// Builds several programs at once (2 cores: the compiler is the slow part of a first
    /// run) and records their compile checks in order; nil for those that did not compile.
    func compileAll(_ builds: [CppBuild]) async throws -> [CppBuild.Executable?] {
        let outcomes = try await withThrowingTaskGroup(of: (Int, CppBuild.Outcome).self) { group in
            for (i, b) in builds.enumerated() { group.addTask { (i, try await b.build()) } }
            var all = [CppBuild.Outcome?](repeating: nil, count: builds.count)
            for try await (i, o) in group { all[i] = o }
            return all.compactMap { $0 }
        }
        var out: [CppBuild.Executable?] = []
        for (b, o) in zip(builds, outcomes) {
            let title = "\(b.name) compiles with \(CppBuild.baseFlags.joined(separator: " "))\(b.sanitizers.map { " and \($0.title)" } ?? "")"
            switch o {
            case let .built(e):
                check(
                    title, true, expected: "no error and no warning",
                    observed: e.cached
                        ? "found in the build cache (same sources, flags and compiler)"
                        : String(format: "compiled in %.1f s: %@", e.seconds, e.commandLine))
                out.append(e)
            case let .failed(f):
                check(
                    title, false, expected: "no error and no warning",
                    observed: "the compiler refused it (\(f.commandLine)):\n" + f.diagnostics)
                out.append(nil)
            }
        }
        return out
    }
}

/// A lab's `lab init` folder for a C++ exercise: README, the contract header(s) and a stub
/// that compiles and fails.
func cppStarter(_ info: LabInfo, task: String, files: [StarterFile], checks: [(String, String)], build: String) -> [StarterFile] {
    let list = checks.map { "- **\($0.0)**: \($0.1)" }.joined(separator: "\n")
    let readme = """
        # \(info.title)

        \(task)

        ## Run the checks on your code

            curriculum lab run \(info.id) --source .

        The lab compiles your files with its own harness (\(build)) and runs them. Without
        `--source` it judges its reference implementation (`\(info.source)` and the C++ beside it
        under `Phase05/cpp/\(info.id)/`), which shows one way to pass.

        ## What the checks assert

        \(list)
        """
    return [StarterFile("README.md", readme)] + files
}
