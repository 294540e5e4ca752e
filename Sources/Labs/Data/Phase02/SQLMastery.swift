// SQL mastery: ten queries over a small shop (customers, products in categories, orders,
// order items), each a classic shape — inner join, outer join for "who has none",
// GROUP BY … HAVING, a correlated subquery, IN and NOT EXISTS, window functions
// (ROW_NUMBER, running SUM), a CTE. Every query is graded: the rows PostgreSQL returns must
// equal the answer computed here in plain Swift from the same generated data. Read each
// query next to its Swift twin: they say the same thing in two languages.
import Foundation
import LabKit
import PostgresNIO

struct SQLMasteryLab: Lab {
    static let info = LabCatalog.entry("sql-mastery")  // moved into this file by the lab kit v2 port

    struct Shop {
        var customers: [Int] = []                       // ids
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

    /// One graded query: its name, its SQL, and the same answer computed in Swift.
    struct Question: Sendable {
        var name: String
        var sql: String
        var answer: @Sendable (Shop) -> [[Int]]
    }

    static let questions: [Question] = [
        Question(name: "Q1 inner join: orders and revenue per customer", sql: """
            SELECT o.customer_id, count(DISTINCT o.id), sum(i.qty * p.price_cents)
            FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
            GROUP BY o.customer_id ORDER BY o.customer_id
            """, answer: { shop in
                let totals = shop.orderTotal
                var perCustomer: [Int: (Int, Int)] = [:]
                for o in shop.orders { let t = totals[o.id] ?? 0; perCustomer[o.customer, default: (0, 0)].0 += 1; perCustomer[o.customer, default: (0, 0)].1 += t }
                return perCustomer.keys.sorted().map { [$0, perCustomer[$0]?.0 ?? 0, perCustomer[$0]?.1 ?? 0] }
            }),
        Question(name: "Q2 left outer join: customers who never ordered", sql: """
            SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
            WHERE o.id IS NULL ORDER BY c.id
            """, answer: { shop in
                let ordered = Set(shop.orders.map(\.customer))
                return shop.customers.filter { !ordered.contains($0) }.map { [$0] }
            }),
        Question(name: "Q3 GROUP BY … HAVING: categories selling more than an even share", sql: """
            SELECT p.category_id, sum(i.qty) FROM order_items i JOIN products p ON p.id = i.product_id
            GROUP BY p.category_id HAVING sum(i.qty) * 6 > (SELECT sum(qty) FROM order_items)
            ORDER BY p.category_id
            """, answer: { shop in
                let category = shop.category
                let total = shop.items.reduce(0) { $0 + $1.qty }
                let per = shop.items.reduce(into: [Int: Int]()) { $0[category[$1.product] ?? 0, default: 0] += $1.qty }
                return per.keys.sorted().filter { (per[$0] ?? 0) * Shop.categories > total }.map { [$0, per[$0] ?? 0] }
            }),
        Question(name: "Q4 correlated subquery: products dearer than their category's average", sql: """
            SELECT p.id FROM products p
            WHERE p.price_cents > (SELECT avg(q.price_cents) FROM products q WHERE q.category_id = p.category_id)
            ORDER BY p.id
            """, answer: { shop in
                var sum: [Int: Int] = [:], n: [Int: Int] = [:]
                for p in shop.products { sum[p.category, default: 0] += p.price; n[p.category, default: 0] += 1 }
                // price > sum / n, in whole numbers: price * n > sum
                return shop.products.filter { $0.price * (n[$0.category] ?? 1) > (sum[$0.category] ?? 0) }.map { [$0.id] }
            }),
        Question(name: "Q5 IN subquery: customers who bought from category 1", sql: """
            SELECT c.id FROM customers c WHERE c.id IN (
                SELECT o.customer_id FROM orders o JOIN order_items i ON i.order_id = o.id
                JOIN products p ON p.id = i.product_id WHERE p.category_id = 1)
            ORDER BY c.id
            """, answer: { shop in
                let category = shop.category, customerOf = shop.customerOf
                let buyers = Set(shop.items.filter { category[$0.product] == 1 }.compactMap { customerOf[$0.order] })
                return buyers.sorted().map { [$0] }
            }),
        Question(name: "Q6 NOT EXISTS: products never sold", sql: """
            SELECT p.id FROM products p WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.product_id = p.id)
            ORDER BY p.id
            """, answer: { shop in
                let sold = Set(shop.items.map(\.product))
                return shop.products.map(\.id).filter { !sold.contains($0) }.map { [$0] }
            }),
        Question(name: "Q7 window ROW_NUMBER: each customer's biggest order", sql: """
            SELECT customer_id, order_id, total FROM (
                SELECT o.customer_id, o.id AS order_id, sum(i.qty * p.price_cents) AS total,
                       row_number() OVER (PARTITION BY o.customer_id ORDER BY sum(i.qty * p.price_cents) DESC, o.id) AS rn
                FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
                GROUP BY o.customer_id, o.id
            ) ranked WHERE rn = 1 ORDER BY customer_id
            """, answer: { shop in
                let totals = shop.orderTotal
                var best: [Int: (order: Int, total: Int)] = [:]
                for o in shop.orders {
                    let t = totals[o.id] ?? 0
                    if let b = best[o.customer], b.total > t || (b.total == t && b.order < o.id) { continue }
                    best[o.customer] = (o.id, t)
                }
                return best.keys.sorted().compactMap { c in best[c].map { [c, $0.order, $0.total] } }
            }),
        Question(name: "Q8 CTE: customers spending more than the average customer", sql: """
            WITH spend AS (
                SELECT o.customer_id, sum(i.qty * p.price_cents) AS total
                FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
                GROUP BY o.customer_id)
            SELECT customer_id FROM spend WHERE total > (SELECT avg(total) FROM spend) ORDER BY customer_id
            """, answer: { shop in
                let totals = shop.orderTotal
                let spend = shop.orders.reduce(into: [Int: Int]()) { $0[$1.customer, default: 0] += totals[$1.id] ?? 0 }
                let sum = spend.values.reduce(0, +), n = spend.count
                return spend.keys.sorted().filter { (spend[$0] ?? 0) * n > sum }.map { [$0] }
            }),
        Question(name: "Q9 window SUM: daily revenue and its running total", sql: """
            SELECT day, revenue, (sum(revenue) OVER (ORDER BY day))::bigint FROM (
                SELECT o.day, sum(i.qty * p.price_cents) AS revenue
                FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
                GROUP BY o.day) daily
            ORDER BY day
            """, answer: { shop in
                let totals = shop.orderTotal
                let perDay = shop.orders.reduce(into: [Int: Int]()) { $0[$1.day, default: 0] += totals[$1.id] ?? 0 }
                var running = 0
                return perDay.keys.sorted().map { d in running += perDay[d] ?? 0; return [d, perDay[d] ?? 0, running] }
            }),
        Question(name: "Q10 top-N per group: three best-selling products of each category", sql: """
            SELECT category_id, product_id, sold FROM (
                SELECT p.category_id, p.id AS product_id, sum(i.qty) AS sold,
                       row_number() OVER (PARTITION BY p.category_id ORDER BY sum(i.qty) DESC, p.id) AS rn
                FROM products p JOIN order_items i ON i.product_id = p.id
                GROUP BY p.category_id, p.id
            ) ranked WHERE rn <= 3 ORDER BY category_id, sold DESC, product_id
            """, answer: { shop in
                let sold = shop.items.reduce(into: [Int: Int]()) { $0[$1.product, default: 0] += $1.qty }
                let category = shop.category
                let byCategory = Dictionary(grouping: sold.keys) { category[$0] ?? 0 }
                return byCategory.keys.sorted().flatMap { c in
                    (byCategory[c] ?? []).sorted { (sold[$0] ?? 0, -$0) > (sold[$1] ?? 0, -$1) }.prefix(3).map { [c, $0, sold[$0] ?? 0] }
                }
            }),
    ]

