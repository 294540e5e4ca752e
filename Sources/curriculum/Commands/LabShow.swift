import ArgumentParser
import CurriculumKit
import Foundation
import LabCatalog

struct LabShowCommand: ParsableCommand {
    /// The lab of that id, else a usage error that suggests the closest ids.
    static func named(_ id: String) throws -> LabInfo {
        if let info = LabCatalog.lab(id) { return info }
        let near = Suggest.closest(to: id, in: LabCatalog.all.map(\.id), limit: 3)
        Terminal.error("no lab is named \(id)" + (near.isEmpty ? "; `curriculum lab list` shows them." : "; did you mean \(near.joined(separator: ", "))?"))
        throw ExitCode(ExitStatus.usage)
    }

    static let configuration = CommandConfiguration(commandName: "show", abstract: "A lab's goal, what it teaches, its knobs, what it needs, and its source.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A lab id.", completion: Completions.labs)
    var lab: String

    func run() throws {
        var out = Terminal(noColor: global.noColor)
        defer { out.flush() }
        let info = try LabShowCommand.named(lab)
        if global.json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            out.line(String(decoding: (try? enc.encode(info)) ?? Data(), as: UTF8.self))
            return
        }
        out.line(out.paint("\(info.title)", .bold) + "  (\(info.id), phase \(info.phase))")
        out.line("For task\(info.tasks.count == 1 ? "" : "s"): \(info.tasks.joined(separator: ", "))")
        out.line()
        out.line(info.teaches)
        out.line()
        if info.parameters.isEmpty {
            out.line("Parameters: none")
        } else {
            out.line(out.paint("Parameters", .bold) + " (--param NAME=VALUE)")
            for p in info.parameters {
                let quick = p.quickValue.map { ", --quick: \($0)" } ?? ""
                out.line("  \(p.name.padded(18)) default \(p.defaultValue.isEmpty ? "none given" : p.defaultValue)\(quick); allowed \(p.allowed)")
                out.line(out.paint("  \(String(repeating: " ", count: 18)) \(p.help)", .dim))
            }
        }
        if !info.needs.isEmpty {
            out.line()
            out.line(out.paint("Needs", .bold))
            for n in info.needs {
                let have = ProgramFinder.missing([n]).isEmpty
                out.line("  \(n.name): " + (have ? out.paint("installed", .green) : out.paint("missing; install with: \(n.installCommand)", .yellow)))
            }
        }
        out.line()
        out.line(out.paint("Judges", .bold) + " " + info.subjectsSentence)
        if !info.subjects.isEmpty {
            out.line("  Start your own with: curriculum lab init \(info.id) [DIR]   (a README with the task and how it is judged, and the contract)")
        }
        out.line()
        out.line("Source: \(info.source)  (its opening comment explains the concept)")
        out.line("Run it: curriculum lab run \(info.id)   (add --quick for a short run)")
    }
}
