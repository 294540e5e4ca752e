// Benchmarking an endpoint: warm-up, repeated runs, percentiles from a histogram.
//
// One timing says little: the first requests pay for cold caches and lazy set-up, and one
// run can land on a busy moment. A harness therefore warms up (requests it throws away),
// then repeats several runs, records every request's latency in a histogram (here
// HdrHistogram: fixed relative precision, three significant digits, any range) and reads
// the median (p50), the tail (p99) and the throughput from it. Compared against a baseline,
// the same harness catches a regression: a variant whose p50 rose by more than a threshold.
// Two implementations of one search endpoint are measured (a scan of every title per
// request, and an index built once), plus the index deliberately slowed by a knob.
// The C++ twin does the same in-process with Google Benchmark (libbenchmark): repetitions,
// medians, and the same scan-against-index contrast, compiled by the kit's CppBuild.
import Foundation
import HTTPTypes
import Histogram
import Hummingbird
import LabCatalog
import LabKit
import Synchronization

/// What one benchmark measured.
struct BenchmarkResult: Sendable {
    var name: String
    var histogram: Histogram<UInt64>
    var wallSeconds: Double
    var warmup: Int

    var count: Int { Int(histogram.totalCount) }
    /// Nanoseconds at a percentile, from the histogram.
    func ms(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1e6 }
    var throughput: Double { Double(count) / max(wallSeconds, 1e-9) }
}

/// The harness: `warmup` requests thrown away, then `runs` × `requests`, each request's
/// latency (ns) recorded in an HdrHistogram.
enum Bench {
    static func run(
        _ name: String, warmup: Int, runs: Int, requests: Int, keepWarmup: Bool = false,
        _ body: () async throws -> Void
    ) async throws -> BenchmarkResult {
        try await interleaved([name], warmup: warmup, runs: runs, requests: requests, keepWarmup: keepWarmup) { _ in try await body() }[0]
    }

    /// Several variants measured request by request in turn (A, B, C, A, B, C, …), so a
    /// change in the machine's load falls on all of them alike. `body(i)` runs variant i once.
    static func interleaved(
        _ names: [String], warmup: Int, runs: Int, requests: Int, keepWarmup: Bool = false,
        _ body: (Int) async throws -> Void
    ) async throws -> [BenchmarkResult] {
        var histograms = names.map { _ in Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three) }
        var busy = names.map { _ in 0.0 }
        for _ in 0..<warmup {
            for v in names.indices {
                let start = ContinuousClock.now
                try await body(v)
                if keepWarmup { _ = histograms[v].record(nanoseconds(ContinuousClock.now - start)) }
            }
        }
        for _ in 0..<runs {
            for _ in 0..<requests {
                for v in names.indices {
                    let start = ContinuousClock.now
                    try await body(v)
                    let took = ContinuousClock.now - start
                    _ = histograms[v].record(nanoseconds(took))
                    busy[v] += Measure.seconds(took)
                }
            }
        }
        return names.indices.map { BenchmarkResult(name: names[$0], histogram: histograms[$0], wallSeconds: busy[$0], warmup: warmup) }
    }

    static func nanoseconds(_ d: Duration) -> UInt64 {
        UInt64(max(0, d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000))
    }
}

struct EndpointBenchmarksLab: Lab {
    enum Fault: String, CaseIterable, Sendable {
        case none
        case caseSensitiveIndex = "case-sensitive-index"
        case keepWarmup = "keep-warmup"
        case indexScans = "index-scans"
        case cppIndexScans = "cpp-index-scans"

        var effect: String {
            switch self {
            case .none: "nothing broken"
            case .caseSensitiveIndex: "the index is built without lower-casing, so it misses capitalised words"
            case .keepWarmup: "the harness records the warm-up requests too"
            case .indexScans: "the indexed implementation falls back to scanning"
            case .cppIndexScans: "the C++ twin's indexed search falls back to scanning"
            }
        }
    }

