// Normalisation: a flat sheet (one row per order line, every customer and product fact
// copied onto it) is easy to import and easy to corrupt. Change a customer's city on one
// row only and the sheet now says two different things about one customer: an *update
// anomaly*. Third normal form stores each fact once — customers, products, orders,
// order lines — with primary keys naming rows and foreign keys refusing rows that point
// at nothing. The same question (revenue per city) has the same answer either way, as
// long as the flat copy has not drifted.
//
// With `--answers FILE` the learner writes the normal form: their file creates the four
// tables (names and the columns the checks use are fixed, see `contract`) and loads them
// from `orders_flat`, which the lab has filled. The same checks then run on their tables.
//
// `break=` plants a classic mistake in the reference schema (a load without DISTINCT, a copied
// fact, customers as a view of the sheet, a missing foreign key…) or in the flat sheet's
// careless update; each is caught by the checks named in its help.
import Foundation
import LabKit
import PostgresNIO

struct SchemaNormalizationLab: Lab {
    static let orderCount = Knob.int("orders", 10...200_000, default: 5000, quick: 300, help: "orders in the flat sheet")
    static let customerCount = Knob.int(
        "customers", 2...10_000, default: 200, quick: 30,
        help: "distinct customers the orders belong to")
    static let seed = Knob.int("seed", 0...1_000_000, default: 42, help: "seed of the generated sheet")
    static let breaker = Knob<Breaker>.choice(
        "break", default: .none,
        help: """
            Plant a mistake (in the reference schema; an answers file is run as written): \
            products-without-distinct (products are loaded without DISTINCT, so the primary key refuses the \
            load: the script, row-count and revenue checks), name-as-full-name (customers.name is called \
            full_name: the columns check), email-on-orders (orders keeps a copy of the customer's email: the \
            one-home check), customers-view (customers is a view over the flat sheet, so orders cannot refer \
            to it and the city cannot be updated in one place: the one-fact and unknown-customer checks), \
            no-line-foreign-keys (order_lines refers to nothing: the orphan-line check), flat-update-by-email \
            (the flat sheet's update names the customer, not one order, so every row changes and no anomaly \
            shows: the anomaly check).
            """)

    enum Breaker: String, CaseIterable, Sendable {
        case none
        case productsWithoutDistinct = "products-without-distinct"
        case nameAsFullName = "name-as-full-name"
        case emailOnOrders = "email-on-orders"
        case customersView = "customers-view"
        case noLineForeignKeys = "no-line-foreign-keys"
        case flatUpdateByEmail = "flat-update-by-email"
    }

    /// The checks, named once so the breaker tests cannot drift from them.
    static let scriptRuns = "the normalising script runs without an error"
    static let hasColumns = "the 3NF tables have the columns the checks use"
    static let oneHome = "each fact has one home: orders and order_lines copy no customer or product fact"
    static let rowCounts = "3NF holds each customer and product once, every order and line"
    static let revenueAgrees = "revenue per city agrees: flat sheet = 3NF = Swift"
    static let flatDisagrees = "update anomaly: the flat sheet disagrees with itself"
    static let cityOneFact = "in 3NF the city is one fact: every order of the customer sees it"
    static let orphanLineRefused = "the foreign key rejects an orphan line (23503)"
    static let orphanOrderRefused = "the foreign key rejects an order of an unknown customer (23503)"

    static let info = LabInfo(
        id: "schema-normalization", title: "From a flat sheet to third normal form", phase: 2,
        teaches:
            "A flat orders table repeats customer facts on every row, so one careless update leaves them disagreeing; in 3NF each fact lives once, keys and foreign keys refuse orphans, and reports still agree.",
        parameters: [orderCount.parameter, customerCount.parameter, seed.parameter, breaker.parameter],
        needs: [.postgres], subjects: [.answers],
        source: "Sources/Labs/Data/Phase02/SchemaNormalization.swift"
    )

