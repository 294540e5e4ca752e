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

    /// The command's own options as plain values (the fast path builds these by hand).
    struct Values: Equatable {
        var format: Format
        var output: String?
        var obsidianTasks: Bool
    }

    var values: Values { Values(format: format, output: output, obsidianTasks: obsidianTasks) }

    func run() throws {
        try Self.perform(global.values, values)
    }

    /// The command on plain values, so the fast path runs it without the parser's types.
    static func perform(_ global: GlobalValues, _ options: Values) throws {
        try Context.run(global) { c in
            let state = try c.state()
            if options.output == nil, global.json || options.format == .json {
                // Streamed to standard output: the same bytes as below, without holding
                // the whole document (tens of megabytes for a large plan) several times over.
                let progress = try c.tracker.progress()
                c.out.flush()
                PlanJSON.writeStreaming(state: state, progress: progress, today: c.tracker.today) { bytes in
                    Terminal.write(bytes, to: STDOUT_FILENO)
                }
                Terminal.write("\n", to: STDOUT_FILENO)
                return
            }
            let text: String
            switch global.json ? .json : options.format {
            case .markdown:
                let progress = options.obsidianTasks ? try c.tracker.progress() : Tracker.Progress()
                text = MarkdownExporter.export(
                    plan: c.plan, isDone: { state.done[$0] }, obsidianTasks: options.obsidianTasks, today: c.tracker.today,
                    doneOn: { i in
                        // A parent is done the day its last part was.
                        progress.byTask[i].flatMap { Day(iso: $0.doneOn) }
                            ?? state.plan.parts[i].compactMap { progress.byTask[$0].flatMap { Day(iso: $0.doneOn) } }.max()
                    })
            case .json:
                // Hand-written: the same bytes as JSONEncoder, a hundred times sooner.
                text = PlanJSON(state: state, progress: try c.tracker.progress(), today: c.tracker.today).prettyJSON + "\n"
            case .mermaid: text = GraphExport.mermaid(state)
            case .dot: text = GraphExport.dot(state)
            }
            if let output = options.output {
                do { try AtomicFile.write(text, to: output) } catch { throw CurriculumError.failed("cannot write \(output): \(error)") }
                c.line(c.paint("Wrote \(output) (\(options.format.rawValue)).", .dim))
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
