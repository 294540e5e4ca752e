import ArgumentParser
import CurriculumKit

/// The options every command takes (DESIGN.md §3).
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("curriculum"), help: "The plan file (else $CURRICULUM_FILE, else ./curriculum.yaml, else the built-in plan).")
    var planFile: String?

    @Option(name: .customLong("db"), help: "The progress database (else $CURRICULUM_DB, else $XDG_DATA_HOME/curriculum/<plan-id>.sqlite).")
    var database: String?

    @Option(help: "Evaluate as of this date, YYYY-MM-DD (also $CURRICULUM_TODAY).")
    var today: String?

    @Flag(help: "Print data as JSON instead of text.")
    var json = false

    @Flag(name: .customLong("no-color"), help: "Never use colour (also NO_COLOR; never when output is not a terminal).")
    var noColor = false

    var values: GlobalValues {
        GlobalValues(planFile: planFile, database: database, today: today, json: json, noColor: noColor)
    }
}

/// The global options as plain values, what commands run with: the fast path builds these
/// by hand, since creating the property wrappers above and reading them back costs a
/// noticeable share of an everyday command's start-up.
struct GlobalValues: Equatable {
    var planFile: String?
    var database: String?
    var today: String?
    var json = false
    var noColor = false

    var trackerOptions: Tracker.Options {
        Tracker.Options(planFile: planFile, database: database, today: today)
    }
}