    /// The flat sheet as imported: no keys, every customer and product fact on every line.
    static let flatTable = """
        CREATE TABLE orders_flat (
            order_id         int,   -- 1 … the orders parameter; an order has 1 to 3 lines
            order_day        int,   -- 0 … 364, the same on every line of an order
            customer_email   text,  -- identifies the customer: 'c<n>@example.org'
            customer_name    text,
            customer_city    text,
            product_sku      text,  -- identifies the product: 'SKU-100' … 'SKU-124'
            product_name     text,
            unit_price_cents int,   -- 199 … 9999, the same on every line of a product
            quantity         int    -- 1 … 5; a product appears at most once per order
        )
        """

    /// The tables and columns the checks rely on, in a learner's schema as in the reference.
    /// Types and further columns are the schema's own business.
    static let contract: [(table: String, columns: [String])] = [
        ("customers", ["id", "email", "name", "city"]),
        ("products", ["sku", "name", "unit_price_cents"]),
        ("orders", ["id", "customer_id", "order_day"]),
        ("order_lines", ["order_id", "sku", "quantity"]),
    ]

    /// The reference normal form: each fact once, keys and foreign keys, loaded from the sheet.
    static let referenceSchema = """
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
        """

    /// The reference schema with `breaker`'s mistake planted in it.
    static func reference(_ breaker: Breaker) -> String {
        let edits: [(String, String)] =
            switch breaker {
            case .none, .flatUpdateByEmail: []
            case .productsWithoutDistinct: [("INSERT INTO products SELECT DISTINCT", "INSERT INTO products SELECT")]
            case .nameAsFullName:
                [("email text NOT NULL UNIQUE, name text", "email text NOT NULL UNIQUE, full_name text"), ("(email, name, city)", "(email, full_name, city)")]
            case .emailOnOrders:
                [("order_day int NOT NULL);", "order_day int NOT NULL, customer_email text);"), ("c.id, f.order_day", "c.id, f.order_day, f.customer_email")]
            case .customersView:
                [
                    (
                        "CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL, city text NOT NULL);",
                        """
                        CREATE VIEW customers AS SELECT (dense_rank() OVER (ORDER BY customer_email))::int AS id,
                            customer_email AS email, customer_name AS name, customer_city AS city
                            FROM (SELECT DISTINCT customer_email, customer_name, customer_city FROM orders_flat) f;
                        """
                    ),
                    ("customer_id int NOT NULL REFERENCES customers", "customer_id int NOT NULL"),
                    (
                        "INSERT INTO customers (email, name, city)\n    SELECT DISTINCT customer_email, customer_name, customer_city FROM orders_flat ORDER BY 1;\n",
                        ""
                    ),
                ]
            case .noLineForeignKeys:
                [("order_id int NOT NULL REFERENCES orders, sku text NOT NULL REFERENCES products", "order_id int NOT NULL, sku text NOT NULL")]
            }
        return edits.reduce(referenceSchema) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }

    // MARK: Starter folder

