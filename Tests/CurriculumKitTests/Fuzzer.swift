import Foundation
import LabCatalog
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A small mutation fuzzer for text inputs (plan files, markdown notes). Every case is
// derived from (seed, index) alone, so any case can be replayed on its own:
//
//     FUZZ_SEED=S FUZZ_START=I FUZZ_COUNT=1 swift test --filter PlanFuzz
//
// Each case takes one input of the corpus and applies one to four mutations to it; the
// caller's check says what must hold for the result. The runner measures each case's CPU
// time and the process's peak memory, and a watchdog thread turns a case that runs for
// minutes (a hang) into an abort that names the case and saves its input.

/// The project's seeded generator (SplitMix64) with the fuzzer's own way of drawing,
/// so a seed names the same cases as it always has.
struct FuzzRNG: RandomNumberGenerator {
    var base: SeededRandom
    init(seed: UInt64) { base = SeededRandom(seed: seed) }
    mutating func next() -> UInt64 { base.next() }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }
    mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
}

struct Fuzzer {
    enum Mutation: String, CaseIterable, Sendable {
        case flipBits, setBytes, cut, swapKeys, swapLines, deleteLines, duplicateBlock, randomUnicode,
            deepNesting, aliases, reindent, specialValues, lineEndings, splice, longLine, repeatKey
    }

    /// The inputs mutations start from (valid ones, so mutations land near the interesting edge).
    let corpus: [[UInt8]]
    /// Words the input's grammar knows (keys, markers); `swapKeys` trades one for another.
    let words: [String]
    /// No mutated input grows past this many bytes.
    var maxBytes = 1 << 20

