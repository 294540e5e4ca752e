// SQL mastery: ten queries over a small shop (customers, products in categories, orders,
// order items), each a classic shape — inner join, outer join for "who has none",
// GROUP BY … HAVING, a correlated subquery, IN and NOT EXISTS, window functions
// (ROW_NUMBER, running SUM), a CTE. Every query is graded: the rows PostgreSQL returns must
// equal the answer computed here in plain Swift from the same generated data. Read each
// query next to its Swift twin: they say the same thing in two languages.
//
// With `--answers FILE` the learner's own ten queries (one `.sql` file, each under a
// `-- name: qN` line) run instead of the reference SQL, on the same seeded data, graded
// against the same Swift answers. `lab init sql-mastery` writes the schema, the questions
// and the empty file to fill in.
//
// `break=` plants a classic mistake in the reference queries (a join that fans out, an inner
// join where an outer one was meant, a wrong GROUP BY, a subquery that lost its correlation,
// a window without PARTITION BY or ORDER BY); each is caught by the questions named in its help.
import Foundation
import LabKit
import PostgresNIO

struct SQLMasteryLab: Lab {
    static let customerCount = Knob.int(
        "customers", 10...50_000, default: 2000, quick: 80,
        help: "customers in the seeded shop (orders and items grow with it)")
    static let seed = Knob.int("seed", 0...1_000_000, default: 7, help: "seed of the shop dataset")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help: """
            Plant a mistake in the reference queries (an answers file is run as written): join-fan-out (q1 \
            counts joined item rows as orders, q5 joins where IN was meant and repeats customers: Q1, Q5), \
            inner-join-for-outer (q2's LEFT JOIN is a plain JOIN, so nobody without orders is left: Q2), \
            wrong-group-by (q3 groups by category and product, q8 sums per order, not per customer: Q3, Q8), \
            uncorrelated-subquery (q4 averages every product, q6's NOT EXISTS looks at every item, not the \
            outer row's: Q4, Q6), window-without-partition (q7 and q10 rank over all rows, not per customer \
            or category: Q7, Q10), window-without-order (q9's SUM OVER () is the grand total, not a running \
            one: Q9).
            """)

    enum Breaker: String, CaseIterable, Sendable {
        case none
        case joinFanOut = "join-fan-out"
        case innerJoinForOuter = "inner-join-for-outer"
        case wrongGroupBy = "wrong-group-by"
        case uncorrelatedSubquery = "uncorrelated-subquery"
        case windowWithoutPartition = "window-without-partition"
        case windowWithoutOrder = "window-without-order"
    }

    static let info = LabInfo(
        id: "sql-mastery", title: "Ten graded SQL queries", phase: 2,
        teaches:
            "Joins, outer joins, GROUP BY … HAVING, correlated and EXISTS subqueries, window functions and CTEs, each graded against the same answer computed in plain Swift.",
        parameters: [customerCount.parameter, seed.parameter, breaker.parameter],
        needs: [.postgres], subjects: [.answers],
        source: "Sources/Labs/Data/Phase02/SQLMastery.swift"
    )

    /// The shop's tables, as the lab creates them and as the starter's schema.sql shows them
    /// (the comments are part of the contract: they say what the generated data holds).
    static let schema = """
        CREATE TABLE customers (
            id   int PRIMARY KEY,              -- 1 … N; about a fifth of the customers never order
            name text NOT NULL                 -- 'customer <id>'
        );
        CREATE TABLE products (
            id          int PRIMARY KEY,       -- 1 … max(20, N / 8); some are never sold
            category_id int NOT NULL,          -- 1 … 6 (there is no categories table)
            price_cents int NOT NULL           -- 100 … 20000
        );
        CREATE TABLE orders (
            id          int PRIMARY KEY,       -- 1 … 2N
            customer_id int NOT NULL REFERENCES customers,
            day         int NOT NULL           -- 1 … 60
        );
        CREATE TABLE order_items (             -- every order has 1 to 4 items
            order_id   int REFERENCES orders,
            product_id int REFERENCES products,
            qty        int NOT NULL,           -- 1 … 6
            PRIMARY KEY (order_id, product_id)
        );
        """

    struct Shop {
        var customers: [Int] = []  // ids
        var products: [(id: Int, category: Int, price: Int)] = []
        var orders: [(id: Int, customer: Int, day: Int)] = []
        var items: [(order: Int, product: Int, qty: Int)] = []
        static let categories = 6

        init(customers count: Int, seed: Int) {
            var rng = SeededRandom(seed: seed)
            customers = Array(1...count)
            products = (1...max(20, count / 8)).map { ($0, rng.int(1...Self.categories), rng.int(100...20_000)) }
            // Products past the first few are sold less, so some are never sold at all.
            let popular = max(1, products.count * 3 / 4)
            for id in 1...(count * 2) {
                // A fifth of the customers never order.
                let customer = rng.int(1...max(1, count * 4 / 5))
                orders.append((id, customer, rng.int(1...60)))
                let picked = Set((0..<rng.int(1...4)).map { _ in rng.int(1...popular) })
                for p in picked.sorted() { items.append((id, p, rng.int(1...6))) }
            }
        }

        var price: [Int: Int] { Dictionary(uniqueKeysWithValues: products.map { ($0.id, $0.price) }) }
        var category: [Int: Int] { Dictionary(uniqueKeysWithValues: products.map { ($0.id, $0.category) }) }
        var orderTotal: [Int: Int] {
            let price = self.price
            return items.reduce(into: [:]) { $0[$1.order, default: 0] += $1.qty * (price[$1.product] ?? 0) }
        }
        var customerOf: [Int: Int] { Dictionary(uniqueKeysWithValues: orders.map { ($0.id, $0.customer) }) }
    }

    /// One graded query: the marker naming it in an answers file, the question as the
    /// learner reads it, the check's name, the reference SQL, and the answer computed in Swift.
    struct Question: Sendable {
        /// `q1` … `q10`: an answers file gives this query under a `-- name: q1` line.
        var marker: String
        /// What the query must return: its columns, in order, and the order of its rows.
        var ask: String
        var name: String
        var sql: String
        var answer: @Sendable (Shop) -> [[Int]]
    }

    static let questions: [Question] = [
        Question(
            marker: "q1",
            ask: """
                For every customer who placed at least one order: customer_id, how many orders they placed, and their revenue in cents (the sum of qty × price_cents over all their order items). One row per customer, ordered by customer_id.
                """, name: "Q1 inner join: orders and revenue per customer",
            sql: """
                SELECT o.customer_id, count(DISTINCT o.id), sum(i.qty * p.price_cents)
                FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
                GROUP BY o.customer_id ORDER BY o.customer_id
                """,
            answer: { shop in
                let totals = shop.orderTotal
                var perCustomer: [Int: (Int, Int)] = [:]
                for o in shop.orders {
                    let t = totals[o.id] ?? 0; perCustomer[o.customer, default: (0, 0)].0 += 1; perCustomer[o.customer, default: (0, 0)].1 += t
                }
                return perCustomer.keys.sorted().map { [$0, perCustomer[$0]?.0 ?? 0, perCustomer[$0]?.1 ?? 0] }
            }),
        Question(
            marker: "q2",
            ask: """
                The id of every customer who never placed an order, ascending.
                """, name: "Q2 left outer join: customers who never ordered",
            sql: """
                SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
                WHERE o.id IS NULL ORDER BY c.id
                """,
            answer: { shop in
                let ordered = Set(shop.orders.map(\.customer))
                return shop.customers.filter { !ordered.contains($0) }.map { [$0] }
            }),
        Question(
            marker: "q3",
            ask: """
                The categories that sold more than an even share of all units: every category whose units sold (the sum of order_items.qty) times 6 is more than the units sold in all categories together. Columns: category_id, its units sold; ordered by category_id.
                """, name: "Q3 GROUP BY … HAVING: categories selling more than an even share",
            sql: """
                SELECT p.category_id, sum(i.qty) FROM order_items i JOIN products p ON p.id = i.product_id
                GROUP BY p.category_id HAVING sum(i.qty) * 6 > (SELECT sum(qty) FROM order_items)
                ORDER BY p.category_id
                """,
            answer: { shop in
                let category = shop.category
                let total = shop.items.reduce(0) { $0 + $1.qty }
                let per = shop.items.reduce(into: [Int: Int]()) { $0[category[$1.product] ?? 0, default: 0] += $1.qty }
                return per.keys.sorted().filter { (per[$0] ?? 0) * Shop.categories > total }.map { [$0, per[$0] ?? 0] }
            }),
        Question(
            marker: "q4",
            ask: """
                The id of every product priced above the average price of its own category, ascending.
                """, name: "Q4 correlated subquery: products dearer than their category's average",
            sql: """
                SELECT p.id FROM products p
                WHERE p.price_cents > (SELECT avg(q.price_cents) FROM products q WHERE q.category_id = p.category_id)
                ORDER BY p.id
                """,
            answer: { shop in
                var sum: [Int: Int] = [:], n: [Int: Int] = [:]
                for p in shop.products { sum[p.category, default: 0] += p.price; n[p.category, default: 0] += 1 }
                // price > sum / n, in whole numbers: price * n > sum
                return shop.products.filter { $0.price * (n[$0.category] ?? 1) > (sum[$0.category] ?? 0) }.map { [$0.id] }
            }),
        Question(
            marker: "q5",
            ask: """
                The id of every customer who bought at least one product of category 1, each id once, ascending.
                """, name: "Q5 IN subquery: customers who bought from category 1",
            sql: """
                SELECT c.id FROM customers c WHERE c.id IN (
                    SELECT o.customer_id FROM orders o JOIN order_items i ON i.order_id = o.id
                    JOIN products p ON p.id = i.product_id WHERE p.category_id = 1)
                ORDER BY c.id
                """,
            answer: { shop in
                let category = shop.category, customerOf = shop.customerOf
                let buyers = Set(shop.items.filter { category[$0.product] == 1 }.compactMap { customerOf[$0.order] })
                return buyers.sorted().map { [$0] }
            }),
        Question(
            marker: "q6",
            ask: """
                The id of every product that appears in no order item, ascending.
                """, name: "Q6 NOT EXISTS: products never sold",
            sql: """
                SELECT p.id FROM products p WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.product_id = p.id)
                ORDER BY p.id
                """,
            answer: { shop in
                let sold = Set(shop.items.map(\.product))
                return shop.products.map(\.id).filter { !sold.contains($0) }.map { [$0] }
            }),
        Question(
            marker: "q7",
            ask: """
                Each customer's biggest order: for every customer who placed an order, customer_id, the order's id and its total in cents (the sum of qty × price_cents); on a tie, the lower order id wins. Ordered by customer_id.
                """, name: "Q7 window ROW_NUMBER: each customer's biggest order",
            sql: """
                SELECT customer_id, order_id, total FROM (
                    SELECT o.customer_id, o.id AS order_id, sum(i.qty * p.price_cents) AS total,
                           row_number() OVER (PARTITION BY o.customer_id ORDER BY sum(i.qty * p.price_cents) DESC, o.id) AS rn
                    FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
                    GROUP BY o.customer_id, o.id
                ) ranked WHERE rn = 1 ORDER BY customer_id
                """,
            answer: { shop in
                let totals = shop.orderTotal
                var best: [Int: (order: Int, total: Int)] = [:]
                for o in shop.orders {
                    let t = totals[o.id] ?? 0
                    if let b = best[o.customer], b.total > t || (b.total == t && b.order < o.id) { continue }
                    best[o.customer] = (o.id, t)
                }
                return best.keys.sorted().compactMap { c in best[c].map { [c, $0.order, $0.total] } }
            }),
        Question(
            marker: "q8",
            ask: """
                The id of every customer whose total spend (as in q1) is above the average total spend of the customers who ordered, ascending.
                """, name: "Q8 CTE: customers spending more than the average customer",
            sql: """
                WITH spend AS (
                    SELECT o.customer_id, sum(i.qty * p.price_cents) AS total
                    FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
                    GROUP BY o.customer_id)
                SELECT customer_id FROM spend WHERE total > (SELECT avg(total) FROM spend) ORDER BY customer_id
                """,
            answer: { shop in
                let totals = shop.orderTotal
                let spend = shop.orders.reduce(into: [Int: Int]()) { $0[$1.customer, default: 0] += totals[$1.id] ?? 0 }
                let sum = spend.values.reduce(0, +), n = spend.count
                return spend.keys.sorted().filter { (spend[$0] ?? 0) * n > sum }.map { [$0] }
            }),
        Question(
            marker: "q9",
            ask: """
                For every day that has orders: day, that day's revenue in cents, and the running total of revenue up to and including that day. Ordered by day.
                """, name: "Q9 window SUM: daily revenue and its running total",
            sql: """
                SELECT day, revenue, (sum(revenue) OVER (ORDER BY day))::bigint FROM (
                    SELECT o.day, sum(i.qty * p.price_cents) AS revenue
                    FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
                    GROUP BY o.day) daily
                ORDER BY day
                """,
            answer: { shop in
                let totals = shop.orderTotal
                let perDay = shop.orders.reduce(into: [Int: Int]()) { $0[$1.day, default: 0] += totals[$1.id] ?? 0 }
                var running = 0
                return perDay.keys.sorted().map { d in
                    running += perDay[d] ?? 0; return [d, perDay[d] ?? 0, running]
                }
            }),
        Question(
            marker: "q10",
            ask: """
                For each category, its three best-selling products by units sold (the sum of qty; products never sold do not count), a tie going to the lower product id. Columns: category_id, product_id, units sold; ordered by category_id, then units sold descending, then product_id.
                """, name: "Q10 top-N per group: three best-selling products of each category",
            sql: """
                SELECT category_id, product_id, sold FROM (
                    SELECT p.category_id, p.id AS product_id, sum(i.qty) AS sold,
                           row_number() OVER (PARTITION BY p.category_id ORDER BY sum(i.qty) DESC, p.id) AS rn
                    FROM products p JOIN order_items i ON i.product_id = p.id
                    GROUP BY p.category_id, p.id
                ) ranked WHERE rn <= 3 ORDER BY category_id, sold DESC, product_id
                """,
            answer: { shop in
                let sold = shop.items.reduce(into: [Int: Int]()) { $0[$1.product, default: 0] += $1.qty }
                let category = shop.category
                let byCategory = Dictionary(grouping: sold.keys) { category[$0] ?? 0 }
                return byCategory.keys.sorted().flatMap { c in
                    (byCategory[c] ?? []).sorted { (sold[$0] ?? 0, -$0) > (sold[$1] ?? 0, -$1) }.prefix(3).map { [c, $0, sold[$0] ?? 0] }
                }
            }),
    ]

    /// The check of question `marker` (`q1` … `q10`), for the breaker tests.
    static func check(_ marker: String) -> String { questions.first { $0.marker == marker }?.name ?? marker }

    /// `q`'s reference SQL with `breaker`'s mistake planted in it (most mistakes touch two questions).
    static func reference(_ q: Question, _ breaker: Breaker) -> String {
        let edits: [String: [(String, String)]] =
            switch breaker {
            case .none: [:]
            case .joinFanOut:
                [
                    "q1": [("count(DISTINCT o.id)", "count(o.id)")],
                    "q5": [
                        (
                            "SELECT c.id FROM customers c WHERE c.id IN (\n    SELECT o.customer_id FROM orders o JOIN order_items",
                            "SELECT c.id FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items"
                        ),
                        ("WHERE p.category_id = 1)", "WHERE p.category_id = 1"),
                    ],
                ]
            case .innerJoinForOuter: ["q2": [("LEFT JOIN", "JOIN")]]
            case .wrongGroupBy:
                [
                    "q3": [("GROUP BY p.category_id HAVING", "GROUP BY p.category_id, p.id HAVING")],
                    "q8": [("GROUP BY o.customer_id)", "GROUP BY o.customer_id, o.id)")],
                ]
            case .uncorrelatedSubquery:
                ["q4": [(" WHERE q.category_id = p.category_id", "")], "q6": [(" WHERE i.product_id = p.id", "")]]
            case .windowWithoutPartition: ["q7": [("PARTITION BY o.customer_id ", "")], "q10": [("PARTITION BY p.category_id ", "")]]
            case .windowWithoutOrder: ["q9": [("OVER (ORDER BY day)", "OVER ()")]]
            }
        return (edits[q.marker] ?? []).reduce(q.sql) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }

    // MARK: Starter folder

    /// `lab init sql-mastery`: the task, the tables and the ten questions with empty answers.
    static func starter() -> [StarterFile] {
        let quickLimit = timeLimit(quick: true), limit = timeLimit(quick: false)
        let questionList = questions.map { q in
            "- **`\(q.marker)`** — \(q.name.drop { $0 != " " }.dropFirst()). \(q.ask)"
        }.joined(separator: "\n")
        let readme = """
            # sql-mastery: ten graded SQL queries

            The lab seeds a small shop (customers, products in six categories, orders, order
            items) in a throwaway PostgreSQL of its own and asks ten questions about it. Write one
            query per question in `answers.sql`, then run:

                curriculum lab run sql-mastery --answers answers.sql

            `schema.sql` shows the four tables, and its comments say what the generated data
            holds. Try your queries anywhere you like; only the lab's seeded data grades them.

            ## The file format

            - Each query goes under its marker line, `-- name: q1` to `-- name: q10`. A marker line
              is `--`, `name:` and the marker, in any case and with any spacing (`--NAME: Q3` is
              fine). Everything after it, up to the next marker line or the end of the file, is
              that query. Text before the first marker is ignored.
            - Comments are fine anywhere; a marker with nothing but comments under it counts as
              not answered.
            - An answer is one `SELECT` (a `WITH … SELECT` counts), with or without a final `;`.
              If you write several statements they run in order and the last one's rows are
              graded.
            - Keep each marker exactly once: a missing or doubled marker fails its question.

            ## How the checks judge it

            One check per question, named after it (`Q1 inner join: …`). It passes when your
            rows equal the answer the lab computes independently in Swift from the same data:

            - the same number of rows, in the order the question asks for;
            - the same columns in the same order (their names do not matter);
            - whole numbers: int, bigint, numeric and float results are accepted when whole;
              NULL, a fraction or text is reported by row and column.

            A wrong result fails with both row counts and the first row that differs. A query
            PostgreSQL rejects fails with PostgreSQL's own message and the line of `answers.sql`
            it points at. The other questions are graded all the same.

            Your queries run as the role `\(ReadOnlyGrader.role)`, which may only `SELECT` from the four
            tables, each in a read-only transaction that is rolled back, stopped after \(quickLimit) s
            with `--quick` and \(limit) s without: nothing one answer does can change what the next
            one sees. The data is generated from a seed: `--param seed=N` and
            `--param customers=N` change it, `--quick` makes it small, and a right query passes
            on every one of them.

            ## The questions

            \(questionList)

            The reference answers are in the lab's source, `\(info.source)`; read them after
            your own pass.

            """
        var answers = """
            -- sql-mastery: your ten answers. Write each query under its marker line and keep
            -- the markers. The tables are in schema.sql; the rules are in README.md.
            -- Run: curriculum lab run sql-mastery --answers answers.sql

            """
        for q in questions {
            answers += "\n-- name: \(q.marker)\n-- \(q.name)\n" + commentLines(q.ask) + "\n\n"
        }
        let schemaFile = """
            -- The shop the lab seeds for sql-mastery (PostgreSQL). N is the `customers`
            -- parameter: 2000 by default, 80 with --quick.

            \(schema)

            """
        return [StarterFile("README.md", readme), StarterFile("schema.sql", schemaFile), StarterFile("answers.sql", answers)]
    }

    /// `text` as `-- ` comment lines of at most about 88 characters.
    static func commentLines(_ text: String, width: Int = 88) -> String {
        var lines: [String] = [], line = "--"
        for word in text.split(separator: " ") {
            if line.count + 1 + word.count > width, line != "--" { lines.append(line); line = "--" }
            line += " " + word
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }

    /// How long one answer may run. Generous for these small tables; a cross join gone
    /// wrong or a `pg_sleep` is stopped instead of holding up the other nine.
    static func timeLimit(quick: Bool) -> Int { quick ? 5 : 30 }

    func run(_ lab: LabContext) async throws {
        // The learner's file is read before anything starts: a wrong path fails at once.
        var sheet: AnswerSheet?
        if lab.subject.kind == .answers {
            sheet = try AnswerSheet.load(lab.subject.value, markers: Self.questions.map(\.marker))
        }
        let shop = Shop(customers: lab[Self.customerCount], seed: lab[Self.seed])
        let breaker = lab[Self.breaker]
        let server = try await ThrowawayPostgres.start(for: lab)
        let db = try await server.createDatabase("shop")
        try await db.execute(Self.schema)
        try await PGLabSQL.insert(db, into: "customers", columns: ["id", "name"], rows: shop.customers.map { ["\($0)", "'customer \($0)'"] })
        try await PGLabSQL.insert(
            db, into: "products", columns: ["id", "category_id", "price_cents"],
            rows: shop.products.map { ["\($0.id)", "\($0.category)", "\($0.price)"] })
        try await PGLabSQL.insert(
            db, into: "orders", columns: ["id", "customer_id", "day"],
            rows: shop.orders.map { ["\($0.id)", "\($0.customer)", "\($0.day)"] })
        try await PGLabSQL.insert(
            db, into: "order_items", columns: ["order_id", "product_id", "qty"],
            rows: shop.items.map { ["\($0.order)", "\($0.product)", "\($0.qty)"] })
        try await db.execute("ANALYZE")
        lab.step(
            "Seeded the shop",
            "\(shop.customers.count) customers, \(shop.products.count) products in \(Shop.categories) categories, \(shop.orders.count) orders, \(shop.items.count) order items"
        )

        // Every query, the reference's too, runs the way a learner's must: as a role that may
        // only read the four tables, in a read-only transaction that is rolled back.
        let limit = Self.timeLimit(quick: lab.quick)
        let grader = try await ReadOnlyGrader.start(
            server: server, database: "shop",
            tables: ["customers", "products", "orders", "order_items"], seconds: limit)
        if let sheet {
            lab.step(
                "Read your answers from \(sheet.path)",
                sheet.summary(markers: Self.questions.map(\.marker))
                    + " Each runs as the read-only role \(ReadOnlyGrader.role) in a transaction that is rolled back, stopped after \(limit) s.")
        }

        var total = 0.0
        for q in Self.questions {
            let answer = q.answer(shop)
            let expected = Self.expectation(answer)
            let sql: String
            var origin: (file: String, line: Int)?
            if let sheet {
                switch sheet.entry(q.marker) {
                case let .query(text, line):
                    sql = text
                    origin = (sheet.path, line)
                case let .problem(sentence):
                    lab.step(q.name, sentence)
                    lab.check(q.name, false, expected: expected, observed: sentence)
                    continue
                }
            } else {
                sql = Self.reference(q, breaker)
            }
            lab.step(q.name + (origin.map { ": your query, \($0.file) line \($0.line)" } ?? ""), sql)
            let began = ContinuousClock.now
            let outcome = await grader.run(sql, origin: origin)
            total += Measure.seconds(ContinuousClock.now - began)
            switch outcome {
            case let .refused(message):
                lab.check(q.name, false, expected: expected, observed: "PostgreSQL refused it: \(message)")
            case let .rows(rows):
                switch Self.wholeNumbers(rows) {
                case let .failure(problem):
                    lab.check(q.name, false, expected: expected, observed: problem.description)
                case let .success(values):
                    Self.grade(lab, q.name, sql: values, swift: answer)
                }
            }
        }
        lab.figure("ten queries", total * 1000, "ms")
    }

    /// Every row as whole numbers. Every answer is made of whole numbers; a learner's query
    /// may compute them as bigint, numeric (sum of bigint, avg) or float, all accepted when
    /// whole. NULL, fractions and text are reported by row and column.
    static func wholeNumbers(_ rows: [PostgresRow]) -> Result<[[Int]], WholeNumberProblem> {
        var out: [[Int]] = []
        out.reserveCapacity(rows.count)
        for (r, row) in rows.enumerated() {
            var values: [Int] = []
            for (c, cell) in row.enumerated() {
                let place = "row \(r + 1), column \(c + 1) (\(cell.columnName))"
                guard cell.bytes != nil else { return .failure(WholeNumberProblem("\(place) is NULL, not a whole number")) }
                var value: Int?
                switch cell.dataType {
                case .int2, .int4, .int8:
                    value = try? cell.decode(Int.self)
                case .numeric:
                    if let d = try? cell.decode(Decimal.self) {
                        value = Int("\(d)")
                        if value == nil { return .failure(WholeNumberProblem("\(place) is \(d), not a whole number")) }
                    }
                case .float4, .float8:
                    if let d = try? cell.decode(Double.self) {
                        guard d == d.rounded(), abs(d) < 9e15 else { return .failure(WholeNumberProblem("\(place) is \(d), not a whole number")) }
                        value = Int(d)
                    }
                default:
                    return .failure(WholeNumberProblem("\(place) is of type \(cell.dataType), not a whole number"))
                }
                guard let value else { return .failure(WholeNumberProblem("\(place) of type \(cell.dataType) could not be read")) }
                values.append(value)
            }
            out.append(values)
        }
        return .success(out)
    }

    struct WholeNumberProblem: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Records one graded check: the SQL rows must equal the Swift rows, in order.
    @discardableResult
    static func grade(_ lab: LabContext, _ name: String, sql: [[Int]], swift: [[Int]]) -> Bool {
        lab.check(
            name, sql == swift, expected: expectation(swift),
            observed: sql == swift ? "\(sql.count) rows, identical" : difference(sql, swift))
    }

    static func expectation(_ answer: [[Int]]) -> String {
        "\(answer.count) rows equal to the Swift answer (first: \(answer.first ?? []))"
    }

    /// Where `yours` first differs from `answer`, and how their row counts compare.
    static func difference(_ yours: [[Int]], _ answer: [[Int]]) -> String {
        let rows = yours.count == 1 ? "1 row" : "\(yours.count) rows"
        let counts = yours.count == answer.count ? "\(rows), as many as the answer" : "\(rows) where the answer has \(answer.count)"
        let i = zip(yours, answer).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(yours.count, answer.count)
        let mine = i < yours.count ? "\(yours[i])" : "no row"
        let theirs = i < answer.count ? "\(answer[i])" : "no row"
        return "\(counts); first difference at row \(i + 1): yours \(mine), expected \(theirs)"
    }
}