    func run(_ lab: LabContext) async throws {
        let shop = Shop(customers: try lab.int("customers"), seed: try lab.int("seed"))
        let server = try await ThrowawayPostgres.start(for: lab)
        let db = try await server.createDatabase("shop")
        try await db.execute("""
            CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
            CREATE TABLE products (id int PRIMARY KEY, category_id int NOT NULL, price_cents int NOT NULL);
            CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, day int NOT NULL);
            CREATE TABLE order_items (order_id int REFERENCES orders, product_id int REFERENCES products, qty int NOT NULL,
                                      PRIMARY KEY (order_id, product_id));
            """)
        try await PGLabSQL.insert(db, into: "customers", columns: ["id", "name"], rows: shop.customers.map { ["\($0)", "'customer \($0)'"] })
        try await PGLabSQL.insert(db, into: "products", columns: ["id", "category_id", "price_cents"],
                                  rows: shop.products.map { ["\($0.id)", "\($0.category)", "\($0.price)"] })
        try await PGLabSQL.insert(db, into: "orders", columns: ["id", "customer_id", "day"],
                                  rows: shop.orders.map { ["\($0.id)", "\($0.customer)", "\($0.day)"] })
        try await PGLabSQL.insert(db, into: "order_items", columns: ["order_id", "product_id", "qty"],
                                  rows: shop.items.map { ["\($0.order)", "\($0.product)", "\($0.qty)"] })
        try await db.execute("ANALYZE")
        lab.step("Seeded the shop", "\(shop.customers.count) customers, \(shop.products.count) products in \(Shop.categories) categories, \(shop.orders.count) orders, \(shop.items.count) order items")

        var total = 0.0
        for q in Self.questions {
            let (rows, seconds) = try await Measure.time { try await Self.rows(db, q.sql) }
            total += seconds
            lab.step(q.name, q.sql)
            Self.grade(lab, q.name, sql: rows, swift: q.answer(shop))
        }
        lab.figure("ten queries", total * 1000, "ms")
    }

    /// Every row of `sql` as whole numbers (each query casts what it returns to integers).
    static func rows(_ db: PGSession, _ sql: String) async throws -> [[Int]] {
        try await db.query(PostgresQuery(unsafeSQL: sql)).map { row in
            try row.map { try $0.decode(Int.self) }
        }
    }

    /// Records one graded check: the SQL rows must equal the Swift rows, in order.
    @discardableResult
    static func grade(_ lab: LabContext, _ name: String, sql: [[Int]], swift: [[Int]]) -> Bool {
        let firstDifference = zip(sql, swift).enumerated().first { $0.element.0 != $0.element.1 }
        let observed: String
        if sql == swift {
            observed = "\(sql.count) rows, identical"
        } else if let d = firstDifference {
            observed = "\(sql.count) rows; row \(d.offset + 1) is \(d.element.0), Swift says \(d.element.1)"
        } else {
            observed = "\(sql.count) rows where Swift has \(swift.count)"
        }
        return lab.check(name, sql == swift, expected: "\(swift.count) rows equal to the Swift answer (first: \(swift.first ?? []))",
                         observed: observed)
    }
}