    /// The input for case `index` of run `seed`, and the mutations applied to it.
    func input(seed: UInt64, index: Int) -> (bytes: [UInt8], mutations: [Mutation]) {
        var rng = FuzzRNG(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xD6E8_FEB8_6659_FD93))
        var bytes = rng.pick(corpus)
        var applied: [Mutation] = []
        for _ in 0...rng.below(4) {
            let m = rng.pick(Mutation.allCases)
            bytes = mutate(bytes, m, &rng)
            applied.append(m)
            if bytes.count > maxBytes { bytes.removeLast(bytes.count - maxBytes) }
        }
        return (bytes, applied)
    }

    // MARK: - Mutations

    private static let unicodeSamples: [String] = [
        "é", "ß", "€", "🏗️", "👩‍💻", "\u{200B}", "\u{200D}", "\u{202E}", "\u{FEFF}", "\u{0301}", "\u{FFFD}",
        "\u{10FFFF}", "\u{E000}", "\u{2028}", "\u{2029}", "\u{85}", "\u{A0}", "\u{3000}", "日本語", "ﷺ",
        "\u{1F1FA}\u{1F1F8}", "Ω", "𝔘𝔫𝔦", "\u{0}", "\u{1B}[31m", "\t", "\r", "\u{7F}", "\u{FFFE}",
    ]
    private static let specials: [String] = [
        "~", "null", "", "[]", "{}", "[a, [b, [c]]]", "{a: 1, b: [2]}", "!!binary aGVsbG8=", "!custom x", "? complex",
        "|", ">-", "|+\n  x\n\n", "\"unterminated", "'also", "0x1F", "1e400", "-0", ".nan", ".inf",
        "99999999999999999999999999", "-9223372036854775809", "2026-02-30", "2026-13-01", "0000-01-01",
        "9999-12-31", "2026-11-25T10:00:00Z", "yes", "no", "on", "true", "\"\\u0000\"", "\"\\uD800\"", "'a''b'",
        ": :", "- - -", "---", "...", "%YAML 1.2", "&a", "*a", "<<: *a", "@", "`", "#", "\\", "a: b: c",
    ]

    func mutate(_ input: [UInt8], _ m: Mutation, _ rng: inout FuzzRNG) -> [UInt8] {
        var b = input
        switch m {
        case .flipBits:
            guard !b.isEmpty else { return b }
            for _ in 0...rng.below(8) { b[rng.below(b.count)] ^= UInt8(1) << UInt8(rng.below(8)) }
        case .setBytes:
            guard !b.isEmpty else { return b }
            let interesting: [UInt8] = [
                0, 0x09, 0x0A, 0x0D, 0x20, 0x22, 0x23, 0x26, 0x27, 0x2A, 0x2D, 0x3A, 0x3F,
                0x5B, 0x5D, 0x7B, 0x7D, 0x7C, 0x3E, 0x21, 0x25, 0x40, 0x60, 0x7F, 0x80,
                0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xF8, 0xFF,
            ]
            for _ in 0...rng.below(6) { b[rng.below(b.count)] = rng.pick(interesting) }
        case .cut:
            // Anywhere, including inside a multi-byte character.
            b = Array(b.prefix(rng.below(b.count + 1)))
            if rng.chance(3), !b.isEmpty { b = Array(b.suffix(rng.below(b.count + 1))) }
        case .swapKeys:
            var lines = split(b)
            guard !lines.isEmpty, !words.isEmpty else { return b }
            for _ in 0...rng.below(3) {
                let i = rng.below(lines.count)
                var text = String(decoding: lines[i], as: UTF8.self)
                if let w = words.first(where: { text.contains($0) }) ?? (rng.chance(2) ? rng.pick(words) : nil),
                    let r = text.range(of: w)
                {
                    text.replaceSubrange(r, with: rng.pick(words))
                } else {
                    text = String(repeating: " ", count: rng.below(10)) + rng.pick(words) + ": " + rng.pick(Self.specials)
                }
                lines[i] = Array(text.utf8)
            }
            b = join(lines)
        case .swapLines:
            var lines = split(b)
            guard lines.count > 1 else { return b }
            for _ in 0...rng.below(3) { lines.swapAt(rng.below(lines.count), rng.below(lines.count)) }
            b = join(lines)
        case .deleteLines:
            var lines = split(b)
            guard !lines.isEmpty else { return b }
            let start = rng.below(lines.count)
            let count = 1 + rng.below(min(12, lines.count - start))
            lines.removeSubrange(start..<start + count)
            b = join(lines)
        case .duplicateBlock:
            var lines = split(b)
            guard !lines.isEmpty else { return b }
            let start = rng.below(lines.count)
            let block = Array(lines[start..<min(lines.count, start + 1 + rng.below(20))])
            let times = rng.chance(8) ? 1 + rng.below(200) : 1
            var insertion: [[UInt8]] = []
            for _ in 0..<times { insertion += block }
            lines.insert(contentsOf: insertion, at: rng.chance(2) ? start : rng.below(lines.count + 1))
            b = join(lines)
        case .randomUnicode:
            for _ in 0...rng.below(5) {
                let s: [UInt8]
                if rng.chance(3) {
                    // Any scalar at all (surrogates excluded by construction).
                    let v = UInt32(truncatingIfNeeded: rng.next()) % 0x11_0000
                    s = Array(String(Unicode.Scalar(v).map(Character.init) ?? "\u{FFFD}").utf8)
                } else {
                    s = Array(rng.pick(Self.unicodeSamples).utf8)
                }
                b.insert(contentsOf: s, at: rng.below(b.count + 1))
            }
        case .deepNesting:
            let depth = rng.pick([8, 30, 63, 64, 65, 100, 1000, 5000, 20000])
            var nest: [UInt8]
            switch rng.below(5) {
            case 0: nest = Array(String(repeating: "[", count: depth).utf8) + (rng.chance(2) ? Array(String(repeating: "]", count: depth).utf8) : [])
            case 1: nest = Array(String(repeating: "{a: ", count: depth).utf8) + Array(String(repeating: "}", count: depth).utf8)
            case 2: nest = Array(String(repeating: "- ", count: depth).utf8) + Array("x".utf8)
            case 3:
                nest = []
                for d in 0..<min(depth, 2000) { nest += Array((String(repeating: " ", count: d) + "k\(d):\n").utf8) }
            default:
                nest = []
                for d in 0..<min(depth, 2000) { nest += Array((String(repeating: " ", count: d * 2) + "- tasks:\n").utf8) }
            }
            var lines = split(b)
            let at = rng.below(lines.count + 1)
            let indent = Array(repeating: UInt8(0x20), count: rng.below(9))
            lines.insert(indent + (rng.chance(2) ? Array("tasks: ".utf8) : []) + nest, at: at)
            b = join(lines)
        case .aliases:
            let bombs = [
                "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
                "base: &base\n  id: x\n  title: y\nother:\n  <<: *base",
                "id: &id demo", "title: *id", "      - *task", "      - &task\n        id: t\n        title: T",
                "requires: [*a]", "x: !!merge *a", "&anchor", "*alias", "- &a [*a]",
            ]
            var lines = split(b)
            let at = rng.below(lines.count + 1)
            lines.insert(Array(rng.pick(bombs).utf8), at: at)
            b = join(lines)
        case .reindent:
            var lines = split(b)
            guard !lines.isEmpty else { return b }
            for _ in 0...rng.below(4) {
                let i = rng.below(lines.count)
                let line = lines[i].drop(while: { $0 == 0x20 })
                let pad: [UInt8] = rng.chance(6) ? [0x09] : Array(repeating: 0x20, count: rng.below(24))
                lines[i] = pad + Array(line)
            }
            b = join(lines)
        case .specialValues:
            var lines = split(b)
            guard !lines.isEmpty else { return b }
            let i = rng.below(lines.count)
            if let colon = lines[i].firstIndex(of: 0x3A) {
                lines[i] = Array(lines[i][...colon]) + Array((" " + rng.pick(Self.specials)).utf8)
            } else {
                lines[i] += Array((" " + rng.pick(Self.specials)).utf8)
            }
            b = join(lines)
        case .lineEndings:
            switch rng.below(4) {
            case 0: b = b.flatMap { $0 == 0x0A ? [0x0D, 0x0A] : [$0] }
            case 1: b = b.map { $0 == 0x0A ? 0x0D : $0 }
            case 2: b = [0xEF, 0xBB, 0xBF] + b
            default: b = b.filter { $0 != 0x0A }.prefix(200_000).map { $0 }
            }
        case .splice:
            let other = rng.pick(corpus)
            let a = rng.below(b.count + 1), o = rng.below(other.count + 1)
            b = Array(b.prefix(a)) + Array(other.suffix(from: o))
        case .longLine:
            let n = rng.pick([1000, 70_000, 300_000, (1 << 20) + 10])
            let filler = UInt8(rng.pick(Array("ax #:[-'\"".utf8)))
            let at = rng.below(b.count + 1)
            b.insert(contentsOf: Array(repeating: filler, count: n), at: at)
        case .repeatKey:
            var lines = split(b)
            guard !lines.isEmpty else { return b }
            let i = rng.below(lines.count)
            lines.insert(lines[i], at: i + 1)
            b = join(lines)
        }
        return b
    }

    private func split(_ b: [UInt8]) -> [[UInt8]] {
        b.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
    }

    private func join(_ lines: [[UInt8]]) -> [UInt8] {
        Array(lines.joined(separator: [0x0A]))
    }

    // MARK: - Running

    struct Failure: CustomStringConvertible {
        var index: Int
        var mutations: [Mutation]
        var problem: String
        var saved: String?
        var description: String {
            "case \(index) (\(mutations.map(\.rawValue).joined(separator: "+"))): \(problem)" + (saved.map { " [input: \($0)]" } ?? "")
        }
    }

    struct Summary {
        var cases = 0
        var failures: [Failure] = []
        var slowest: (index: Int, cpuSeconds: Double) = (0, 0)
        var wallSeconds = 0.0
        /// Growth of the process's peak resident memory over the run, in MB.
        var peakGrowthMB = 0
        /// How many cases ended each way (the caller's label, e.g. "plan" / "errors").
        var outcomes: [String: Int] = [:]
        var description: String {
            let ends = outcomes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            return "\(cases) cases (\(ends)), \(failures.count) failures, \(String(format: "%.1f", wallSeconds)) s, "
                + "slowest case \(slowest.index) at \(String(format: "%.3f", slowest.cpuSeconds)) s CPU, peak memory +\(peakGrowthMB) MB"
        }
    }

    /// Runs cases `start ..< start + count` of `seed`. `check` gives each case's verdict. A case using more than
    /// `cpuLimit` seconds of CPU, or pushing the process's peak memory up by more than
    /// `memoryLimitMB`, fails; one running for `hangSeconds` of wall time aborts the run.
    func run(
        name: String, seed: UInt64, start: Int, count: Int, cpuLimit: Double = 2,
        memoryLimitMB: Int = 512, hangSeconds: Double = 120,
        check: ([UInt8]) -> FuzzVerdict
    ) -> Summary {
        var summary = Summary()
        let basePeak = Self.peakMemoryMB()
        let watchdog = Watchdog(name: name, seed: seed, limit: hangSeconds)
        watchdog.start()
        defer { watchdog.stop() }
        let began = ContinuousClock.now
        for index in start..<(start + count) {
            let (bytes, mutations) = input(seed: seed, index: index)
            watchdog.begin(index: index, input: bytes)
            let cpu0 = Self.threadCPUSeconds()
            var problem: String?
            switch check(bytes) {
            case let .passed(label): summary.outcomes[label, default: 0] += 1
            case let .failed(message): problem = message
            }
            let cpu = Self.threadCPUSeconds() - cpu0
            watchdog.end()
            summary.cases += 1
            if cpu > summary.slowest.cpuSeconds { summary.slowest = (index, cpu) }
            if problem == nil, cpu > cpuLimit { problem = String(format: "took %.2f s of CPU (limit %.0f s)", cpu, cpuLimit) }
            let growth = Self.peakMemoryMB() - basePeak
            if problem == nil, growth > memoryLimitMB, growth > summary.peakGrowthMB {
                problem = "raised peak memory by \(growth) MB (limit \(memoryLimitMB) MB)"
            }
            summary.peakGrowthMB = max(summary.peakGrowthMB, growth)
            if let problem {
                var failure = Failure(index: index, mutations: mutations, problem: problem)
                if summary.failures.count < 20 { failure.saved = Self.save(bytes, name: name, seed: seed, index: index) }
                summary.failures.append(failure)
            }
        }
        let wall = ContinuousClock.now - began
        summary.wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        return summary
    }

    static func save(_ bytes: [UInt8], name: String, seed: UInt64, index: Int) -> String? {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(name)-\(seed)-\(index).bin").path
        return FileManager.default.createFile(atPath: path, contents: Data(bytes)) ? path : nil
    }

    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func peakMemoryMB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) / 1024  // kilobytes on Linux
    }
}

