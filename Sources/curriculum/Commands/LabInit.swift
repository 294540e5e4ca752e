import ArgumentParser
import CurriculumKit
import Foundation
import LabCatalog

/// `lab init LAB [DIR]`: the starter folder for doing a lab's task yourself (DESIGN.md §4,
/// exercise mode) — a README with the task and how the checks judge it, the contract, and
/// for source labs a stub. The lab writes it (`curriculum-labs init`), since the contract
/// lives beside the lab's code.
struct LabInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a lab's starter folder (README, the contract, and for source labs a stub) for doing its task yourself.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A lab id.", completion: Completions.labs)
    var lab: String

    @Argument(help: "The folder to write (default: ./LAB). Existing files are never overwritten.")
    var directory: String?

    func run() throws {
        var out = Terminal(noColor: global.noColor)
        defer { out.flush() }
        let info = try LabShowCommand.named(lab)
        guard !info.subjects.isEmpty else {
            Terminal.error(
                "lab \(info.id) judges its reference implementation only, so it has no starter folder; `curriculum lab show \(info.id)` says what it does.")
            throw ExitCode(ExitStatus.usage)
        }
        guard let binary = LabHost.locateLabsBinary() else {
            Terminal.error("the labs are not built yet; build them with: \(LabHost.buildCommand)  (then run this again)")
            throw ExitCode(ExitStatus.unavailable)
        }
        let folder = URL(fileURLWithPath: directory ?? info.id).standardizedFileURL
        let child = Process()
        child.executableURL = URL(fileURLWithPath: binary)
        child.arguments = ["init", info.id, folder.path]
        let output = Pipe(), errors = Pipe()
        child.standardOutput = output
        child.standardError = errors
        try child.run()
        let written = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        guard child.terminationStatus == 0 else {
            let sentence = problem.replacingOccurrences(of: "curriculum-labs: ", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
            Terminal.error(sentence.isEmpty ? "lab init failed (status \(child.terminationStatus))" : sentence)
            throw ExitCode(child.terminationStatus == LabExit.usage ? ExitStatus.usage : ExitStatus.failure)
        }
        if global.json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            struct Out: Encodable { var lab: String; var folder: String; var files: [String] }
            out.line(String(decoding: (try? enc.encode(Out(lab: info.id, folder: folder.path, files: written))) ?? Data(), as: UTF8.self))
            return
        }
        out.line("Wrote the starter for \(out.paint(info.id, .magenta)) into \(folder.path):")
        for path in written { out.line("  " + path.replacingOccurrences(of: folder.path + "/", with: "")) }
        out.line()
        out.line("Read its README, build your own, then have the lab judge it with")
        for kind in info.subjects {
            out.line("  curriculum lab run \(info.id) \(kind.placeholder)")
        }
        out.line("and, once it passes, check the task off with `curriculum done \(info.tasks.first ?? info.id) --verify` and the same flag.")
    }
}