    /// `lab init schema-normalization`: the task, the flat table, and the file to write.
    static func starter() -> [StarterFile] {
        let columns = contract.map { "   - `\($0.table)`: " + $0.columns.map { "`\($0)`" }.joined(separator: ", ") }.joined(separator: "\n")
        let readme = """
            # schema-normalization: from a flat sheet to third normal form

            The lab fills a table `orders_flat` in a throwaway PostgreSQL of its own: one row per
            order line, with the customer's and the product's facts copied onto every row
            (`orders_flat.sql` shows it, with sample rows). Your job is the normal form: a file
            of SQL that creates four tables, each fact stored once, with primary keys and foreign
            keys, and fills them from `orders_flat`. Write it in `normalize.sql`, then run:

                curriculum lab run schema-normalization --answers normalize.sql

            ## What the file must contain

            Plain SQL statements separated by `;` (comments welcome), run in order on the
            database where `orders_flat` is already filled, as its owner. The file must:

            1. create these tables, with at least these columns (the names are fixed; the types,
               the constraints and any further columns are yours to choose):

            \(columns)

               `customers.id` is the key `orders.customer_id` refers to (a `serial` is fine);
               `orders.id` is the order id of the sheet; `products.sku` is the sheet's
               `product_sku`; `order_lines` has one row per row of the sheet;
            2. fill them from `orders_flat` with `INSERT … SELECT`.

            ## How the checks judge it

            The lab runs the file statement by statement, like `psql -f` without
            `ON_ERROR_STOP`: a statement PostgreSQL rejects is reported with PostgreSQL's message
            and its line in your file, and the next statement still runs. Then, on your tables:

            - **the normalising script runs without an error**: every statement succeeded;
            - **the 3NF tables have the columns the checks use**: the names above exist;
            - **each fact has one home**: `orders` and `order_lines` have no column whose name
              holds `email`, `name`, `city` or `price` (those facts live in `customers` and
              `products`);
            - **3NF holds each customer and product once, every order and line**: the row
              counts equal the distinct customers, distinct products, orders and sheet rows;
            - **revenue per city agrees**: revenue per city (sum of `unit_price_cents × quantity`
              joined through your four tables) equals the flat sheet's and the one computed in
              Swift;
            - **update anomaly**: the lab moves one customer to another city on one row of the
              flat sheet (which then disagrees with itself), and with
              `UPDATE customers SET city = … WHERE email = …` in yours, after which every order
              of that customer must see one city;
            - **the foreign key rejects an orphan line (23503)**: inserting an `order_lines` row
              for an order id that does not exist (and a product that does) must fail with
              SQLSTATE 23503;
            - **the foreign key rejects an order of an unknown customer (23503)**: the same for an
              `orders` row whose `customer_id` is -1.

            A check whose query PostgreSQL rejects (a table or column missing) fails with
            PostgreSQL's message; the other checks still run. The sheet is generated from a seed:
            `--param orders=N`, `--param customers=N` and `--param seed=N` change it, `--quick`
            makes it small, and a right schema passes on every one of them. Each statement may run
            for \(timeLimit(quick: true)) s with `--quick` and \(timeLimit(quick: false)) s without.

            The reference schema is in the lab's source, `\(info.source)`; read it after your own pass.

            """
        let sample = sheet(orders: 3, customers: 2, seed: 42).map { l in
            "--   (\(l.orderID), \(l.day), '\(l.customer.email)', '\(l.customer.name)', '\(l.customer.city)', '\(l.product.sku)', '\(l.product.name)', \(l.product.priceCents), \(l.quantity))"
        }.joined(separator: ",\n")
        let flat = """
            -- The table the lab creates and fills before it runs your normalize.sql. Do not
            -- create it yourself. The sheet is generated: these are the first rows of a tiny one.

            \(flatTable);

            -- INSERT INTO orders_flat VALUES
            \(sample);

            """
        let normalize = """
            -- schema-normalization: your third normal form. See README.md for the rules.
            -- Run: curriculum lab run schema-normalization --answers normalize.sql
            --
            -- orders_flat exists and is filled when this file runs. Create these tables (names
            -- fixed; types, keys and further columns yours), then fill them from orders_flat:
            --
            \(contract.map { "--   \($0.table) (\($0.columns.joined(separator: ", ")))" }.joined(separator: "\n"))
            --
            -- 1. CREATE TABLE … with primary keys, and foreign keys from orders to customers
            --    and from order_lines to orders and to products.
            -- 2. INSERT INTO … SELECT … FROM orders_flat, customers first.

            """
        return [StarterFile("README.md", readme), StarterFile("orders_flat.sql", flat), StarterFile("normalize.sql", normalize)]
    }