    static let titles = Knob.int("titles", 100...1_000_000, default: 20000, quick: 2000, help: "Titles the search runs over.")
    static let warmup = Knob.int("warmup", 0...10000, default: 50, quick: 20, help: "Warm-up requests thrown away before each benchmark.")
    static let runs = Knob.int("runs", 1...100, default: 5, quick: 3, help: "Timed runs per benchmark.")
    static let requests = Knob.int("requests", 5...100_000, default: 100, quick: 40, help: "Requests per run.")
    // 20 ms against a 10 ms threshold: on a loaded machine an unchanged rerun's p50 was
    // seen 6.7 ms off the baseline's (a CI run), so a smaller threshold flags noise.
    static let slowdown = Knob.double(
        "slowdown-ms", 0...1000, default: 20, help: "Milliseconds the slowed variant waits per request (0: not slowed, and the harness must then not flag it).")
    static let threshold = Knob.double(
        "threshold-ms", 0.1...1000, default: 10,
        help: "A p50 this much above the baseline's is flagged as a regression (below about 7 ms a loaded machine's noise is flagged too).")
    static let cppTwin = Knob.bool(
        "cpp-twin", default: true,
        help: "Also run the C++ twin under Google Benchmark (needs g++ and libbenchmark-dev; false skips it).")
    static let fault = Knob<Fault>.choice(
        "break", default: .none,
        help: "Breaks the experiment so a check fails: " + Fault.allCases.dropFirst().map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + ".")

    static let info = LabInfo(
        id: "endpoint-benchmarks", title: "A benchmark harness with histogram percentiles", phase: 7,
        teaches:
            "A harness that warms up, repeats runs and reads p50/p99 and throughput from an HdrHistogram compares two implementations of one endpoint and flags a deliberately slowed variant, but not an unchanged rerun.",
        parameters: [
            titles.parameter, warmup.parameter, runs.parameter, requests.parameter, slowdown.parameter, threshold.parameter, cppTwin.parameter, fault.parameter,
        ],
        source: "Sources/Labs/Cache/Phase07/EndpointBenchmarks.swift")

    static let words = [
        "swift", "river", "garden", "night", "stone", "winter", "paper", "light", "ocean", "iron",
        "silent", "golden", "north", "glass", "shadow", "summer", "empire", "forest", "letter", "machine",
    ]
    static let queries = ["swift", "garden", "machine", "shadow", "ocean"]

    /// Title i: three words, capitalised, from a fixed pattern.
    static func title(_ i: Int) -> String {
        [i % 20, (i / 20) % 20, (i * 7 + 3) % 20].map { words[$0].capitalized }.joined(separator: " ") + " \(i)"
    }

    final class Search: Sendable {
        let titles: [String]
        let index: [String: [Int]]
        let counts = Mutex<[String: Int]>([:])

        init(titles: [String], caseSensitive: Bool) {
            self.titles = titles
            var index: [String: [Int]] = [:]
            for (i, t) in titles.enumerated() {
                for w in Set(t.split(separator: " ").map { caseSensitive ? String($0) : $0.lowercased() }) { index[w, default: []].append(i) }
            }
            self.index = index
        }

        /// Every title containing the word, lower-cased each time: O(titles) per request.
        func scan(_ q: String) -> [Int] {
            titles.indices.filter { titles[$0].lowercased().split(separator: " ").contains(Substring(q)) }
        }

        func lookup(_ q: String) -> [Int] { index[q] ?? [] }

        func count(_ impl: String) { counts.withLock { $0[impl, default: 0] += 1 } }
        func served(_ impl: String) -> Int { counts.withLock { $0[impl] ?? 0 } }
    }