// MARK: - The learner's answers file

/// A `--answers` file: queries under `-- name: <marker>` lines. A marker line is `--`,
/// `name:` and the marker, any case, any spacing; the query is every line after it up to
/// the next marker line or the end of the file. Text before the first marker is ignored.
struct AnswerSheet: Sendable {
    struct Occurrence: Sendable { var text: String; var line: Int; var markerLine: Int }

    /// The file as the learner named it, for messages.
    var path: String
    /// Each marker (lowercased) and where it appears; more than once is a mistake.
    var found: [String: [Occurrence]] = [:]
    /// Marker lines whose name the lab does not ask for (a typo like `q11` or `ql`).
    var unknown: [(name: String, line: Int)] = []

    enum Entry { case query(text: String, line: Int), problem(String) }

    /// Reads and splits the file; a file that cannot be read is a `LabError` with one sentence.
    static func load(_ path: String?, markers: [String]) throws -> AnswerSheet {
        let (path, text) = try readFile(path)
        return parse(text, path: path, markers: markers)
    }

    /// The text of the learner's `--answers` file, or a `LabError` saying in one sentence
    /// why it cannot be had. Relative paths are relative to the current folder.
    static func readFile(_ path: String?) throws -> (path: String, text: String) {
        guard let path, !path.isEmpty else { throw LabError("--answers needs the path of your .sql file") }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw LabError("cannot read your answers file \(path): there is no such file")
        }
        guard !isFolder.boolValue else { throw LabError("cannot read your answers file \(path): it is a folder, not a file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabError("cannot read your answers file \(path): permission denied")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw LabError("cannot read your answers file \(path): it is not UTF-8 text")
        }
        return (path, text)
    }