    /// How long one statement of a learner's schema file may run.
    static func timeLimit(quick: Bool) -> Int { quick ? 10 : 60 }

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
        // The learner's file is read before anything starts: a wrong path fails at once.
        var theirs: (path: String, text: String)?
        if lab.subject.kind == .answers { theirs = try AnswerSheet.readFile(lab.subject.value) }
        let orders = lab[Self.orderCount], customers = lab[Self.customerCount], seed = lab[Self.seed]
        let breaker = lab[Self.breaker]
        let server = try await ThrowawayPostgres.start(for: lab)
        let db = try await server.createDatabase("shop")
        // Fewer customers than orders, so some customer has two orders to disagree about.
        let lines = Self.sheet(orders: orders, customers: min(customers, orders - 1), seed: seed)

        try await db.execute(Self.flatTable)
        try await PGLabSQL.insert(
            db, into: "orders_flat",
            columns: [
                "order_id", "order_day", "customer_email", "customer_name", "customer_city",
                "product_sku", "product_name", "unit_price_cents", "quantity",
            ],
            rows: lines.map { l in
                [
                    "\(l.orderID)", "\(l.day)", PGLabSQL.literal(l.customer.email), PGLabSQL.literal(l.customer.name),
                    PGLabSQL.literal(l.customer.city), PGLabSQL.literal(l.product.sku), PGLabSQL.literal(l.product.name),
                    "\(l.product.priceCents)", "\(l.quantity)",
                ]
            })
        lab.step("Imported the flat sheet as-is", "\(lines.count) order lines of \(orders) orders; no keys, customer and product facts repeated on every line")

        // Normalise: each fact once, keys and foreign keys — the reference's script or the
        // learner's, run the same way.
        let script = theirs?.text ?? Self.reference(breaker)
        let file = theirs?.path ?? "the reference schema"
        let ran = try await Self.runScript(
            server: server, database: "shop", script: script, file: file,
            seconds: Self.timeLimit(quick: lab.quick))
        lab.step(
            theirs == nil
                ? "Normalised to 3NF with the reference schema" + (script == Self.referenceSchema ? "" : ", broken on purpose (break=\(breaker.rawValue))")
                : "Ran your schema file \(file)",
            "\(ran.statements) statements, \(ran.errors.count) failed" + (ran.errors.isEmpty ? "" : ": " + ran.errors.joined(separator: " | ")))
        lab.check(
            Self.scriptRuns, ran.statements > 0 && ran.errors.isEmpty,
            expected: "every statement succeeds",
            observed: ran.statements == 0
                ? "no SQL statement in \(file)"
                : ran.errors.first.map { $0 + (ran.errors.count > 1 ? " (and \(ran.errors.count - 1) more)" : "") }
                    ?? "\(ran.statements) statements, all succeeded")

        // The contract: the tables and columns every later check reads.
        let contractText = Self.contract.map { "\($0.table)(\($0.columns.joined(separator: ", ")))" }.joined(separator: ", ")
        try await checking(lab, Self.hasColumns, expected: contractText) {
            let present = Set(
                try await db.query(
                    """
                    SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'
                    """
                ).map { row -> String in
                    let (t, c) = try row.decode((String, String).self); return "\(t).\(c)"
                })
            let missing = Self.contract.flatMap { t in t.columns.map { "\(t.table).\($0)" } }.filter { !present.contains($0) }
            lab.check(
                Self.hasColumns, missing.isEmpty, expected: contractText,
                observed: missing.isEmpty ? "all present" : "missing: " + missing.joined(separator: ", "))

            // Third normal form, seen from the schema: an order or a line names its customer
            // and product by key and repeats none of their facts.
            let factWords = ["email", "name", "city", "price"]
            let linking = present.filter { $0.hasPrefix("orders.") || $0.hasPrefix("order_lines.") }.sorted()
            let copied = linking.filter { column in factWords.contains { column.split(separator: ".").last?.contains($0) == true } }
            let bothExist = linking.contains { $0.hasPrefix("orders.") } && linking.contains { $0.hasPrefix("order_lines.") }
            lab.check(
                Self.oneHome, bothExist && copied.isEmpty,
                expected: "orders and order_lines exist, with no email, name, city or price column",
                observed: !bothExist
                    ? "orders or order_lines does not exist"
                    : copied.isEmpty ? "columns: " + linking.joined(separator: ", ") : "copied facts: " + copied.joined(separator: ", "))
        }

