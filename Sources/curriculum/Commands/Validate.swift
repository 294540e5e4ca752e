import ArgumentParser
import CurriculumKit
import Foundation

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a plan file: every error at once, with file:line:column. Exit 65 on errors.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The plan file (default: the one the tracker would use).")
    var file: String?

    func run() throws {
        var out = Terminal(noColor: global.noColor)
        defer { out.flush() }
        var options = global.values.trackerOptions
        if let file { options.planFile = file }
        let result: PlanLoadResult
        let name: String
        if let path = Tracker.planPath(options) {
            do { result = try PlanLoader.load(path: path, knownLabs: Tracker.knownLabs) } catch {
                Terminal.error(error.description)
                throw ExitCode(ExitStatus.missingFile)
            }
            name = path
        } else {
            result = PlanLoader.load(text: BuiltInPlan.text, file: "(built-in) curriculum.yaml", knownLabs: Tracker.knownLabs)
            name = "the built-in plan"
        }
        if global.json {
            struct D: Encodable { var severity: String; var file: String?; var line: Int?; var column: Int?; var message: String }
            struct Out: Encodable { var file: String; var valid: Bool; var diagnostics: [D] }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let o = Out(
                file: name, valid: result.errors.isEmpty,
                diagnostics: result.diagnostics.map {
                    D(severity: $0.severity.rawValue, file: $0.location?.file, line: $0.location?.line, column: $0.location?.column, message: $0.message)
                })
            out.line(String(decoding: (try? enc.encode(o)) ?? Data(), as: UTF8.self))
        } else {
            for d in result.diagnostics {
                let text = d.description
                out.line(d.severity == .error ? out.paint(text, .red) : out.paint(text, .yellow))
            }
            if let plan = result.plan, result.errors.isEmpty {
                let edges = plan.requires.reduce(0) { $0 + $1.count }
                out.line(
                    out.paint("\(name) is valid", .green) + ": \(plan.phases.count) phases, \(plan.tasks.count) tasks, \(edges) requires edges"
                        + (result.warnings.isEmpty ? "." : ", \(result.warnings.count) warning\(result.warnings.count == 1 ? "" : "s")."))
            } else {
                out.line(
                    out.paint("\(name): \(result.errors.count) error\(result.errors.count == 1 ? "" : "s")", .red, .bold)
                        + (result.warnings.isEmpty ? "" : ", \(result.warnings.count) warning\(result.warnings.count == 1 ? "" : "s")"))
            }
        }
        if !result.errors.isEmpty { throw ExitCode(ExitStatus.badPlan) }
    }
}
