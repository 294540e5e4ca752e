import Crypto
import Foundation
import LabCatalog
import Synchronization

/// Compiles C++17 at run time for the labs that teach C++ (phase 5, and later the gRPC labs):
///
///     let build = CppBuild(name: "queue", sources: [harness], headers: [header],
///                          flags: ["-pthread"], sanitizers: .thread)
///     guard let program = try await lab.compile(build) else { return }   // a failed check says why
///
/// The system compiler (`$CXX`, else `g++`, else `clang++`; none → `LabUnavailable`, exit 69,
/// with the `apt-get install -y g++ …` line) builds with `-std=c++17 -O2 -Wall -Wextra
/// -Werror`, sanitizers on request, and the flags pkg-config gives for Debian's libraries
/// (`cpp-httplib`, `libpqxx`). The executable is cached under a SHA-256 of the sources, the
/// flags and the compiler's version (`CppBuild.cacheFolder`), so a second run does not
/// recompile. A compiler error is an outcome, not a throw: `lab.compile` records it as a
/// failed check showing the first 40 lines of the compiler's output.
public struct CppBuild: Sendable {
    /// A file of a build: its path in the build folder ("queue.hpp", "harness/main.cpp") and text.
    public struct File: Sendable, Hashable {
        public var path: String
        public var contents: String
        public init(_ path: String, _ contents: String) { self.path = path; self.contents = contents }
    }

    public enum Sanitizers: String, Sendable, CaseIterable {
        /// `-fsanitize=address,undefined`: out-of-bounds, use-after-free, undefined behaviour.
        case addressUndefined = "address,undefined"
        /// `-fsanitize=thread`: data races.
        case thread

        var flags: [String] {
            switch self {
            case .addressUndefined: return ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
            case .thread: return ["-fsanitize=thread", "-g"]
            }
        }

        /// What a learner reads in a report: "AddressSanitizer and UBSan".
        public var title: String { self == .thread ? "ThreadSanitizer" : "AddressSanitizer and UBSan" }
    }

    /// Names the executable (and the report's lines).
    public var name: String
    /// Translation units, compiled and linked together.
    public var sources: [File]
    /// Files written beside the sources and found by `#include "…"` (the folder is on `-I`).
    public var headers: [File]
    /// More compiler flags (`-DLAB_BREAK_NO_LOCK`, `-pthread`); part of the cache key.
    public var flags: [String]
    /// pkg-config names whose `--cflags --libs` are added ("cpp-httplib", "libpqxx").
    public var pkgConfig: [String]
    public var sanitizers: Sanitizers?

    public init(
        name: String, sources: [File], headers: [File] = [], flags: [String] = [],
        pkgConfig: [String] = [], sanitizers: Sanitizers? = nil
    ) {
        self.name = name; self.sources = sources; self.headers = headers; self.flags = flags
        self.pkgConfig = pkgConfig; self.sanitizers = sanitizers
    }

    /// The flags every build gets.
    public static let baseFlags = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror"]

    /// A built program.
    public struct Executable: Sendable {
        public var url: URL
        /// Found in the cache: nothing was compiled.
        public var cached: Bool
        /// Compile time (0 when cached).
        public var seconds: Double
        /// The compiler command, as a learner could retype it in the build folder.
        public var commandLine: String
        public var sanitizers: Sanitizers?
    }

    /// The compiler refused the code.
    public struct CompileFailure: Error, Sendable, CustomStringConvertible {
        /// The first 40 lines of what the compiler wrote.
        public var diagnostics: String
        public var commandLine: String
        public var description: String { "the C++ did not compile:\n" + diagnostics }
    }

    public enum Outcome: Sendable {
        case built(Executable)
        case failed(CompileFailure)
    }

    // MARK: Building

