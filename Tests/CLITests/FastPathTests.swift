import ArgumentParser
@testable import curriculum
import Testing

/// The fast path builds command values by hand; these tests hold it to exactly what the
/// argument parser would build, so a new option cannot be forgotten there.
@Suite struct FastPathTests {
    static let shapes: [[String]] = [
        ["status"], ["status", "--json"], ["next"], ["next", "--no-color"], ["blocked"], ["blocked", "--count"],
        ["list", "--ready"], ["list", "--done", "--tree", "--json"], ["export"], ["export", "--format", "json"],
        ["export", "--format", "markdown"], ["done", "rest-api"], ["done", "3.1", "--json"],
    ]

    /// Every stored property, as the parser's property wrappers hold it.
    static func dump(_ command: any ParsableCommand) -> String {
        var out = ""
        Swift.dump(command, to: &out)
        return out
    }

    @Test(arguments: shapes)
    func theFastPathBuildsWhatTheParserBuilds(_ args: [String]) throws {
        let fast = try #require(FastPath.command(args), "\(args) should take the fast path")
        let parsed = try Curriculum.parseAsRoot(args)
        #expect(type(of: fast) == type(of: parsed))
        #expect(Self.dump(fast) == Self.dump(parsed), "\(args)")
    }

    @Test(arguments: [["next", "-n", "5"], ["status", "--help"], ["done"], ["done", "a", "--force"], ["lab", "list"], ["nxt"], []])
    func everythingElseGoesThroughTheParser(_ args: [String]) {
        #expect(FastPath.command(args) == nil)
    }
}
