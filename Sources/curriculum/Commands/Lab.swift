import ArgumentParser
import CurriculumKit
import Foundation
import LabCatalog

struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Runnable, self-checking labs: list them, read about one, run them, start your own.",
        subcommands: [LabListCommand.self, LabShowCommand.self, LabRunCommand.self, LabInitCommand.self]
    )
}
