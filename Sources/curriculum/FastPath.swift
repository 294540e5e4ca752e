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
        var valued: [String: String] = [:]
        while let a = rest.popFirst() {
            if let name = GlobalArguments.valueOptions.first(where: { a == $0 || a.hasPrefix($0 + "=") }) {
                let value: String
                if a == name {
                    guard let v = rest.popFirst(), !v.hasPrefix("-") else { return nil }
                    value = v
                } else {
                    value = String(a.dropFirst(name.count + 1))
                }
                guard valued.updateValue(value, forKey: name) == nil else { return nil }
            } else if a == "--format" {
                guard format == nil, let v = rest.popFirst(), v == "json" || v == "markdown" else { return nil }
                format = v
            } else if a.hasPrefix("-") {
                guard flags.insert(a).inserted else { return nil }
            } else {
                values.append(a)
            }
        }
        let global = GlobalValues(
            planFile: valued["--curriculum"], database: valued["--db"], today: valued["--today"],
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
            return .list(
                global,
                List.Values(
                    phase: nil, ready: flags.contains("--ready"), blocked: flags.contains("--blocked"),
                    done: flags.contains("--done"), open: flags.contains("--open"), tree: flags.contains("--tree")))
        case "export" where only([]):
            return .export(global, Export.Values(format: format == "json" ? .json : .markdown, output: nil, obsidianTasks: false))
        case "forecast" where only([]):
            return .forecast(global, ForecastCommand.Values(limit: 10))
        case "review" where only(["--all"]):
            return .review(
                global,
                Review.Values(
                    runDue: false, all: flags.contains("--all"),
                    labRun: Review.LabRunValues(quick: false, timeout: LabRunOptions.defaultTimeout),
                    subject: .reference))
        case "done" where only([], values: 1) && values[0] != "help":
            return .done(
                global,
                Done.Values(
                    tasks: values, from: nil, note: nil, on: nil, force: false, verify: false,
                    quick: false, timeout: LabRunOptions.defaultTimeout, subject: .reference))
        default:
            return nil
        }
    }
}

/// Global options before the command name (`curriculum --db x.sqlite status`), as `git -C`
/// takes them: they are moved after the command's own arguments, where every command
/// declares them, before anything is parsed (the fast path included).
enum GlobalArguments {
    static let valueOptions = ["--curriculum", "--db", "--today"]
    static let flags: Set<String> = ["--json", "--no-color"]

    static func reorder(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var k = 0
        while k < arguments.count {
            let a = arguments[k]
            if flags.contains(a) || valueOptions.contains(where: { a.hasPrefix($0 + "=") }) {
                leading.append(a); k += 1
            } else if valueOptions.contains(a), k + 1 < arguments.count {
                leading += [a, arguments[k + 1]]; k += 2
            } else {
                break
            }
        }
        guard !leading.isEmpty, k < arguments.count else { return arguments }
        var rest = Array(arguments[k...])
        // Before a `--` that ends the options, else at the end.
        let at = rest.firstIndex(of: "--") ?? rest.count
        rest.insert(contentsOf: leading, at: at)
        return rest
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
    case forecast(GlobalValues, ForecastCommand.Values)
    case review(GlobalValues, Review.Values)

    func run() throws {
        switch self {
        case .status(let global): try Status.perform(global)
        case .next(let global, let options): try Next.perform(global, options)
        case .blocked(let global, let options): try Blocked.perform(global, options)
        case .list(let global, let options): try List.perform(global, options)
        case .export(let global, let options): try Export.perform(global, options)
        case .done(let global, let options): try Done.perform(global, options)
        case .forecast(let global, let options): try ForecastCommand.perform(global, options)
        case .review(let global, let options): try Review.perform(global, options)
        }
    }
}
