// JSONB: PostgreSQL stores JSON documents parsed into a binary form, so a column can hold
// attributes that differ from row to row (a shirt has a size, a lamp a wattage) and still
// be queried: containment `attrs @> '{"color":"red"}'` (does the document contain this
// one?), key existence `attrs ? 'warranty'`, JSON path `attrs @? '$.dims ? (@.w > 90)'`,
// and extraction `attrs->'dims'->>'h'`. A GIN index maps every key and value to the rows
// holding it, so containment and path queries need not read every document.
// `jsonb_path_ops` indexes only paths-with-values: smaller and faster for @>, but it
// cannot answer `?` — try `--param opclass=jsonb_ops`.
import Foundation
import LabKit
import PostgresNIO

struct JSONBLab: Lab {
    enum Fault: String, CaseIterable, Sendable {
        case none
        case capitalisedColors = "capitalised-colors"
        case tagsAsString = "tags-as-string"
        case nullWarranty = "null-warranty"
        case dimsAsStrings = "dims-as-strings"
        case uncastExtraction = "uncast-extraction"
        case tagsOnlyIndex = "tags-only-index"

        var effect: String {
            switch self {
            case .none: "nothing broken"
            case .capitalisedColors: "the loader writes colors capitalised (\"Red\"), so containment of \"red\" misses them"
            case .tagsAsString: "the loader writes tags as one comma-separated string instead of an array"
            case .nullWarranty: "a product without a warranty is written with \"warranty\": null instead of leaving the key out"
            case .dimsAsStrings: "the loader writes the dimensions as strings (\"w\": \"95\"), which JSON path does not compare with numbers"
            case .uncastExtraction: "the extraction query compares ->> text with text ('10' to '12') instead of casting to int"
            case .tagsOnlyIndex: "the GIN index is built on attrs->'tags' only, so it cannot answer queries on other keys"
            }
        }
    }

    static let products = Knob.int("products", 100...2_000_000, default: 50_000, quick: 3000, help: "products with generated JSONB attributes")
    static let opclass = Knob.choice(
        "opclass", ["jsonb_ops", "jsonb_path_ops"], default: "jsonb_path_ops",
        help: "the GIN operator class (jsonb_path_ops is smaller but has no key-existence support)")
    static let seed = Knob.int("seed", 0...1_000_000, default: 11, help: "seed of the generated attributes")
    static let fault = Knob<Fault>.choice(
        "break", default: .none,
        help: "Breaks the lab's own loader, query or index so a check fails: "
            + Fault.allCases.dropFirst().map { "\($0.rawValue) (\($0.effect))" }.joined(separator: "; ") + ".")

    /// The check on a probe's answer, and on the index answering it.
    static func answers(_ probe: Probe) -> String { probe.name + " returns exactly the matching products" }
    static func indexAnswers(_ probe: Probe) -> String { "the GIN index answers \(probe.name)" }

    static let info = LabInfo(
        id: "jsonb", title: "JSONB documents and a GIN index", phase: 6,
        teaches:
            "Semi-structured attributes stored as JSONB are queried with containment (@>), key existence (?) and JSON path (@?); a GIN index answers these without reading every row.",
        parameters: [products.parameter, opclass.parameter, seed.parameter, fault.parameter],
        needs: [.postgres], source: "Sources/Labs/Data/Phase06/JSONB.swift"
    )

    struct Attributes {
        var color: String, size: String, tags: [String], width: Int, height: Int, warranty: Int?

        /// The document as the loader writes it (some breakers write it wrong).
        func json(_ fault: Fault) -> String {
            let tagList = fault == .tagsAsString ? "\"\(tags.joined(separator: ","))\"" : "[" + tags.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
            let w = warranty.map { ", \"warranty\": \($0)" } ?? (fault == .nullWarranty ? ", \"warranty\": null" : "")
            let color = fault == .capitalisedColors ? color.capitalized : color
            let dims = fault == .dimsAsStrings ? "{\"w\": \"\(width)\", \"h\": \"\(height)\"}" : "{\"w\": \(width), \"h\": \(height)}"
            return "{\"color\": \"\(color)\", \"size\": \"\(size)\", \"tags\": \(tagList), \"dims\": \(dims)\(w)}"
        }
    }

    static let colors = ["red", "blue", "green", "black", "white", "yellow", "grey", "pink"]
    static let sizes = ["S", "M", "L", "XL"]
    static let allTags = ["sale", "new", "eco", "gift", "bulk"]