    /// Line breaks in `text`, counted in code points as PostgreSQL counts (a CRLF is one).
    static func newlines(in text: Substring) -> Int {
        text.unicodeScalars.reduce(0) { $1 == "\n" ? $0 + 1 : $0 }
    }

    /// The statements of a script (split as `PGSession.statements` does), each with the
    /// number of lines before it in `sql`; comment-only pieces (a comment after the last
    /// `;`) are left out, as PostgreSQL would find nothing to run in them.
    static func statements(_ sql: String) -> [(text: String, line: Int)] {
        var out: [(text: String, line: Int)] = []
        var from = sql.startIndex, linesBefore = 0
        for statement in PGSession.statements(sql) {
            // The splitter keeps each statement's characters as they were, so it is found verbatim.
            guard let range = sql.range(of: statement, range: from..<sql.endIndex) else { continue }
            linesBefore += newlines(in: sql[from..<range.lowerBound])
            let line = linesBefore
            linesBefore += newlines(in: statement[...])
            from = range.upperBound
            if !withoutComments(statement).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { out.append((statement, line)) }
        }
        return out
    }

    static func parse(_ text: String, path: String, markers: [String]) -> AnswerSheet {
        var sheet = AnswerSheet(path: path)
        var current: (name: String, markerLine: Int, lines: [Substring])?
        func close() {
            guard let c = current else { return }
            let body = c.lines.joined(separator: "\n")
            let o = Occurrence(text: body, line: c.markerLine + 1, markerLine: c.markerLine)
            if markers.contains(c.name) { sheet.found[c.name, default: []].append(o) } else { sheet.unknown.append((c.name, c.markerLine)) }
        }
        // A CRLF is one Character in Swift: split on both, so Windows line ends work too.
        for (n, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            if let name = marker(in: line) {
                close()
                current = (name, n + 1, [])
            } else {
                current?.lines.append(line)
            }
        }
        close()
        return sheet
    }

