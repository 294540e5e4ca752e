import ArgumentParser

@main
struct Curriculum: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curriculum",
        abstract: "Work through a study plan: what's next, check-offs, progress, and runnable labs.",
        discussion: """
            Exit status: 0 success, 64 usage, 65 bad plan file (or note, or a bad line in a sync folder), 66 missing or unreadable \
            file, 69 a lab needs something that is not installed, 73 the progress database cannot be \
            created, 74 the progress database is unusable, 130 interrupted, 1 anything else \
            (a failed lab included).
            """,
        version: "0.1.0",
        subcommands: [
            Status.self, Next.self, List.self, Show.self, Blocked.self, Due.self,
            Done.self, Reopen.self, Undo.self, Log.self, Recheck.self,
            Export.self, Import.self, Validate.self, Doctor.self, LabCommand.self,
            Start.self, ForecastCommand.self, Review.self, SyncCommand.self,
        ],
        defaultSubcommand: Status.self
    )

    /// The everyday invocations skip the parser (see FastPath); the rest parse as usual.
    static func main() {
        Heap.preferHugePages()
        let arguments = GlobalArguments.reorder(Array(CommandLine.arguments.dropFirst()))
        if let invocation = FastPath.parse(arguments) {
            do { try invocation.run() } catch { exit(withError: error) }
            return
        }
        main(arguments)
    }
}