/// What a fuzz check says of one case: how it ended (a label counted in the summary), or
/// what is wrong with it.
enum FuzzVerdict {
    case passed(String)
    case failed(String)
}

/// Watches the running case from another thread; a case running longer than `limit`
/// seconds is a hang: its input is saved, the case is named on stderr, and the process
/// aborts (a hang cannot be interrupted from inside).
final class Watchdog: Sendable {
    private struct Current { var index: Int; var started: ContinuousClock.Instant; var input: [UInt8] }
    private let state = Mutex<Current?>(nil)
    private let running = Atomic<Bool>(false)
    let name: String, seed: UInt64, limit: Double

    init(name: String, seed: UInt64, limit: Double) { self.name = name; self.seed = seed; self.limit = limit }

    func begin(index: Int, input: [UInt8]) { state.withLock { $0 = Current(index: index, started: .now, input: input) } }
    func end() { state.withLock { $0 = nil } }

    func start() {
        running.store(true, ordering: .relaxed)
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: 0.5)
                let hung: Current? = state.withLock { c in
                    guard let c, ContinuousClock.now - c.started > .seconds(limit) else { return nil }
                    return c
                }
                if let hung {
                    let saved = Fuzzer.save(hung.input, name: name, seed: seed, index: hung.index) ?? "(not saved)"
                    FileHandle.standardError.write(
                        Data(
                            "\(name) fuzz: case \(hung.index) of seed \(seed) hangs (over \(Int(limit)) s); input saved at \(saved); replay with FUZZ_SEED=\(seed) FUZZ_START=\(hung.index) FUZZ_COUNT=1\n"
                                .utf8))
                    abort()
                }
            }
        }
        thread.start()
    }

    func stop() { running.store(false, ordering: .relaxed) }
}

/// FUZZ_COUNT / FUZZ_SEED / FUZZ_START from the environment, else the defaults.
struct FuzzSettings {
    var count: Int
    var seed: UInt64
    var start: Int

    static func fromEnvironment(defaultCount: Int, defaultSeed: UInt64) -> FuzzSettings {
        let env = ProcessInfo.processInfo.environment
        return FuzzSettings(
            count: env["FUZZ_COUNT"].flatMap { Int($0) } ?? defaultCount,
            seed: env["FUZZ_SEED"].flatMap { UInt64($0) } ?? defaultSeed,
            start: env["FUZZ_START"].flatMap { Int($0) } ?? 0)
    }
}
