import ArgumentParser
import CurriculumKit

struct Reopen: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Uncheck tasks.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Task ids, unique prefixes, or PHASE.N.", completion: Completions.tasks)
    var tasks: [String]

    @Option(help: "Why, kept in the history.")
    var note: String?

    func run() throws {
        try Context.run(global.values) { c in
            let plan = c.plan
            var ids: [String] = []
            for name in tasks {
                let i = try c.tracker.task(named: name)
                if !plan.parts[i].isEmpty {
                    throw CurriculumError.refused(
                        "\(plan.tasks[i].id) is done when its parts are done; reopen one of its parts instead (\(plan.parts[i].map { plan.tasks[$0].id }.joined(separator: ", ")))."
                    )
                }
                // Progress recorded under an old id (renamed-from) is reopened too.
                ids.append(plan.tasks[i].id)
                ids.append(contentsOf: plan.tasks[i].renamedFrom)
            }
            let written: [Event]
            do { written = try c.tracker.store().reopen(ids, day: c.tracker.today, note: note) } catch let e as StoreError { throw CurriculumError.store(e) }
            let reopened = Set(written.compactMap(\.task))
            if c.json { c.emitJSON(["reopened": reopened.sorted()]); return }
            for name in tasks {
                let i = try c.tracker.task(named: name)
                let t = plan.tasks[i]
                if reopened.contains(t.id) || t.renamedFrom.contains(where: reopened.contains) {
                    c.line("\(c.statusMark(.ready)) \(c.paint(t.id, .cyan)) reopened: \(t.title)")
                } else {
                    c.line(c.paint("  \(t.id) was not done.", .dim))
                }
            }
        }
    }
}
