// store.hpp: a C++ data layer on PostgreSQL through libpqxx.
//
// One connection, statements prepared once on it (the server parses and plans them once;
// the values travel separately from the SQL, so a title with quotes is data, never SQL),
// and a transaction (pqxx::work) around anything that must happen all or not at all: an
// exception before commit() leaves the database as it was.
//
// The lab creates the tables before your code runs:
//   CREATE TABLE author (id bigserial PRIMARY KEY, name text NOT NULL);
//   CREATE TABLE book (id bigserial PRIMARY KEY, title text NOT NULL,
//                      author_id bigint NOT NULL REFERENCES author (id), year integer NOT NULL);
//
// The contract (the lab's harness uses exactly this):
#pragma once
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

struct Book {
    long id;
    std::string title;
    long author_id;
    int year;
};

struct NewBook {
    std::string title;
    long author_id;
    int year;
};

class BookStore {
public:
    // Connects (a libpqxx connection string) and prepares the statements it uses.
    explicit BookStore(const std::string& conninfo);
    long add_author(const std::string& name);
    long add_book(const NewBook& book);
    std::optional<Book> find_book(long id);
    // The author's books, ordered by id.
    std::vector<Book> books_by_author(long author_id);
    // All or nothing, in one transaction: the new ids, or an exception and no row added.
    std::vector<long> add_books(const std::vector<NewBook>& books);
    // The connection (the lab reads pg_prepared_statements on it).
    pqxx::connection& connection();

private:
    pqxx::connection conn_;
};
