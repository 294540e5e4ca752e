import Foundation

/// Small measuring tools more than one lab needs.
public enum Measure {
    /// Runs `body` and returns its result with the wall time it took, in seconds.
    public static func time<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
        let start = ContinuousClock.now
        let value = try await body()
        return (value, seconds(ContinuousClock.now - start))
    }

    public static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Whole nanoseconds, `Int64.max` for a duration too long to count them.
    public static func nanoseconds(_ d: Duration) -> Int64 {
        let (product, overflow) = d.components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ d.components.attoseconds / 1_000_000_000
    }

    /// The process's resident set size now, in bytes (Linux: /proc/self/statm).
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The process's peak resident set size so far, in bytes (Linux: VmHWM).
    public static func peakResidentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }

    /// The p-th percentile (0...100) of `values`, nearest-rank.
    public static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