    /// Builds (or finds in the cache) the executable. Throws `LabUnavailable` when the
    /// compiler, pkg-config or a library is missing; a compiler error is `.failed`.
    public func build(cacheFolder: URL = CppBuild.cacheFolder()) async throws -> Outcome {
        let compiler = try Self.compiler(extraPackages: packages)
        let version = try await Self.version(of: compiler)
        let (cflags, libs) = try await Self.pkgConfigFlags(pkgConfig)
        let arguments =
            Self.baseFlags + (sanitizers?.flags ?? []) + flags + cflags + ["-I."]
            + sources.map(\.path) + ["-o", name] + libs + ["-pthread"]
        let key = cacheKey(compiler: compiler, version: version, arguments: arguments)
        let commandLine = ([URL(fileURLWithPath: compiler).lastPathComponent] + arguments).joined(separator: " ")

        let fm = FileManager.default
        let root = cacheFolder.appendingPathComponent("cpp", isDirectory: true)
        let folder = root.appendingPathComponent("\(name)-\(key.prefix(24))", isDirectory: true)
        let program = folder.appendingPathComponent(name)
        if fm.isExecutableFile(atPath: program.path) {
            return .built(Executable(url: program, cached: true, seconds: 0, commandLine: commandLine, sanitizers: sanitizers))
        }
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        let work = root.appendingPathComponent("building-\(name)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }
        for file in sources + headers {
            let url = work.appendingPathComponent(file.path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.contents.utf8).write(to: url)
        }
        let started = ContinuousClock.now
        let (termination, output) = try await Self.capture(compiler, arguments, directory: work.path, timeout: 600)
        let seconds = Measure.seconds(ContinuousClock.now - started)
        guard termination.succeeded, fm.isExecutableFile(atPath: work.appendingPathComponent(name).path) else {
            var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            while lines.last?.isEmpty == true { lines.removeLast() }
            var diagnostics = lines.prefix(40).joined(separator: "\n")
            if lines.count > 40 { diagnostics += "\n… (\(lines.count - 40) more lines)" }
            if diagnostics.isEmpty { diagnostics = "the compiler ended with \(termination) and wrote nothing" }
            return .failed(CompileFailure(diagnostics: diagnostics, commandLine: commandLine))
        }
        // Published whole or not at all: another run building the same key at once keeps its own.
        if rename(work.path, folder.path) != 0, !fm.isExecutableFile(atPath: program.path) {
            throw LabError("could not store the compiled \(name) in \(folder.path): \(String(cString: strerror(errno)))")
        }
        return .built(Executable(url: program, cached: false, seconds: seconds, commandLine: commandLine, sanitizers: sanitizers))
    }

    /// SHA-256 over the compiler, its version, every argument and every file.
    func cacheKey(compiler: String, version: String, arguments: [String]) -> String {
        var hash = SHA256()
        func add(_ text: String) { hash.update(data: Data(text.utf8)); hash.update(data: Data([0])) }
        add("cppbuild-1"); add(compiler); add(version)
        for a in arguments { add(a) }
        for file in (sources + headers).sorted(by: { $0.path < $1.path }) { add(file.path); add(file.contents) }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Debian packages this build needs besides the compiler.
    var packages: [String] { pkgConfig.map { Self.debianPackage[$0] ?? $0 } }

    static let debianPackage = [
        "cpp-httplib": "libcpp-httplib-dev", "libpqxx": "libpqxx-dev", "benchmark": "libbenchmark-dev",
        "grpc++": "libgrpc++-dev", "protobuf": "libprotobuf-dev",
    ]

    /// `$CURRICULUM_CACHE`, else `$XDG_CACHE_HOME/curriculum`, else `~/.cache/curriculum`
    /// (the tracker keeps its data under `$XDG_DATA_HOME/curriculum` the same way).
    public static func cacheFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["CURRICULUM_CACHE"], !dir.isEmpty { return URL(fileURLWithPath: dir, isDirectory: true) }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("curriculum", isDirectory: true)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSTemporaryDirectory()
        return URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".cache/curriculum", isDirectory: true)
    }

    // MARK: The toolchain

