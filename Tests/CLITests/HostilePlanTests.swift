import Foundation
import Testing

@Suite("Hostile plan files through the binary") struct HostilePlanTests {
    static let cases: [(String, Data)] = {
        var g = SeededBytes(seed: 42)
        let garbage = Data((0..<65_536).map { _ in g.next() })
        let bomb =
            "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
            + (1..<30).map { "a\($0): &a\($0) [*a\($0 - 1), *a\($0 - 1), *a\($0 - 1), *a\($0 - 1)]" }.joined(separator: "\n")
        return [
            ("binary garbage", garbage),
            ("invalid UTF-8", Data("schema: 1\nid: caf\u{E9}\n".utf8.map { $0 } + [0xC3, 0x28, 0x0A])),
            ("a NUL byte", Data("schema: 1\nid: x\0y\n".utf8)),
            ("tabs", Data("schema: 1\nid: x\ntitle: T\nphases:\n\t- id: p\n".utf8)),
            ("an alias bomb", Data(bomb.utf8)),
            ("20,000 levels of nesting", Data((String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000)).utf8)),
            ("20,000 levels of block sequences", Data((String(repeating: "- ", count: 20_000) + "x\n").utf8)),
            ("an 8 MB line", Data(("schema: 1\ntitle: " + String(repeating: "x", count: 8 << 20) + "\n").utf8)),
            ("an empty file", Data()),
        ]
    }()

    @Test(arguments: cases.indices)
    func aHostilePlanGetsOneClearMessageAndExit65(_ k: Int) throws {
        let (name, bytes) = Self.cases[k]
        let cli = try CLI(plan: nil); defer { cli.cleanUp() }
        try bytes.write(to: URL(fileURLWithPath: cli.plan))
        let r = try cli.run(["status"])
        #expect(r.status == 65, "\(name): \(r.status) \(r.stderr.prefix(300))")
        #expect(r.stderr.contains("curriculum.yaml:"), "\(name): the message names the file and line: \(r.stderr.prefix(300))")
        #expect(r.stderr.utf8.count < 4000, "\(name): the message stays short")
        #expect(!r.stderr.contains("Fatal error"), "\(name)")
        #expect(r.stdout.isEmpty, "\(name)")
    }

    @Test func aFolderOrAMissingFileInsteadOfAPlanExits66() throws {
        let cli = try CLI(plan: nil); defer { cli.cleanUp() }
        try FileManager.default.createDirectory(atPath: cli.plan, withIntermediateDirectories: true)
        let dir = try cli.run(["status"])
        #expect(dir.status == 66, "\(dir.stderr)")
        #expect(dir.stderr.contains("curriculum.yaml"))
        let missing = try cli.run(["next", "--curriculum", "missing.yaml"])
        #expect(missing.status == 66)
        #expect(missing.stderr.contains("missing.yaml"))
    }
}

/// Deterministic bytes for the garbage case.
struct SeededBytes {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt8 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
}
