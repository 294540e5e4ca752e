import ArgumentParser
import CurriculumKit

struct Undo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Revert the last check-off, reopen or recheck (the history keeps both).")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Context.run(global.values) { c in
            let reverted: Event?
            do { reverted = try c.tracker.store().undoLast(day: c.tracker.today) } catch let e as StoreError { throw CurriculumError.store(e) }
            guard let e = reverted else {
                if c.json { c.emitJSON(["undone": String?.none]) } else { c.line("Nothing to undo.") }
                return
            }
            if c.json { c.emitJSON(["undone": e]); return }
            let task = e.task ?? "?"
            switch e.kind {
            case .checked: c.line("Undone: the check-off of \(c.paint(task, .cyan)) (\(e.day)); it is open again.")
            case .reopened: c.line("Undone: the reopening of \(c.paint(task, .cyan)); it is done again.")
            case .rechecked: c.line("Undone: the recheck of \(c.paint(task, .cyan)).")
            default: c.line("Undone: event \(e.id ?? 0).")
            }
        }
    }
}
