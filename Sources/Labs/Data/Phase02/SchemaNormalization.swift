// Normalisation: a flat sheet (one row per order line, every customer and product fact
// copied onto it) is easy to import and easy to corrupt. Change a customer's city on one
// row only and the sheet now says two different things about one customer: an *update
// anomaly*. Third normal form stores each fact once — customers, products, orders,
// order lines — with primary keys naming rows and foreign keys refusing rows that point
// at nothing. The same question (revenue per city) has the same answer either way, as
// long as the flat copy has not drifted.
import Foundation
import LabKit
import PostgresNIO

struct SchemaNormalizationLab: Lab {
    static let info = LabCatalog.entry("schema-normalization")  // moved into this file by the lab kit v2 port

    struct Customer: Hashable { var email: String; var name: String; var city: String }
    struct Product: Hashable { var sku: String; var name: String; var priceCents: Int }
    struct Line { var orderID: Int; var day: Int; var customer: Customer; var product: Product; var quantity: Int }

    /// The generated flat sheet: order lines with their customer and product copied in.
    static func sheet(orders: Int, customers: Int, seed: Int) -> [Line] {
        var rng = SeededRandom(seed: seed)
        let cities = ["Lyon", "Porto", "Graz", "Turku", "Brno", "Cork", "Gent", "Bergen"]
        let people = (0..<customers).map { i in
            Customer(email: "c\(i)@example.org", name: "Customer \(i)", city: rng.pick(cities))
        }
        let products = (0..<25).map { i in Product(sku: "SKU-\(100 + i)", name: "Product \(i)", priceCents: rng.int(199...9_999)) }
        var lines: [Line] = []
        for order in 1...orders {
            let who = people[order <= customers ? order - 1 : rng.int(0...customers - 1)]
            let day = rng.int(0...364)
            let picked = Set((0..<rng.int(1...3)).map { _ in rng.int(0...products.count - 1) })
            for p in picked.sorted() {
                lines.append(Line(orderID: order, day: day, customer: who, product: products[p], quantity: rng.int(1...5)))
            }
        }
        return lines
    }

    /// Revenue per city in cents, computed in Swift from the sheet.
    static func revenuePerCity(_ lines: [Line]) -> [String: Int] {
        lines.reduce(into: [:]) { $0[$1.customer.city, default: 0] += $1.quantity * $1.product.priceCents }
    }

