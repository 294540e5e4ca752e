import ArgumentParser
import CurriculumKit
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The plan with your progress as markdown (the note's own shape), JSON, Mermaid or Graphviz dot.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case markdown, json, mermaid, dot }

    @OptionGroup var global: GlobalOptions

    @Option(help: "markdown, json, mermaid or dot.")
    var format: Format = .markdown

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    @Flag(name: .customLong("obsidian-tasks"), help: "Markdown: add due dates, ids and dependencies in the Obsidian Tasks plugin's syntax.")
    var obsidianTasks = false

    func run() throws {
        try Context.run(global) { c in
            let state = try c.state()
            let text: String
            switch global.json ? .json : format {
            case .markdown:
                text = MarkdownExporter.export(plan: c.plan, isDone: { state.done[$0] }, obsidianTasks: obsidianTasks, today: c.tracker.today)
            case .json:
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let data = (try? enc.encode(PlanJSON(state: state, progress: try c.tracker.progress(), today: c.tracker.today))) ?? Data()
                text = String(decoding: data, as: UTF8.self) + "\n"
            case .mermaid: text = GraphExport.mermaid(state)
            case .dot: text = GraphExport.dot(state)
            }
            if let output {
                do { try AtomicFile.write(text, to: output) } catch { throw CurriculumError.failed("cannot write \(output): \(error)") }
                c.line(c.paint("Wrote \(output) (\(format.rawValue)).", .dim))
            } else {
                c.out.line(text.hasSuffix("\n") ? String(text.dropLast()) : text)
            }
        }
    }
}

/// Writes a file whole or not at all: a temporary file beside it, then a rename.
enum AtomicFile {
    static func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try Data(text.utf8).write(to: url, options: .atomic)
    }
}
