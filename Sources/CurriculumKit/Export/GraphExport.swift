import Foundation

/// The requires and decomposed-from graph as Mermaid or Graphviz dot, done tasks styled.
public enum GraphExport {
    public static func mermaid(_ state: PlanState) -> String {
        let plan = state.plan
        var out = "flowchart LR\n"
        out += "  classDef done fill:#c8e6c9,stroke:#2e7d32,color:#1b5e20\n"
        out += "  classDef ready fill:#e3f2fd,stroke:#1565c0\n"
        out += "  classDef blocked fill:#f5f5f5,stroke:#9e9e9e,color:#616161\n"
        for (p, phase) in plan.phases.enumerated() {
            out += "  subgraph \(node(phase.id))[\"\(label("\(phase.icon.map { $0 + " " } ?? "")\(phase.number). \(phase.title)"))\"]\n"
            for i in plan.phases[p].tasks {
                out += "    \(node(plan.tasks[i].id))[\"\(label(plan.tasks[i].title))\"]:::\(state.status[i].rawValue)\n"
            }
            out += "  end\n"
        }
        for i in plan.tasks.indices {
            for j in plan.requires[i] { out += "  \(node(plan.tasks[j].id)) --> \(node(plan.tasks[i].id))\n" }
            if let p = plan.parent[i] { out += "  \(node(plan.tasks[i].id)) -. part of .-> \(node(plan.tasks[p].id))\n" }
        }
        return out
    }

    public static func dot(_ state: PlanState) -> String {
        let plan = state.plan
        var out = "digraph curriculum {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\"];\n"
        for (p, phase) in plan.phases.enumerated() {
            out += "  subgraph \"cluster_\(phase.id)\" {\n    label=\(quote("\(phase.number). \(phase.title)"));\n"
            for i in plan.phases[p].tasks {
                let style: String
                switch state.status[i] {
                case .done: style = "fillcolor=\"#c8e6c9\", color=\"#2e7d32\""
                case .ready: style = "fillcolor=\"#e3f2fd\", color=\"#1565c0\""
                case .blocked: style = "fillcolor=\"#f5f5f5\", color=\"#9e9e9e\""
                }
                out += "    \(quote(plan.tasks[i].id)) [label=\(quote(plan.tasks[i].title)), \(style)];\n"
            }
            out += "  }\n"
        }
        for i in plan.tasks.indices {
            for j in plan.requires[i] { out += "  \(quote(plan.tasks[j].id)) -> \(quote(plan.tasks[i].id));\n" }
            if let p = plan.parent[i] {
                out += "  \(quote(plan.tasks[i].id)) -> \(quote(plan.tasks[p].id)) [style=dashed, label=\"part of\"];\n"
            }
        }
        return out + "}\n"
    }

    /// Mermaid node ids: letters, digits, underscores.
    static func node(_ id: String) -> String {
        "n_" + String(id.unicodeScalars.map { ($0.properties.isAlphabetic || ("0"..."9").contains($0)) && $0.isASCII ? Character($0) : "_" })
    }

    static func label(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "#quot;")
    }

    static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
