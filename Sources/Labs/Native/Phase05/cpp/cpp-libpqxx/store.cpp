// The reference BookStore (see store.hpp): prepared statements and one transaction per batch.
#include "store.hpp"

BookStore::BookStore(const std::string& conninfo) : conn_(conninfo) {
#ifndef LAB_BREAK_EXEC_PARAMS
    conn_.prepare("add_author", "INSERT INTO author (name) VALUES ($1) RETURNING id");
    conn_.prepare("add_book", "INSERT INTO book (title, author_id, year) VALUES ($1, $2, $3) RETURNING id");
    conn_.prepare("find_book", "SELECT id, title, author_id, year FROM book WHERE id = $1");
    conn_.prepare("books_by_author", "SELECT id, title, author_id, year FROM book WHERE author_id = $1 ORDER BY id");
#endif
}

// One statement with parameters: prepared, or (broken on purpose) sent with its text each time.
template <class... Args> static pqxx::result run(pqxx::work& tx, const char* name, const char* sql, Args&&... args) {
#ifdef LAB_BREAK_EXEC_PARAMS
    (void)name;
    return tx.exec_params(sql, std::forward<Args>(args)...);
#else
    (void)sql;
    return tx.exec_prepared(name, std::forward<Args>(args)...);
#endif
}

static Book row_to_book(const pqxx::row& row) {
    return Book{row[0].as<long>(), row[1].as<std::string>(), row[2].as<long>(), row[3].as<int>()};
}

long BookStore::add_author(const std::string& name) {
    pqxx::work tx(conn_);
    long id = run(tx, "add_author", "INSERT INTO author (name) VALUES ($1) RETURNING id", name)[0][0].as<long>();
    tx.commit();
    return id;
}

long BookStore::add_book(const NewBook& book) {
    pqxx::work tx(conn_);
#ifdef LAB_BREAK_CONCAT
    // Broken on purpose: the title pasted into the SQL text.
    long id = tx.exec("INSERT INTO book (title, author_id, year) VALUES ('" + book.title + "', " + std::to_string(book.author_id) +
                      ", " + std::to_string(book.year) + ") RETURNING id")[0][0].as<long>();
#else
    long id = run(tx, "add_book", "INSERT INTO book (title, author_id, year) VALUES ($1, $2, $3) RETURNING id", book.title,
                  book.author_id, book.year)[0][0].as<long>();
#endif
    tx.commit();
    return id;
}

std::optional<Book> BookStore::find_book(long id) {
    pqxx::work tx(conn_);
#ifdef LAB_BREAK_FIND_LATEST
    (void)id;  // broken on purpose: answers with the newest book whatever the id
    pqxx::result r = tx.exec("SELECT id, title, author_id, year FROM book ORDER BY id DESC LIMIT 1");
#else
    pqxx::result r = run(tx, "find_book", "SELECT id, title, author_id, year FROM book WHERE id = $1", id);
#endif
    tx.commit();
    if (r.empty()) return std::nullopt;
    return row_to_book(r[0]);
}

std::vector<Book> BookStore::books_by_author(long author_id) {
    pqxx::work tx(conn_);
    pqxx::result r = run(tx, "books_by_author", "SELECT id, title, author_id, year FROM book WHERE author_id = $1 ORDER BY id", author_id);
    tx.commit();
    std::vector<Book> out;
    for (const auto& row : r) out.push_back(row_to_book(row));
    return out;
}

std::vector<long> BookStore::add_books(const std::vector<NewBook>& books) {
    std::vector<long> ids;
#ifdef LAB_BREAK_AUTOCOMMIT
    for (const auto& b : books) ids.push_back(add_book(b));  // broken on purpose: a transaction per book
#else
    pqxx::work tx(conn_);
    for (const auto& b : books)
        ids.push_back(run(tx, "add_book", "INSERT INTO book (title, author_id, year) VALUES ($1, $2, $3) RETURNING id", b.title,
                          b.author_id, b.year)[0][0].as<long>());
#ifndef LAB_BREAK_NO_COMMIT
    tx.commit();
#endif
#endif
    return ids;
}

pqxx::connection& BookStore::connection() { return conn_; }