    /// The marker a line names, lowercased, or nil when it is not a marker line.
    static func marker(in line: Substring) -> String? {
        var rest = line.drop { $0 == " " || $0 == "\t" }
        guard rest.hasPrefix("--") else { return nil }
        rest = rest.dropFirst(2).drop { $0 == " " || $0 == "\t" }
        guard rest.lowercased().hasPrefix("name:") else { return nil }
        let name = rest.dropFirst(5).trimmingCharacters(in: .whitespaces).lowercased()
        return name.isEmpty ? nil : name
    }

    /// The query for `marker`, or the sentence saying why there is none.
    func entry(_ marker: String) -> Entry {
        let occurrences = found[marker] ?? []
        guard let first = occurrences.first else { return .problem("no `-- name: \(marker)` query in \(path)") }
        guard occurrences.count == 1 else {
            return .problem(
                "`-- name: \(marker)` appears \(occurrences.count) times in \(path) (lines \(occurrences.map { String($0.markerLine) }.joined(separator: ", "))); keep one"
            )
        }
        guard !Self.withoutComments(first.text).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return .problem("`-- name: \(marker)` (\(path) line \(first.markerLine)) has no query under it, only comments")
        }
        return .query(text: first.text, line: first.line)
    }

    /// One line for the report: what was found, what is missing, what was ignored.
    func summary(markers: [String]) -> String {
        let answered = markers.filter { if case .query = entry($0) { return true } else { return false } }
        var parts = ["\(answered.count) of \(markers.count) queries found"]
        let missing = markers.filter { found[$0] == nil }
        if !missing.isEmpty { parts.append("no marker for " + missing.joined(separator: ", ")) }
        if !unknown.isEmpty {
            parts.append(
                "ignored " + unknown.map { "`-- name: \($0.name)` (line \($0.line))" }.joined(separator: ", ")
                    + "; the markers are " + markers.joined(separator: ", "))
        }
        return parts.joined(separator: "; ") + "."
    }

    /// `text` with its `--` and `/* */` comments removed (quoted text kept): tells an
    /// answer from a marker with only the question's comments under it.
    static func withoutComments(_ text: String) -> String {
        var out = "", quote: Character?
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i], next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
            if let q = quote {
                out.append(c)
                if c == q { quote = nil }
                i += 1
            } else if c == "-", next == "-" {
                while i < chars.count, chars[i] != "\n" { i += 1 }
            } else if c == "/", next == "*" {
                i += 2
                while i < chars.count, !(chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/") { i += 1 }
                i += 2
            } else {
                if c == "'" || c == "\"" { quote = c }
                out.append(c)
                i += 1
            }
        }
        return out
    }
}

