import ArgumentParser

/// A lean start-up path for the everyday invocations (`next`, `status`, `list --ready`,
/// `blocked`, `export --format json`, `done ID`, with `--json` / `--no-color`): argument
/// parsing builds the whole command tree by reflection, which costs more than the
/// command's own work on a small plan. An invocation of exactly one of these shapes
/// becomes the same command value the parser would build, every property set; anything
/// else (other options, help, typos) returns nil and goes through the parser.
enum FastPath {
    static func command(_ arguments: [String]) -> (any ParsableCommand)? {
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
        var global = GlobalOptions()
        global.planFile = nil
        global.database = nil
        global.today = nil
        global.json = flags.remove("--json") != nil
        global.noColor = flags.remove("--no-color") != nil
        func only(_ allowed: Set<String>, values count: Int = 0) -> Bool {
            flags.isSubset(of: allowed) && values.count == count && (format == nil || name == "export")
        }
        switch name {
        case "status" where only([]):
            var c = Status()
            c.global = global
            return c
        case "next" where only([]):
            var c = Next()
            c.global = global
            c.n = 10
            c.phase = nil
            c.explain = false
            return c
        case "blocked" where only(["--count"]):
            var c = Blocked()
            c.global = global
            c.count = flags.contains("--count")
            return c
        case "list" where only(["--ready", "--blocked", "--done", "--open", "--tree"]):
            var c = List()
            c.global = global
            c.phase = nil
            c.ready = flags.contains("--ready")
            c.blocked = flags.contains("--blocked")
            c.done = flags.contains("--done")
            c.open = flags.contains("--open")
            c.tree = flags.contains("--tree")
            return c
        case "export" where only([]):
            var c = Export()
            c.global = global
            c.format = format == "json" ? .json : .markdown
            c.output = nil
            c.obsidianTasks = false
            return c
        case "done" where only([], values: 1) && values[0] != "help":
            var c = Done()
            c.global = global
            c.tasks = values
            c.from = nil
            c.note = nil
            c.on = nil
            c.force = false
            c.verify = false
            c.quick = false
            c.timeout = 600
            return c
        default:
            return nil
        }
    }
}