        let countsName = Self.rowCounts
        let distinctCustomers = Set(lines.map(\.customer)).count
        let distinctProducts = Set(lines.map(\.product)).count
        let expectedCounts = [distinctCustomers, distinctProducts, orders, lines.count]
        try await checking(lab, countsName, expected: "\(expectedCounts)") {
            let counts = try await db.query(
                """
                SELECT (SELECT count(*) FROM customers)::int, (SELECT count(*) FROM products)::int,
                       (SELECT count(*) FROM orders)::int, (SELECT count(*) FROM order_lines)::int
                """)[0].decode((Int, Int, Int, Int).self)
            lab.step("Counted the 3NF rows", "customers \(counts.0), products \(counts.1), orders \(counts.2), order_lines \(counts.3)")
            lab.expect(countsName, [counts.0, counts.1, counts.2, counts.3], equals: expectedCounts)
        }

        // The same report on both shapes, and in Swift.
        let expected = Self.revenuePerCity(lines)
        let reportName = Self.revenueAgrees
        try await checking(lab, reportName, expected: describe(expected)) {
            let flatReport = try await report(
                db,
                """
                SELECT customer_city, sum(unit_price_cents * quantity)::bigint FROM orders_flat GROUP BY 1
                """)
            let normalReport = try await report(
                db,
                """
                SELECT c.city, sum(p.unit_price_cents * l.quantity)::bigint
                FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = o.customer_id
                JOIN products p ON p.sku = l.sku GROUP BY 1
                """)
            lab.expect(
                reportName, flatReport == normalReport && normalReport == expected,
                expected: describe(expected), observed: "flat \(describe(flatReport)); 3NF \(describe(normalReport))")
        }

        // The update anomaly: a customer moves; a careless update touches one row only.
        let movers = try await db.query(
            """
            SELECT customer_email FROM orders_flat GROUP BY 1 HAVING count(DISTINCT order_id) >= 2 ORDER BY 1 LIMIT 1
            """)
        if let mover = try movers.first?.decode(String.self) {
            if breaker == .flatUpdateByEmail {
                try await db.query("UPDATE orders_flat SET customer_city = 'Reykjavik' WHERE customer_email = \(mover)")
            } else {
                try await db.query(
                    """
                    UPDATE orders_flat SET customer_city = 'Reykjavik'
                    WHERE order_id = (SELECT min(order_id) FROM orders_flat WHERE customer_email = \(mover))
                    """)
            }
            let flatCities = try await db.scalar("SELECT count(DISTINCT customer_city)::int FROM orders_flat WHERE customer_email = \(mover)", as: Int.self)
            lab.step(
                breaker == .flatUpdateByEmail ? "Moved \(mover) to Reykjavik on every row" : "Moved \(mover) to Reykjavik on one order only",
                "the flat sheet now holds \(flatCities) different cities for one customer")
            lab.expect(Self.flatDisagrees, flatCities, equals: 2)

            let oneFact = Self.cityOneFact
            try await checking(lab, oneFact, expected: "1") {
                try await db.query("UPDATE customers SET city = 'Reykjavik' WHERE email = \(mover)")
                let normalCities = try await db.scalar(
                    """
                    SELECT count(DISTINCT c.city)::int FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = \(mover)
                    """, as: Int.self)
                lab.expect(oneFact, normalCities, equals: 1)
            }
        } else {
            lab.expect("some customer has two orders, to show the anomaly on", false, expected: "a customer with ≥ 2 orders", observed: "none")
        }