    static func router(search: Search, slowdown: Duration, fault: Fault) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/search/:impl") { request, context in
            let impl = context.parameters.get("impl") ?? ""
            let q = (request.uri.queryParameters.get("q") ?? "").lowercased()
            search.count(impl)
            let ids: [Int]
            switch impl {
            case "scan": ids = search.scan(q)
            case "index", "index-rerun": ids = fault == .indexScans ? search.scan(q) : search.lookup(q)
            case "index-slowed":
                // The index's own code path, plus the deliberate delay.
                try await Task.sleep(for: slowdown)
                ids = fault == .indexScans ? search.scan(q) : search.lookup(q)
            default: return Response(status: .notFound)
            }
            return jsonResponse(try encodeJSON(ids))
        }
        return router
    }

    func run(_ lab: LabContext) async throws {
        let fault = lab[Self.fault]
        let titles = (0..<lab[Self.titles]).map(Self.title)
        let search = Search(titles: titles, caseSensitive: fault == .caseSensitiveIndex)
        let slowdownMS = lab[Self.slowdown], thresholdMS = lab[Self.threshold]
        let service = try await LabService.start(
            lab, router: Self.router(search: search, slowdown: .microseconds(Int64(slowdownMS * 1000)), fault: fault), name: "search")
        let http = LoopbackHTTP.open(for: lab, baseURL: service.baseURL, timeout: .seconds(60))
        lab.step(
            "Started a search service at \(service.baseURL) over \(titles.count) titles: /search/scan and /search/index",
            fault == .none ? "/search/index-slowed is the index plus \(slowdownMS) ms per request" : "broken on purpose: \(fault.effect)")

        // 1. The two implementations agree.
        var disagreements: [String] = []
        for q in Self.queries {
            let a = try await http.get("/search/scan?q=\(q)").body, b = try await http.get("/search/index?q=\(q)").body
            if a != b { disagreements.append(q) }
        }
        lab.check(
            "the scan and the index answer every query identically", disagreements.isEmpty,
            expected: "the same ids for \(Self.queries.joined(separator: ", "))",
            observed: disagreements.isEmpty ? "identical" : "different for \(disagreements.joined(separator: ", "))")

        // 2. Benchmark each variant.
        let warmup = lab[Self.warmup], runs = lab[Self.runs], requests = lab[Self.requests]
        let impls = ["scan", "index", "index-slowed", "index-rerun"]
        let before = impls.map(search.served)
        var turn = 0
        let results = try await Bench.interleaved(impls, warmup: warmup, runs: runs, requests: requests, keepWarmup: fault == .keepWarmup) { v in
            turn += 1
            let reply = try await http.get("/search/\(impls[v])?q=\(Self.queries[turn % Self.queries.count])")
            guard reply.status == 200 else { throw LabError("/search/\(impls[v]) answered \(reply.summary())") }
        }
        let servedCounts = impls.indices.map { search.served(impls[$0]) - before[$0] }
        for (result, served) in zip(results, servedCounts) {
            lab.figure("p50, \(result.name)", result.ms(50), "ms")
            lab.figure("p99, \(result.name)", result.ms(99), "ms")
            lab.figure("throughput, \(result.name)", result.throughput, "requests/s")
            lab.step(
                "/search/\(result.name)",
                String(
                    format: "p50 %.3f ms, p99 %.3f ms, max %.3f ms, %.0f requests/s; %d samples in the histogram, %d requests served",
                    result.ms(50), result.ms(99), Double(result.histogram.max) / 1e6, result.throughput, result.count, served))
        }
        let (scan, index, slowed, rerun) = (results[0], results[1], results[2], results[3])
        let indexServed = servedCounts[1]
        lab.step("Benchmarked the four variants in turn, request by request: \(warmup) warm-up rounds, then \(runs) runs of \(requests)")

        lab.check(
            "the histogram holds exactly the measured requests (the server also answered the warm-up)",
            index.count == runs * requests && indexServed == warmup + runs * requests,
            expected: "\(runs * requests) samples of \(warmup + runs * requests) requests served",
            observed: "\(index.count) samples of \(indexServed) requests served")
        let speedup = scan.ms(50) / max(index.ms(50), 1e-9)
        lab.figure("p50 speed-up, index over scan", speedup, "×")
        lab.check(
            "the index is at least 1.5× faster than the scan at p50", speedup >= 1.5,
            expected: "scan p50 / index p50 ≥ 1.5 (conservative: a loaded CI run measured 1.9× over HTTP)",
            observed: String(format: "%.3f ms / %.3f ms = %.1f×", scan.ms(50), index.ms(50), speedup))

        // 3. Regression detection: the slowed variant is flagged, an unchanged rerun is not.
        let slowedDelta = slowed.ms(50) - index.ms(50), rerunDelta = rerun.ms(50) - index.ms(50)
        let flagsSlowed = slowedDelta >= thresholdMS, flagsRerun = rerunDelta >= thresholdMS
        let describe = { (delta: Double, flagged: Bool) in String(format: "%+.3f ms", delta) + (flagged ? " (flagged)" : " (not flagged)") }
        lab.step(
            "Compared against the index's p50 with a \(thresholdMS) ms threshold",
            "slowed: \(describe(slowedDelta, flagsSlowed)); unchanged rerun: \(describe(rerunDelta, flagsRerun))")
        lab.check(
            "the harness flags the deliberately slowed variant, and not an unchanged rerun",
            flagsSlowed && !flagsRerun,
            expected: "slowed by \(slowdownMS) ms: flagged (p50 up ≥ \(thresholdMS) ms); rerun: not flagged",
            observed: "slowed \(describe(slowedDelta, flagsSlowed)), rerun \(describe(rerunDelta, flagsRerun))")

        // 4. The C++ twin: the same contrast, measured in-process by Google Benchmark.
        if lab[Self.cppTwin] { try await Self.cppTwin(lab, titles: titles.count, fault: fault) }
    }

    /// Sorted titles searched by a scan and by binary search (std::lower_bound), under Google
    /// Benchmark: it picks the iteration count, repeats, and reports the median per call.
    static let cppSource = """
        #include <benchmark/benchmark.h>
        #include <algorithm>
        #include <cstdlib>
        #include <string>
        #include <vector>

        static std::vector<std::string> titles() {
            static std::vector<std::string> t = [] {
                int n = std::atoi(std::getenv("TITLES") ? std::getenv("TITLES") : "2000");
                std::vector<std::string> v;
                for (int i = 0; i < n; ++i) v.push_back("title-" + std::to_string(1000000 + i));
                std::sort(v.begin(), v.end());
                return v;
            }();
            return t;
        }

        static bool scan(const std::vector<std::string>& v, const std::string& key) {
            for (const auto& s : v) if (s == key) return true;
            return false;
        }

        static bool indexed(const std::vector<std::string>& v, const std::string& key) {
        #ifdef INDEX_SCANS
            return scan(v, key);
        #else
            auto it = std::lower_bound(v.begin(), v.end(), key);
            return it != v.end() && *it == key;
        #endif
        }

        static void BM_Scan(benchmark::State& state) {
            const auto v = titles();
            const std::string key = v[v.size() * 3 / 4];
            for (auto _ : state) benchmark::DoNotOptimize(scan(v, key));
        }
        static void BM_Index(benchmark::State& state) {
            const auto v = titles();
            const std::string key = v[v.size() * 3 / 4];
            for (auto _ : state) benchmark::DoNotOptimize(indexed(v, key));
        }
        BENCHMARK(BM_Scan);
        BENCHMARK(BM_Index);
        BENCHMARK_MAIN();
        """

    static func cppTwin(_ lab: LabContext, titles: Int, fault: Fault) async throws {
        let build = CppBuild(
            name: "search-bench", sources: [.init("search_bench.cpp", cppSource)],
            flags: fault == .cppIndexScans ? ["-DINDEX_SCANS"] : [], pkgConfig: ["benchmark"])
        let name = "Google Benchmark (C++): the index is at least 2× faster than the scan (medians of 3 repetitions)"
        switch try await build.build() {
        case let .failed(failure):
            lab.check(name, false, expected: "the twin compiles and runs", observed: failure.description)
        case let .built(program):
            lab.step("Compiled the C++ twin\(program.cached ? " (cached)" : String(format: " in %.1f s", program.seconds))", program.commandLine)
            let out = lab.scratch.appendingPathComponent("search-bench.json")
            let (termination, output) = try await Subprocess.capture(
                program.url.path, ["--benchmark_repetitions=3", "--benchmark_min_time=0.02", "--benchmark_out=\(out.path)", "--benchmark_out_format=json"],
                environment: ProcessInfo.processInfo.environment.merging(["TITLES": String(titles)]) { $1 }, timeout: 300)
            guard termination.succeeded, let data = FileManager.default.contents(atPath: out.path),
                let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let rows = json["benchmarks"] as? [[String: Any]]
            else {
                lab.check(name, false, expected: "the twin runs and writes its JSON", observed: "\(termination): \(output.suffix(600))")
                return
            }
            // The median aggregate of each benchmark, in nanoseconds per call.
            func median(_ benchmark: String) -> Double? {
                guard let row = rows.first(where: { ($0["name"] as? String) == benchmark + "_median" }),
                    let t = row["real_time"] as? Double
                else { return nil }
                let unit = row["time_unit"] as? String ?? "ns"
                return t * (unit == "us" ? 1e3 : unit == "ms" ? 1e6 : unit == "s" ? 1e9 : 1)
            }
            let scan = median("BM_Scan") ?? .nan, index = median("BM_Index") ?? .nan
            lab.figure("C++ scan, median per call", scan, "ns")
            lab.figure("C++ index, median per call", index, "ns")
            lab.step(
                "Ran the twin under Google Benchmark over \(titles) titles",
                String(format: "scan %.0f ns, index %.0f ns per call (medians of 3 repetitions; the library chose the iterations)", scan, index))
            lab.check(
                name, scan >= 2 * index,
                expected: "scan median ≥ 2 × index median",
                observed: String(format: "%.0f ns / %.0f ns = %.1f×", scan, index, scan / max(index, 1e-9)))
        }
    }
}