    /// `$CXX` (a name on PATH or a path), else `g++`, else `clang++`.
    public static func compiler(
        extraPackages: [String] = [],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> String {
        if let path = ProgramFinder.compiler(environment: environment) { return path }
        var need = LabNeed.cxx
        need.packages += extraPackages
        throw LabUnavailable(need, detail: "neither $CXX, g++ nor clang++ was found on PATH")
    }

    private static let memo = Mutex<[String: String]>([:])

    /// The compiler's first `--version` line (part of the cache key), asked once per process.
    static func version(of compiler: String) async throws -> String {
        if let v = memo.withLock({ $0["version " + compiler] }) { return v }
        let (termination, output) = try await capture(compiler, ["--version"], timeout: 60)
        guard termination.succeeded else { throw LabError("\(compiler) --version failed (\(termination))") }
        let line = output.split(separator: "\n").first.map(String.init) ?? compiler
        memo.withLock { $0["version " + compiler] = line }
        return line
    }

    /// pkg-config's `--cflags` and `--libs` for `names`; a missing library is `LabUnavailable`.
    static func pkgConfigFlags(_ names: [String]) async throws -> (cflags: [String], libs: [String]) {
        guard !names.isEmpty else { return ([], []) }
        let packages = ["g++"] + names.map { debianPackage[$0] ?? $0 }
        guard let tool = ProgramFinder.locate("pkg-config") else {
            throw LabUnavailable(LabNeed("pkg-config", programs: ["pkg-config"], packages: packages + ["pkg-config"]))
        }
        var cflags: [String] = [], libs: [String] = []
        for name in names {
            let key = "pkg " + name
            if let cached = memo.withLock({ $0[key] }) {
                let parts = cached.components(separatedBy: "\u{1}")
                cflags += split(parts[0]); libs += split(parts.count > 1 ? parts[1] : "")
                continue
            }
            let (c, cOut) = try await capture(tool, ["--cflags", name], timeout: 60)
            let (l, lOut) = try await capture(tool, ["--libs", name], timeout: 60)
            guard c.succeeded, l.succeeded else {
                throw LabUnavailable(
                    LabNeed(name, programs: [], packages: packages + ["pkg-config"]),
                    detail: "pkg-config does not know \(name)")
            }
            let text = cOut.trimmingCharacters(in: .whitespacesAndNewlines) + "\u{1}" + lOut.trimmingCharacters(in: .whitespacesAndNewlines)
            memo.withLock { $0[key] = text }
            cflags += split(cOut); libs += split(lOut)
        }
        return (cflags, libs)
    }

    private static func split(_ text: String) -> [String] { text.split(whereSeparator: \.isWhitespace).map(String.init) }

    private static func capture(
        _ executable: String, _ arguments: [String], directory: String? = nil,
        timeout: Double
    ) async throws -> (Subprocess.Termination, String) {
        do {
            let r = try await Subprocess.capture(executable, arguments, directory: directory, timeout: timeout)
            return (r.termination, r.output)
        } catch {
            throw LabError(error.description)
        }
    }

    // MARK: Running

    /// The environment a program built with `sanitizers` runs in: ours, with the sanitizers
    /// set to report every finding (not stop at the first race) and leaks left alone.
    public static func environment(for sanitizers: Sanitizers?, base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var env = base
        switch sanitizers {
        case .addressUndefined?:
            env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:exitcode=86"
            env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=86"
        case .thread?:
            env["TSAN_OPTIONS"] = "halt_on_error=0:exitcode=86:second_deadlock_stack=1"
        case nil:
            break
        }
        return env
    }

    /// The first sanitizer report in `output`, up to `lines` lines from its headline, or nil.
    public static func sanitizerFinding(in output: String, lines: Int = 14) -> String? {
        let all = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let markers = [
            "WARNING: ThreadSanitizer:", "ERROR: AddressSanitizer:", "ERROR: LeakSanitizer:", "runtime error:",
            "ERROR: UndefinedBehaviorSanitizer",
        ]
        guard let start = all.firstIndex(where: { line in markers.contains { line.contains($0) } }) else { return nil }
        return all[start..<min(all.count, start + lines)].joined(separator: "\n")
    }

    // MARK: The learner's source

    /// The C++ files of `--source PATH`: a file, or the `.cpp`/`.cc`/`.hpp`/`.h` files of a
    /// folder (and of its subfolders, without build folders), paths relative to it.
    public static func learnerFiles(at path: String) throws -> [File] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw SubjectFailure("--source \(path) does not exist") }
        let extensions: Set<String> = ["cpp", "cc", "cxx", "hpp", "h", "hh"]
        if !isDir.boolValue {
            let url = URL(fileURLWithPath: path)
            guard extensions.contains(url.pathExtension) else {
                throw SubjectFailure("--source \(path) is not a C++ file (.cpp, .cc, .hpp or .h) nor a folder of them")
            }
            return [File(url.lastPathComponent, try String(contentsOf: url, encoding: .utf8))]
        }
        let base = URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
        var files: [File] = []
        let skip: Set<String> = ["build", ".git", "cmake-build-debug", ".cache"]
        guard let walker = fm.enumerator(at: base, includingPropertiesForKeys: [.isDirectoryKey]) else { return [] }
        for case let url as URL in walker {
            if skip.contains(url.lastPathComponent) { walker.skipDescendants(); continue }
            guard extensions.contains(url.pathExtension) else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(base.path.count + 1))
            files.append(File(relative, try String(contentsOf: url, encoding: .utf8)))
        }
        guard !files.isEmpty else { throw SubjectFailure("--source \(path) holds no C++ file (.cpp, .cc, .hpp or .h)") }
        return files.sorted { $0.path < $1.path }
    }
}

extension CppBuild.File {
    public var isSource: Bool { ["cpp", "cc", "cxx"].contains(URL(fileURLWithPath: path).pathExtension) }
}

extension LabContext {
    /// Builds `build` (see `CppBuild.build`) and records the check "NAME compiles …": passed
    /// with the command line and whether the cache had it, or failed with the compiler's
    /// first 40 lines; returns nil then, and the lab stops with a failed report, not a crash.
    public func compile(_ build: CppBuild, check name: String? = nil) async throws -> CppBuild.Executable? {
        let title = name ?? "\(build.name) compiles with \(CppBuild.baseFlags.joined(separator: " "))\(build.sanitizers.map { " and \($0.title)" } ?? "")"
        switch try await build.build() {
        case let .built(executable):
            check(
                title, true, expected: "no error and no warning",
                observed: executable.cached
                    ? "found in the build cache (same sources, flags and compiler): \(executable.url.path)"
                    : String(format: "compiled in %.1f s: %@", executable.seconds, executable.commandLine))
            return executable
        case let .failed(failure):
            check(
                title, false, expected: "no error and no warning",
                observed: "the compiler refused it (\(failure.commandLine)):\n" + failure.diagnostics)
            return nil
        }
    }
}