        // Foreign keys refuse orphans: a line of an order that does not exist (for a product
        // that does, so only the order's key can refuse it), and an order of nobody.
        let orphanLine = try await refusal(
            db,
            """
            INSERT INTO order_lines (order_id, sku, quantity) SELECT \(orders + 1_000), min(product_sku), 1 FROM orders_flat
            """)
        lab.step("Inserted a line for an order that does not exist", orphanLine.text)
        lab.check(
            Self.orphanLineRefused, orphanLine.sqlState == "23503",
            expected: "refused with SQLSTATE 23503 (foreign_key_violation)", observed: orphanLine.text)
        let orphanOrder = try await refusal(
            db,
            """
            INSERT INTO orders (id, customer_id, order_day) VALUES (\(orders + 1_000), -1, 1)
            """)
        lab.step("Inserted an order for a customer who does not exist", orphanOrder.text)
        lab.check(
            Self.orphanOrderRefused, orphanOrder.sqlState == "23503",
            expected: "refused with SQLSTATE 23503 (foreign_key_violation)", observed: orphanOrder.text)

        let flatSize = try await db.scalar("SELECT pg_total_relation_size('orders_flat')::bigint", as: Int.self)
        lab.figure("flat sheet size", Double(flatSize) / 1024, "KiB")
        // Only when all four tables exist; a learner's schema may lack one (already failed above).
        if let normalSize = try? await db.scalar(
            """
            SELECT (pg_total_relation_size('customers') + pg_total_relation_size('products')
                    + pg_total_relation_size('orders') + pg_total_relation_size('order_lines'))::bigint
            """, as: Int.self)
        {
            lab.figure("3NF tables size (with their indexes)", Double(normalSize) / 1024, "KiB")
        }
    }

    /// Runs one check's queries. A query PostgreSQL refuses — a table or column the
    /// learner's schema lacks — fails that check with PostgreSQL's message, and the next
    /// check still runs.
    private func checking(_ lab: LabContext, _ name: String, expected: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let e as PGQueryError {
            lab.check(name, false, expected: expected, observed: "PostgreSQL refused it: \(e.message)\(e.sqlState.map { " (SQLSTATE \($0))" } ?? "")")
        }
    }

    /// Runs a statement that should be refused: its SQLSTATE and a sentence saying what happened.
    private func refusal(_ db: PGSession, _ sql: String) async throws -> (sqlState: String?, text: String) {
        do {
            try await db.query(PostgresQuery(unsafeSQL: sql))
            return (nil, "accepted: the row was stored")
        } catch let e as PGQueryError {
            return (e.sqlState, "refused: SQLSTATE \(e.sqlState ?? "none"), \(e.message)")
        }
    }

    /// Runs a schema script statement by statement on a session of its own (whatever it
    /// SETs stays there), as `psql -f` does without ON_ERROR_STOP: a failing statement is
    /// recorded with PostgreSQL's message and its line in `file`, and the next one runs.
    static func runScript(
        server: ThrowawayPostgres, database: String, script: String, file: String,
        seconds: Int
    ) async throws -> (statements: Int, errors: [String]) {
        let session = try await server.connect(database: database)
        try await session.execute("SET statement_timeout = '\(seconds)s'")
        let statements = AnswerSheet.statements(script)
        var errors: [String] = []
        for statement in statements {
            try Task.checkCancellation()
            do {
                _ = try await session.connection.query(PostgresQuery(unsafeSQL: statement.text), logger: PGSession.quietLogger).collect()
            } catch {
                // The line PostgreSQL points at, else the statement's first line that is not a comment.
                let error = ReadOnlyGrader.serverError(error)
                let lines = statement.text.split(separator: "\n", omittingEmptySubsequences: false)
                let leading = lines.prefix { $0.trimmingCharacters(in: .whitespaces).isEmpty || $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }.count
                let offset = error.position.map { p in statement.text.unicodeScalars.prefix(p - 1).reduce(0) { $1 == "\n" ? $0 + 1 : $0 } } ?? leading
                errors.append("\(file) line \(1 + statement.line + offset): \(error.text)")
            }
        }
        await session.close()
        return (statements.count, errors)
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
