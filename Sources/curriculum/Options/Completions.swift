import ArgumentParser
import CurriculumKit
import LabCatalog

/// Dynamic shell completion (`--generate-completion-script bash|zsh|fish`): task ids and
/// lab ids from the plan the command line (or the environment) names.
enum Completions {
    /// Task ids of the plan in use.
    static let tasks: CompletionKind = .custom { words, _, prefix in
        taskIDs(words).filter { $0.hasPrefix(prefix) }
    }

    /// Lab ids, then task ids (`lab run` takes either).
    static let labsAndTasks: CompletionKind = .custom { words, _, prefix in
        (LabCatalog.all.map(\.id) + taskIDs(words)).filter { $0.hasPrefix(prefix) }
    }

    /// Lab ids.
    static let labs: CompletionKind = .custom { _, _, prefix in
        LabCatalog.all.map(\.id).filter { $0.hasPrefix(prefix) }
    }

    /// The ids of the plan `--curriculum` names on the line being completed, else the one
    /// the tracker would use; none when it does not load.
    static func taskIDs(_ words: [String]) -> [String] {
        var file: String?
        for (k, w) in words.enumerated() {
            if w == "--curriculum", k + 1 < words.count { file = words[k + 1] }
            if w.hasPrefix("--curriculum=") { file = String(w.dropFirst("--curriculum=".count)) }
        }
        guard let tracker = try? Tracker(Tracker.Options(planFile: file)) else { return [] }
        return tracker.writtenPlan.tasks.map(\.id)
    }
}
