/// A lean start-up path for the everyday invocations (`next`, `status`, `list --ready`,
/// `blocked`, `export --format json`, `done ID`, with `--json` / `--no-color`): argument
/// parsing builds the whole command tree by reflection, which costs more than the
/// command's own work on a small plan. An invocation of exactly one of these shapes
/// becomes the same values the parser would produce, every option set; anything else
/// (other options, help, typos) returns nil and goes through the parser.
enum FastPath {
    static func parse(_ arguments: [String]) -> FastInvocation? {
        guard let name = arguments.first else { return nil }
        var flags: Set<String> = []
        var values: [String] = []
        var rest = arguments.dropFirst()[...]
        var format: String?
        while let a = rest.popFirst() {
            if a == "--format" {
                guard format == nil, let v = rest.popFirst(), v == "json" || v == "markdown" else { return nil }
                format = v
            } else if a.hasPrefix("-") {
                guard flags.insert(a).inserted else { return nil }
            } else {
                values.append(a)
            }
        }
        let global = GlobalValues(planFile: nil, database: nil, today: nil,
                                  json: flags.remove("--json") != nil, noColor: flags.remove("--no-color") != nil)
        func only(_ allowed: Set<String>, values count: Int = 0) -> Bool {
            flags.isSubset(of: allowed) && values.count == count && (format == nil || name == "export")
        }
        switch name {
        case "status" where only([]):
            return .status(global)
        case "next" where only([]):
            return .next(global, Next.Values(n: 10, phase: nil, explain: false))
        case "blocked" where only(["--count"]):
            return .blocked(global, Blocked.Values(count: flags.contains("--count")))
        case "list" where only(["--ready", "--blocked", "--done", "--open", "--tree"]):
            return .list(global, List.Values(phase: nil, ready: flags.contains("--ready"), blocked: flags.contains("--blocked"),
                                             done: flags.contains("--done"), open: flags.contains("--open"), tree: flags.contains("--tree")))
        case "export" where only([]):
            return .export(global, Export.Values(format: format == "json" ? .json : .markdown, output: nil, obsidianTasks: false))
        case "done" where only([], values: 1) && values[0] != "help":
            return .done(global, Done.Values(tasks: values, from: nil, note: nil, on: nil, force: false, verify: false,
                                             quick: false, timeout: LabRunOptions.defaultTimeout, subject: .reference))
        default:
            return nil
        }
    }
}

/// An everyday invocation as plain values. Running it calls the command's body directly:
/// no ArgumentParser type is created, not even the command itself, whose property
/// wrappers cost a noticeable share of a three-millisecond run to set up and read back.
enum FastInvocation: Equatable {
    case status(GlobalValues)
    case next(GlobalValues, Next.Values)
    case blocked(GlobalValues, Blocked.Values)
    case list(GlobalValues, List.Values)
    case export(GlobalValues, Export.Values)
    case done(GlobalValues, Done.Values)

    func run() throws {
        switch self {
        case .status(let global): try Status.perform(global)
        case .next(let global, let options): try Next.perform(global, options)
        case .blocked(let global, let options): try Blocked.perform(global, options)
        case .list(let global, let options): try List.perform(global, options)
        case .export(let global, let options): try Export.perform(global, options)
        case .done(let global, let options): try Done.perform(global, options)
        }
    }
}