    static func catalogue(count: Int, seed: Int) -> [Attributes] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            Attributes(
                color: rng.pick(colors), size: rng.pick(sizes),
                tags: allTags.filter { _ in rng.int(0...3) == 0 },
                width: rng.int(1...100), height: rng.int(1...100),
                warranty: rng.int(0...2) == 0 ? rng.int(1...5) : nil)
        }
    }

    /// One graded query: SQL, and the same filter in Swift.
    struct Probe: Sendable {
        var name: String
        var condition: String
        var matches: @Sendable (Attributes) -> Bool

        /// The WHERE clause the lab runs: uncast-extraction forgets the cast of the extraction.
        func condition(_ fault: Fault) -> String {
            fault == .uncastExtraction && condition.hasPrefix("(attrs->'dims'->>'h')::int")
                ? "attrs->'dims'->>'h' BETWEEN '10' AND '12'" : condition
        }
    }

    static let probes: [Probe] = [
        Probe(name: "containment @> {color: red}", condition: #"attrs @> '{"color": "red"}'"#) { $0.color == "red" },
        Probe(name: "containment of two values @> {color: blue, size: L}", condition: #"attrs @> '{"color": "blue", "size": "L"}'"#) {
            $0.color == "blue" && $0.size == "L"
        },
        Probe(name: "containment in an array @> {tags: [sale, eco]}", condition: #"attrs @> '{"tags": ["sale", "eco"]}'"#) {
            $0.tags.contains("sale") && $0.tags.contains("eco")
        },
        Probe(name: "key existence ? warranty", condition: "attrs ? 'warranty'") { $0.warranty != nil },
        Probe(name: "JSON path @? $.dims ? (@.w > 90)", condition: "attrs @? '$.dims ? (@.w > 90)'") { $0.width > 90 },
        Probe(
            name: "extraction (attrs->'dims'->>'h')::int BETWEEN 10 AND 12",
            condition: "(attrs->'dims'->>'h')::int BETWEEN 10 AND 12"
        ) { (10...12).contains($0.height) },
    ]

    func run(_ lab: LabContext) async throws {
        let count = lab[Self.products], opclass = lab[Self.opclass], fault = lab[Self.fault]
        let products = Self.catalogue(count: count, seed: lab[Self.seed])
        let server = try await ThrowawayPostgres.start(for: lab)
        let db = try await server.createDatabase("catalogue")
        try await db.execute("CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, attrs jsonb NOT NULL)")
        try await PGLabSQL.insert(
            db, into: "products", columns: ["id", "name", "attrs"],
            rows: products.enumerated().map { i, a in
                ["\(i + 1)", "'product \(i + 1)'", PGLabSQL.literal(a.json(fault)) + "::jsonb"]
            })
        let (_, indexSeconds) = try await Measure.time {
            let indexed = fault == .tagsOnlyIndex ? "(attrs->'tags')" : "attrs"
            try await db.execute("CREATE INDEX products_attrs_gin ON products USING gin (\(indexed) \(opclass))")
            try await db.execute("VACUUM ANALYZE products")
        }
        let sizes = try await db.query(
            """
            SELECT pg_relation_size('products')::bigint, pg_relation_size('products_attrs_gin')::bigint
            """)[0].decode((Int, Int).self)
        lab.step(
            "Stored \(count) products with JSONB attributes and a GIN index (\(opclass))",
            "e.g. \(products.first?.json(fault) ?? "{}")" + (fault == .none ? "" : "; broken on purpose: \(fault.effect)"))
        lab.figure("GIN index build", indexSeconds, "s")
        lab.figure("table size", Double(sizes.0) / 1024, "KiB")
        lab.figure("GIN index size", Double(sizes.1) / 1024, "KiB")

        for probe in Self.probes {
            let condition = probe.condition(fault)
            let got = try await db.query(PostgresQuery(unsafeSQL: "SELECT id FROM products WHERE \(condition) ORDER BY id"))
                .map { try $0.decode(Int.self) }
            let want = products.enumerated().filter { probe.matches($0.element) }.map { $0.offset + 1 }
            lab.step(probe.name, "WHERE \(condition): \(got.count) rows")
            lab.check(
                Self.answers(probe), got == want,
                expected: "\(want.count) rows (Swift filter)", observed: got == want ? "the same \(got.count) rows" : "\(got.count) rows, differing")
        }

        // The plan: does the GIN index answer the containment and the path queries?
        for probe in [Self.probes[0], Self.probes[4]] {
            let sql = "SELECT id FROM products WHERE \(probe.condition)"
            var plan = try await db.explain(sql)
            if !plan.indexesUsed.contains("products_attrs_gin") {
                // On a small table a sequential scan can be cheaper, and the planner is right
                // to choose it; forbid it to show the index *can* answer the query.
                let chosen = plan.summary
                try await db.execute("SET enable_seqscan = off")
                plan = try await db.explain(sql)
                try await db.execute("RESET enable_seqscan")
                lab.step(
                    "Plan for \(probe.name), with SET enable_seqscan = off",
                    "at this size the planner first chose \(chosen); with sequential scans discouraged: \(plan.summary)")
            } else {
                lab.step("Plan for \(probe.name)", plan.summary)
            }
            lab.expect(
                Self.indexAnswers(probe), plan.indexesUsed.contains("products_attrs_gin"),
                expected: "a Bitmap Index Scan on products_attrs_gin", observed: plan.summary)
        }
    }
}
