// The cpp-libpqxx lab's harness: drives a BookStore (store.hpp) against the lab's throwaway
// PostgreSQL and prints what it saw: "RESULT name pass|fail detail" lines, "ID name value"
// for the rows the lab then reads back on its own connection, and "PREPARED name statement".
//   harness CONNINFO TOKEN
#include "store.hpp"

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

static void result(const char* name, bool pass, const std::string& detail) {
    std::printf("RESULT %s %s %s\n", name, pass ? "pass" : "fail", detail.c_str());
    std::fflush(stdout);
}

static std::string one_line(std::string s) {
    for (auto& c : s) if (c == '\n' || c == '\r') c = ' ';
    return s;
}

int main(int argc, char** argv) {
    if (argc != 3) { std::fprintf(stderr, "usage: harness CONNINFO TOKEN\n"); return 64; }
    const std::string token = argv[2];
    try {
        BookStore store(argv[1]);
        // Round trip: an author and three books, read back one by one and as a list.
        long author = store.add_author("Ursula K. Le Guin " + token);
        std::vector<NewBook> wanted = {{"The Dispossessed " + token, author, 1974},
                                       {"The Left Hand of Darkness " + token, author, 1969},
                                       {"Always Coming Home \xc3\xa9t\xc3\xa9 " + token, author, 1985}};
        std::vector<long> ids;
        for (auto& b : wanted) ids.push_back(store.add_book(b));
        std::printf("ID author %ld\n", author);
        for (long id : ids) std::printf("ID book %ld\n", id);
        long mismatched = 0;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            auto got = store.find_book(ids[i]);
            if (!got || got->id != ids[i] || got->title != wanted[i].title || got->author_id != author || got->year != wanted[i].year)
                mismatched++;
        }
        auto listed = store.books_by_author(author);
        bool listOK = listed.size() == ids.size();
        for (std::size_t i = 0; listOK && i < ids.size(); ++i) listOK = listed[i].id == ids[i];
        auto none = store.find_book(-1);
        result("roundtrip", mismatched == 0 && listOK && !none,
               "3 books added; find_book gave back " + std::to_string(3 - mismatched) + " of 3 as written; books_by_author listed " +
                   std::to_string(listed.size()) + (listOK ? " in id order" : " (want the 3 ids in order)") + "; find_book(-1) gave " +
                   (none ? "a book" : "nothing"));

        // A title full of SQL.
        std::string evil = "O'Brien'); DROP TABLE book; -- " + token;
        try {
            long id = store.add_book({evil, author, 2001});
            auto back = store.find_book(id);
            std::printf("ID evil %ld\n", id);
            result("injection", back && back->title == evil, std::string("a title with quotes and SQL in it was stored and read back ") +
                                                                 (back && back->title == evil ? "as text" : "changed"));
        } catch (const std::exception& e) {
            result("injection", false, "adding a book titled \"" + evil + "\" failed: " + one_line(e.what()));
        }

        // All or nothing: the third book's author does not exist.
        std::vector<NewBook> doomed = {{"Batch one " + token, author, 2000},
                                       {"Batch two " + token, author, 2001},
                                       {"Batch three " + token, -1, 2002}};
        try {
            store.add_books(doomed);
            result("rollback-threw", false, "add_books with a missing author returned normally");
        } catch (const std::exception& e) {
            result("rollback-threw", true, "add_books threw: " + one_line(e.what()).substr(0, 160));
        }
        std::vector<NewBook> good;
        for (int i = 0; i < 5; ++i) good.push_back({"Good batch " + std::to_string(i) + " " + token, author, 1990 + i});
        try {
            auto added = store.add_books(good);
            result("commit", added.size() == 5, "add_books of 5 valid books returned " + std::to_string(added.size()) + " ids");
        } catch (const std::exception& e) {
            result("commit", false, "add_books of 5 valid books threw: " + one_line(e.what()));
        }

        pqxx::work tx(store.connection());
        for (const auto& row : tx.exec("SELECT name, statement FROM pg_prepared_statements ORDER BY name"))
            std::printf("PREPARED %s %s\n", row[0].c_str(), one_line(row[1].c_str()).c_str());
        tx.commit();
    } catch (const std::exception& e) {
        result("connect", false, one_line(e.what()));
        return 0;
    }
    return 0;
}
