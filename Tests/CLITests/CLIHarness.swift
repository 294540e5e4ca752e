import Foundation
import Testing

/// Runs the built `curriculum` binary the way a person would: a temporary folder with a
/// fixture plan and a fresh database, a fixed date, no colour.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The process id the command ran as (names its scratch folders).
        var pid: Int32 = 0
    }

    let folder: URL
    var db: String { folder.appendingPathComponent("progress.sqlite").path }
    var plan: String { folder.appendingPathComponent("curriculum.yaml").path }
    var today = "2026-11-25"

    /// The folder holding the built products (beside the test bundle).
    static var productsFolder: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.pathComponents.count > 1 && !FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("curriculum").path) {
            url.deleteLastPathComponent()
        }
        return url
    }

    static var binary: String { productsFolder.appendingPathComponent("curriculum").path }

    init(plan text: String? = CLI.fixturePlan) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("curriculum-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if let text { try text.write(toFile: plan, atomically: true, encoding: .utf8) }
    }

    func cleanUp() { try? FileManager.default.removeItem(at: folder) }

    /// Runs `curriculum ARGS` in the fixture folder with the fixture database.
    @discardableResult
    func run(
        _ args: [String], env extra: [String: String] = [:], useDefaults: Bool = true, stdin: String? = nil,
        prefix: [String] = []
    ) throws -> Result {
        let p = Process()
        if let wrapper = prefix.first {
            p.executableURL = URL(fileURLWithPath: wrapper)
            p.arguments = Array(prefix.dropFirst()) + [CLI.binary] + args
        } else {
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = args
        }
        p.currentDirectoryURL = folder
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env.removeValue(forKey: "CURRICULUM_FILE")
        env.removeValue(forKey: "CURRICULUM_TODAY")
        if useDefaults {
            env["CURRICULUM_DB"] = db
            env["CURRICULUM_TODAY"] = today
        } else {
            env.removeValue(forKey: "CURRICULUM_DB")
        }
        for (k, v) in extra { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(
            status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self),
            pid: p.processIdentifier)
    }

    static let fixturePlan = """
        schema: 1
        id: fixture
        title: Fixture Plan
        phases:
          - id: basics
            number: 1
            icon: "🏗️"
            title: Basics
            due: 2026-12-31
            tasks:
              - id: alpha
                title: Alpha task
              - id: beta
                title: Beta task
                requires: [alpha]
                due: 2026-12-01
              - id: gamma
                title: Gamma task
                due: 2026-11-20
          - id: advanced
            number: 2
            title: Advanced
            due: 2027-02-01
            tasks:
              - id: capstone
                title: Capstone
                requires: [basics]
              - id: cap-part-one
                title: Capstone part one
                decomposed-from: capstone
              - id: cap-part-two
                title: Capstone part two
                decomposed-from: capstone
                requires: [cap-part-one]
        """
}
