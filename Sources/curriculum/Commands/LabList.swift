import ArgumentParser
import CurriculumKit
import Foundation
import LabCatalog

struct LabListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every lab, with its task and what it needs.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only this phase (number).")
    var phase: Int?

    func run() throws {
        let labs = LabCatalog.all.filter { phase == nil || $0.phase == phase }
        var out = Terminal(noColor: global.noColor)
        defer { out.flush() }
        if global.json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            out.line(String(decoding: (try? enc.encode(labs)) ?? Data(), as: UTF8.self))
            return
        }
        var lastPhase = 0
        for lab in labs {
            if lab.phase != lastPhase {
                lastPhase = lab.phase
                out.line(out.paint("Phase \(lab.phase)", .bold))
            }
            let needs = lab.needs.isEmpty ? "" : out.paint("  needs " + lab.needs.map(\.name).joined(separator: ", "), .dim)
            let yours = lab.subjects.isEmpty ? "" : out.paint("  judges yours: " + lab.subjects.compactMap(\.flag).joined(separator: " "), .cyan)
            out.line("  \(out.paint(lab.id.padded(24), .magenta)) \(lab.title)\(needs)\(yours)")
        }
        if labs.isEmpty { out.line("No labs\(phase.map { " in phase \($0)" } ?? "").") }
    }
}