// MARK: - Running SQL the lab did not write

/// Runs a query on the lab's data so that it cannot change what later queries see: as a
/// login role granted SELECT on the lab's tables and nothing else (so even a `COMMIT;`
/// smuggled into the answer leaves nothing it may write), inside `BEGIN READ ONLY` that is
/// always rolled back, with `statement_timeout` set, and a watchdog on a second session
/// that cancels the query should the answer switch the timeout off. After each answer the
/// session forgets everything it set (`DISCARD ALL`).
actor ReadOnlyGrader {
    static let role = "learner"

    enum Outcome: Sendable {
        /// The rows of the answer's last statement.
        case rows([PostgresRow])
        /// PostgreSQL's own message, with where in the file it points.
        case refused(String)
    }

    private let server: ThrowawayPostgres
    private let database: String
    private let seconds: Int
    /// The lab's superuser session: cancels a query that outlives its time.
    private let admin: PGSession
    private var session: PGSession
    private var pid: Int

    private init(server: ThrowawayPostgres, database: String, seconds: Int, admin: PGSession, session: PGSession, pid: Int) {
        self.server = server; self.database = database; self.seconds = seconds
        self.admin = admin; self.session = session; self.pid = pid
    }

    static func start(server: ThrowawayPostgres, database: String, tables: [String], seconds: Int) async throws -> ReadOnlyGrader {
        let admin = try await server.connect(database: database)
        try await admin.execute("CREATE ROLE \(role) LOGIN; GRANT SELECT ON \(tables.joined(separator: ", ")) TO \(role)")
        let (session, pid) = try await connectLearner(server, database)
        return ReadOnlyGrader(server: server, database: database, seconds: seconds, admin: admin, session: session, pid: pid)
    }

    private static func connectLearner(_ server: ThrowawayPostgres, _ database: String) async throws -> (PGSession, Int) {
        let session = try await server.connect(database: database, username: role)
        return (session, try await session.scalar("SELECT pg_backend_pid()", as: Int.self))
    }

    /// Runs `sql` (one statement, or several run in order of which the last one's rows
    /// count) and returns its rows or PostgreSQL's refusal. `origin` (file, first line)
    /// turns the server's error position into a line of the learner's file.
    func run(_ sql: String, origin: (file: String, line: Int)?) async -> Outcome {
        var outcome: Outcome
        // The statement running, and its first line counted from the answer's first line.
        var current: (text: String, line: Int)?
        do {
            try await plain("BEGIN READ ONLY")
            try await plain("SET LOCAL statement_timeout = '\(seconds)s'")
            var rows: [PostgresRow] = []
            for statement in AnswerSheet.statements(sql) {
                current = statement
                rows = try await watched(statement.text)
            }
            outcome = .rows(rows)
        } catch let e as Overtime {
            outcome = .refused(e.description)
        } catch {
            var firstLine: Int?
            if let current, let origin { firstLine = origin.line + current.line }
            outcome = .refused(Self.message(error, statement: current?.text, firstLine: firstLine, file: origin?.file))
        }
        await reset()
        return outcome
    }

    struct Overtime: Error, CustomStringConvertible {
        var seconds: Int
        var description: String { "it ran longer than \(seconds) s and was cancelled" }
    }

    /// One statement, cancelled from the admin session if it outlives the time limit by a
    /// margin (it only can when the answer turned `statement_timeout` off).
    private func watched(_ statement: String) async throws -> [PostgresRow] {
        let admin = self.admin, pid = self.pid, limit = seconds
        let watchdog = Task { () -> Bool in
            do { try await Task.sleep(for: .seconds(limit + 2)) } catch { return false }
            _ = try? await admin.query(PostgresQuery(unsafeSQL: "SELECT pg_cancel_backend(\(pid))"))
            return true
        }
        do {
            let rows = try await session.connection.query(PostgresQuery(unsafeSQL: statement), logger: PGSession.quietLogger).collect()
            watchdog.cancel()
            return rows
        } catch {
            watchdog.cancel()
            if await watchdog.value { throw Overtime(seconds: limit) }
            throw error
        }
    }

    private func plain(_ sql: String) async throws {
        _ = try await session.connection.query(PostgresQuery(unsafeSQL: sql), logger: PGSession.quietLogger).collect()
    }

    /// Ends whatever transaction the answer left open and forgets what it set; a session
    /// that cannot (the server dropped it) is replaced for the next answer.
    private func reset() async {
        do {
            try await plain("ROLLBACK")
            try await plain("DISCARD ALL")
        } catch {
            await session.close()
            if let fresh = try? await Self.connectLearner(server, database) {
                session = fresh.0; pid = fresh.1
            }
        }
    }

    /// PostgreSQL's message (from the server's error fields, not a dump of the Swift
    /// error) with its SQLSTATE, the detail and hint when it gives them, and the position
    /// it points at (characters from 1 within the statement).
    static func serverError(_ error: any Error) -> (text: String, position: Int?) {
        if let psql = error as? PSQLError {
            guard let info = psql.serverInfo, let message = info[.message] else {
                return ("the connection failed (\(psql.code))", nil)
            }
            var text = message + (info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            if let detail = info[.detail] { text += "; \(detail)" }
            if let hint = info[.hint] { text += "; hint: \(hint)" }
            return (text, info[.position].flatMap { Int($0) }.flatMap { $0 >= 1 ? $0 : nil })
        }
        if let q = error as? PGQueryError { return (q.message + (q.sqlState.map { " (SQLSTATE \($0))" } ?? ""), nil) }
        return (String(describing: error), nil)
    }

    /// `serverError`'s text, and the line of the learner's file it points at.
    static func message(_ error: any Error, statement: String?, firstLine: Int?, file: String?) -> String {
        let e = serverError(error)
        guard let statement, let firstLine, let file, let position = e.position else { return e.text }
        let linesBefore = statement.unicodeScalars.prefix(position - 1).reduce(0) { $1 == "\n" ? $0 + 1 : $0 }
        return "\(file) line \(firstLine + linesBefore): \(e.text)"
    }
}