    func run(_ lab: LabContext) async throws {
        let orders = try lab.int("orders"), customers = try lab.int("customers"), seed = try lab.int("seed")
        let server = try await ThrowawayPostgres.start(for: lab)
        let db = try await server.createDatabase("shop")
        // Fewer customers than orders, so some customer has two orders to disagree about.
        let lines = Self.sheet(orders: orders, customers: min(customers, orders - 1), seed: seed)

        try await db.execute("""
            CREATE TABLE orders_flat (
                order_id int, order_day int, customer_email text, customer_name text, customer_city text,
                product_sku text, product_name text, unit_price_cents int, quantity int
            )
            """)
        try await PGLabSQL.insert(db, into: "orders_flat", columns: [
            "order_id", "order_day", "customer_email", "customer_name", "customer_city",
            "product_sku", "product_name", "unit_price_cents", "quantity",
        ], rows: lines.map { l in
            ["\(l.orderID)", "\(l.day)", PGLabSQL.literal(l.customer.email), PGLabSQL.literal(l.customer.name),
             PGLabSQL.literal(l.customer.city), PGLabSQL.literal(l.product.sku), PGLabSQL.literal(l.product.name),
             "\(l.product.priceCents)", "\(l.quantity)"]
        })
        lab.step("Imported the flat sheet as-is", "\(lines.count) order lines of \(orders) orders; no keys, customer and product facts repeated on every line")

        // Normalise: each fact once, keys and foreign keys.
        try await db.execute("""
            CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL, city text NOT NULL);
            CREATE TABLE products (sku text PRIMARY KEY, name text NOT NULL, unit_price_cents int NOT NULL CHECK (unit_price_cents > 0));
            CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, order_day int NOT NULL);
            CREATE TABLE order_lines (
                order_id int NOT NULL REFERENCES orders, sku text NOT NULL REFERENCES products,
                quantity int NOT NULL CHECK (quantity > 0), PRIMARY KEY (order_id, sku)
            );
            INSERT INTO customers (email, name, city)
                SELECT DISTINCT customer_email, customer_name, customer_city FROM orders_flat ORDER BY 1;
            INSERT INTO products SELECT DISTINCT product_sku, product_name, unit_price_cents FROM orders_flat;
            INSERT INTO orders SELECT DISTINCT f.order_id, c.id, f.order_day
                FROM orders_flat f JOIN customers c ON c.email = f.customer_email;
            INSERT INTO order_lines SELECT order_id, product_sku, quantity FROM orders_flat;
            """)
        let counts = try await db.query("""
            SELECT (SELECT count(*) FROM customers)::int, (SELECT count(*) FROM products)::int,
                   (SELECT count(*) FROM orders)::int, (SELECT count(*) FROM order_lines)::int
            """)[0].decode((Int, Int, Int, Int).self)
        lab.step("Normalised to 3NF", "customers \(counts.0), products \(counts.1), orders \(counts.2), order_lines \(counts.3)")
        let distinctCustomers = Set(lines.map(\.customer)).count
        let distinctProducts = Set(lines.map(\.product)).count
        lab.expect("3NF holds each customer and product once, every order and line",
                   [counts.0, counts.1, counts.2, counts.3], equals: [distinctCustomers, distinctProducts, orders, lines.count])

        // The same report on both shapes, and in Swift.
        let expected = Self.revenuePerCity(lines)
        let flatReport = try await report(db, """
            SELECT customer_city, sum(unit_price_cents * quantity)::bigint FROM orders_flat GROUP BY 1
            """)
        let normalReport = try await report(db, """
            SELECT c.city, sum(p.unit_price_cents * l.quantity)::bigint
            FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = o.customer_id
            JOIN products p ON p.sku = l.sku GROUP BY 1
            """)
        lab.expect("revenue per city agrees: flat sheet = 3NF = Swift", flatReport == normalReport && normalReport == expected,
                   expected: describe(expected), observed: "flat \(describe(flatReport)); 3NF \(describe(normalReport))")

        // The update anomaly: a customer moves; a careless update touches one row only.
        let movers = try await db.query("""
            SELECT customer_email FROM orders_flat GROUP BY 1 HAVING count(DISTINCT order_id) >= 2 ORDER BY 1 LIMIT 1
            """)
        if let mover = try movers.first?.decode(String.self) {
            try await db.query("""
                UPDATE orders_flat SET customer_city = 'Reykjavik'
                WHERE order_id = (SELECT min(order_id) FROM orders_flat WHERE customer_email = \(mover))
                """)
            let flatCities = try await db.scalar("SELECT count(DISTINCT customer_city)::int FROM orders_flat WHERE customer_email = \(mover)", as: Int.self)
            lab.step("Moved \(mover) to Reykjavik on one order only",
                     "the flat sheet now holds \(flatCities) different cities for one customer")
            lab.expect("update anomaly: the flat sheet disagrees with itself", flatCities, equals: 2)

            try await db.query("UPDATE customers SET city = 'Reykjavik' WHERE email = \(mover)")
            let normalCities = try await db.scalar("""
                SELECT count(DISTINCT c.city)::int FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = \(mover)
                """, as: Int.self)
            lab.expect("in 3NF the city is one fact: every order of the customer sees it", normalCities, equals: 1)
        } else {
            lab.expect("some customer has two orders, to show the anomaly on", false, expected: "a customer with ≥ 2 orders", observed: "none")
        }

        // Foreign keys refuse orphans.
        var orphan: String?
        do {
            try await db.query("INSERT INTO order_lines (order_id, sku, quantity) VALUES (\(orders + 1_000), 'SKU-100', 1)")
        } catch let e as PGQueryError {
            orphan = e.sqlState
        }
        lab.step("Inserted a line for an order that does not exist", orphan.map { "refused: SQLSTATE \($0)" } ?? "accepted")
        lab.expect("the foreign key rejects an orphan line (23503)", orphan ?? "accepted", equals: "23503")

        let sizes = try await db.query("""
            SELECT pg_total_relation_size('orders_flat')::bigint,
                   (pg_total_relation_size('customers') + pg_total_relation_size('products')
                    + pg_total_relation_size('orders') + pg_total_relation_size('order_lines'))::bigint
            """)[0].decode((Int, Int).self)
        lab.figure("flat sheet size", Double(sizes.0) / 1024, "KiB")
        lab.figure("3NF tables size (with their indexes)", Double(sizes.1) / 1024, "KiB")
    }

    private func report(_ db: PGSession, _ sql: String) async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for row in try await db.query(PostgresQuery(unsafeSQL: sql)) {
            let (city, cents) = try row.decode((String, Int).self)
            out[city] = cents
        }
        return out
    }

    private func describe(_ r: [String: Int]) -> String {
        r.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
    }
}
