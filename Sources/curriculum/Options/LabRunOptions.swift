import ArgumentParser
import CurriculumKit

/// The options of a lab run shared by `done --verify`, `recheck`, `review --run` and
/// `lab run`: one default time limit everywhere.
struct LabRunOptions: ParsableArguments {
    /// Each lab's time limit when `--timeout` is not given, in seconds.
    static let defaultTimeout = 900

    @Flag(help: "Shrink workloads for a short run.")
    var quick = false

    @Option(help: "Each lab's time limit, in seconds.")
    var timeout: Int = LabRunOptions.defaultTimeout

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout takes a positive number of seconds") }
    }
}
