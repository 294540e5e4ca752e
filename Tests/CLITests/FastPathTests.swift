import ArgumentParser
import Testing

@testable import curriculum

/// The fast path describes invocations by hand; these tests hold it to exactly what the
/// argument parser would build, so a new option cannot be forgotten there.
@Suite struct FastPathTests {
    static let shapes: [[String]] = [
        ["status"], ["status", "--json"], ["next"], ["next", "--no-color"], ["blocked"], ["blocked", "--count"],
        ["list", "--ready"], ["list", "--done", "--tree", "--json"], ["export"], ["export", "--format", "json"],
        ["export", "--format", "markdown"], ["done", "rest-api"], ["done", "3.1", "--json"],
        ["status", "--db", "x.sqlite"], ["next", "--curriculum", "p.yaml", "--today", "2026-12-01", "--json"],
        ["list", "--ready", "--db=x.sqlite"], ["forecast"], ["forecast", "--json"], ["review"], ["review", "--all", "--json"],
    ]

    @Test func globalOptionsBeforeTheCommandNameMoveAfterIt() {
        #expect(GlobalArguments.reorder(["--db", "x.sqlite", "status"]) == ["status", "--db", "x.sqlite"])
        #expect(
            GlobalArguments.reorder(["--curriculum", "p.yaml", "--json", "next", "-n", "3"])
                == ["next", "-n", "3", "--curriculum", "p.yaml", "--json"])
        #expect(
            GlobalArguments.reorder(["--today=2026-12-01", "lab", "run", "x", "--", "-y"])
                == ["lab", "run", "x", "--today=2026-12-01", "--", "-y"])
        #expect(GlobalArguments.reorder(["--db", "x.sqlite"]) == ["--db", "x.sqlite"])
        #expect(GlobalArguments.reorder(["status", "--db", "x"]) == ["status", "--db", "x"])
        // The everyday shapes still take the fast path.
        #expect(FastPath.parse(GlobalArguments.reorder(["--db", "x.sqlite", "status"])) != nil)
    }

    @Test(arguments: shapes)
    func theFastPathBuildsWhatTheParserBuilds(_ args: [String]) throws {
        let fast = try #require(FastPath.parse(args), "\(args) should take the fast path")
        let parsed = try #require(FastInvocation(parsed: try Curriculum.parseAsRoot(args)), "\(args)")
        #expect(fast == parsed, "\(args)")
    }

    @Test(arguments: [["next", "-n", "5"], ["status", "--help"], ["done"], ["done", "a", "--force"], ["lab", "list"], ["nxt"], []])
    func everythingElseGoesThroughTheParser(_ args: [String]) {
        #expect(FastPath.parse(args) == nil)
    }

    /// The plain values must hold every option the parser sets: a property added to a
    /// command (or to the global options) but not to its `Values` fails here, and adding it
    /// there makes the compiler ask for it in the fast path and in the mapping below.
    @Test(arguments: shapes)
    func thePlainValuesHoldEveryOption(_ args: [String]) throws {
        let parsed = try Curriculum.parseAsRoot(args)
        let (global, options) = try #require(Self.values(of: parsed))
        #expect(Self.labels(parsed) == ["global"] + Self.labels(options), "\(type(of: parsed))")
        #expect(Self.labels(GlobalOptions()) == Self.labels(global))
    }

    /// A command's stored properties in declaration order, without the property wrappers'
    /// underscore.
    static func labels(_ value: Any) -> [String] {
        Mirror(reflecting: value).children.compactMap { $0.label.map { $0.hasPrefix("_") ? String($0.dropFirst()) : $0 } }
    }

    /// A fast-path command's global and own options as the plain values it runs with.
    static func values(of command: any ParsableCommand) -> (GlobalValues, Any)? {
        switch command {
        case let c as Status: (c.global.values, ())
        case let c as Next: (c.global.values, c.values)
        case let c as Blocked: (c.global.values, c.values)
        case let c as List: (c.global.values, c.values)
        case let c as Export: (c.global.values, c.values)
        case let c as Done: (c.global.values, c.values)
        case let c as ForecastCommand: (c.global.values, c.values)
        case let c as Review: (c.global.values, c.values)
        default: nil
        }
    }
}

extension FastInvocation {
    /// What the parser built, described the way the fast path would describe it.
    init?(parsed command: any ParsableCommand) {
        switch command {
        case let c as Status: self = .status(c.global.values)
        case let c as Next: self = .next(c.global.values, c.values)
        case let c as Blocked: self = .blocked(c.global.values, c.values)
        case let c as List: self = .list(c.global.values, c.values)
        case let c as Export: self = .export(c.global.values, c.values)
        case let c as Done: self = .done(c.global.values, c.values)
        case let c as ForecastCommand: self = .forecast(c.global.values, c.values)
        case let c as Review: self = .review(c.global.values, c.values)
        default: return nil
        }
    }
}
