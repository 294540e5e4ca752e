// The bookshelf's phase-1 resources in C++ with cpp-httplib (docs/bookshelf.md): authors,
// books with limit/offset pages and case-insensitive search, reviews, problem+json errors,
// 405 with Allow. Data in memory behind one mutex (httplib serves from a thread pool).
// Listens on 127.0.0.1:$PORT and stops cleanly on SIGTERM.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <set>
#include <string>
#include <thread>
#include <vector>

// ---- A small JSON reader and writer: objects, arrays, strings, numbers, literals. ----
struct Json {
    enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
    bool boolean = false;
    double number = 0;
    bool integral = false;
    long long integer = 0;
    std::string text;
    std::vector<Json> items;
    std::map<std::string, Json> fields;
};

class Reader {
public:
    explicit Reader(const std::string& s) : s_(s) {}
    bool parse(Json& out) {
        if (!value(out, 0)) return false;
        space();
        return i_ == s_.size();
    }

private:
    const std::string& s_;
    std::size_t i_ = 0;
    void space() { while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_; }
    bool literal(const char* word) {
        std::size_t n = std::char_traits<char>::length(word);
        if (s_.compare(i_, n, word) != 0) return false;
        i_ += n;
        return true;
    }
    bool value(Json& out, int depth) {
        if (depth > 32) return false;
        space();
        if (i_ >= s_.size()) return false;
        char c = s_[i_];
        if (c == '{') {
            out.kind = Json::Object;
            ++i_;
            space();
            if (i_ < s_.size() && s_[i_] == '}') { ++i_; return true; }
            while (true) {
                space();
                Json key;
                if (i_ >= s_.size() || s_[i_] != '"' || !string(key.text)) return false;
                space();
                if (i_ >= s_.size() || s_[i_++] != ':') return false;
                Json v;
                if (!value(v, depth + 1)) return false;
                out.fields[key.text] = v;
                space();
                if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
                if (i_ < s_.size() && s_[i_] == '}') { ++i_; return true; }
                return false;
            }
        }
        if (c == '[') {
            out.kind = Json::Array;
            ++i_;
            space();
            if (i_ < s_.size() && s_[i_] == ']') { ++i_; return true; }
            while (true) {
                Json v;
                if (!value(v, depth + 1)) return false;
                out.items.push_back(v);
                space();
                if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
                if (i_ < s_.size() && s_[i_] == ']') { ++i_; return true; }
                return false;
            }
        }
        if (c == '"') { out.kind = Json::String; return string(out.text); }
        if (literal("true")) { out.kind = Json::Bool; out.boolean = true; return true; }
        if (literal("false")) { out.kind = Json::Bool; return true; }
        if (literal("null")) { out.kind = Json::Null; return true; }
        std::size_t start = i_;
        if (s_[i_] == '-') ++i_;
        while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' || s_[i_] == 'e' ||
                                  s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-'))
            ++i_;
        std::string number = s_.substr(start, i_ - start);
        if (number.empty() || number == "-") return false;
        char* end = nullptr;
        out.kind = Json::Number;
        out.number = std::strtod(number.c_str(), &end);
        if (end != number.c_str() + number.size()) return false;
        out.integral = number.find_first_of(".eE") == std::string::npos;
        if (out.integral) out.integer = std::strtoll(number.c_str(), nullptr, 10);
        return true;
    }
    bool string(std::string& out) {
        ++i_;  // the opening quote
        while (i_ < s_.size()) {
            char c = s_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') { out += c; continue; }
            if (i_ >= s_.size()) return false;
            char e = s_[i_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                if (i_ + 4 > s_.size()) return false;
                unsigned cp = static_cast<unsigned>(std::strtoul(s_.substr(i_, 4).c_str(), nullptr, 16));
                i_ += 4;
                if (cp < 0x80) out += char(cp);
                else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
                else { out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F)); }
                break;
            }
            default: return false;
            }
        }
        return false;
    }
};

static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); out += b; }
            else out += char(c);
        }
    }
    return out + "\"";
}

// ---- The data. ----
struct Author { long id; std::string name; std::string created_at; };
struct BookRow { long id; std::string title; long author_id; int year; std::optional<std::string> isbn; std::string created_at, updated_at; };
struct Review { long id; long book_id; int rating; std::string text; std::string created_at; };

static std::mutex mu;
static std::map<long, Author> authors;
static std::map<long, BookRow> books;
static std::vector<Review> reviews;
static long next_id = 1;

static std::string now_utc() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static int latest_year() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900 + 1;
}

static std::string author_json(const Author& a) {
    return "{\"id\":" + std::to_string(a.id) + ",\"name\":" + quote(a.name) + ",\"created_at\":" + quote(a.created_at) + "}";
}

static std::string book_json(const BookRow& b) {
    return "{\"id\":" + std::to_string(b.id) + ",\"title\":" + quote(b.title) + ",\"author_id\":" + std::to_string(b.author_id) +
           ",\"year\":" + std::to_string(b.year) + ",\"isbn\":" + (b.isbn ? quote(*b.isbn) : "null") +
           ",\"created_at\":" + quote(b.created_at) + ",\"updated_at\":" + quote(b.updated_at) + "}";
}

static std::string review_json(const Review& r) {
    return "{\"id\":" + std::to_string(r.id) + ",\"book_id\":" + std::to_string(r.book_id) + ",\"rating\":" + std::to_string(r.rating) +
           ",\"text\":" + quote(r.text) + ",\"created_at\":" + quote(r.created_at) + "}";
}

// ---- Answers. ----
static void problem(httplib::Response& res, int status, const std::string& title, const std::string& detail,
                    const std::vector<std::pair<std::string, std::string>>& errors = {}) {
    res.status = status;
    std::string body = "{\"type\":\"about:blank\",\"title\":" + quote(title) + ",\"status\":" + std::to_string(status) +
                       ",\"detail\":" + quote(detail);
    if (!errors.empty()) {
        body += ",\"errors\":[";
        for (std::size_t i = 0; i < errors.size(); ++i)
            body += std::string(i ? "," : "") + "{\"field\":" + quote(errors[i].first) + ",\"message\":" + quote(errors[i].second) + "}";
        body += "]";
    }
#ifdef LAB_BREAK_PLAIN_404
    if (status == 404) { res.set_content("not found", "text/plain"); return; }  // broken on purpose
#endif
    res.set_content(body + "}", "application/problem+json");
}

static void not_allowed(httplib::Response& res, const std::string& allow) {
#ifndef LAB_BREAK_NO_ALLOW
    res.set_header("Allow", allow);
#endif
    problem(res, 405, "Method Not Allowed", "this path takes " + allow);
}

static bool isbn13_ok(const std::string& s) {
    if (s.size() != 13 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    int sum = 0;
    for (int i = 0; i < 12; ++i) sum += (s[i] - '0') * (i % 2 ? 3 : 1);
    return (10 - sum % 10) % 10 == s[12] - '0';
}

// Reads a JSON object body; answers 400/422 itself and returns false when it is not one.
static bool object_body(const httplib::Request& req, httplib::Response& res, const std::set<std::string>& allowed, Json& out) {
    Reader reader(req.body);
    if (!reader.parse(out) || out.kind != Json::Object) {
        problem(res, 400, "Bad Request", "the body is not a JSON object");
        return false;
    }
    std::vector<std::pair<std::string, std::string>> unknown;
    for (auto& f : out.fields)
        if (!allowed.count(f.first)) unknown.push_back({f.first, "unknown field"});
    if (!unknown.empty()) {
        problem(res, 422, "Unprocessable Content", "the body has fields this resource does not have", unknown);
        return false;
    }
    return true;
}

// Validates a book body (POST or PUT); answers 422 itself. Call with the lock held.
static bool book_fields(const Json& body, httplib::Response& res, BookRow& b) {
    std::vector<std::pair<std::string, std::string>> errors;
    auto f = [&](const char* name) -> const Json* { auto it = body.fields.find(name); return it == body.fields.end() ? nullptr : &it->second; };
    const Json* title = f("title");
    const Json* author = f("author_id");
    const Json* year = f("year");
    const Json* isbn = f("isbn");
    if (!title || title->kind != Json::String || title->text.find_first_not_of(" \t\r\n") == std::string::npos)
        errors.push_back({"title", "a non-empty string is required"});
    if (!author || author->kind != Json::Number || !author->integral) errors.push_back({"author_id", "a whole number is required"});
    else if (!authors.count(author->integer)) errors.push_back({"author_id", "no such author"});
    if (!year || year->kind != Json::Number || !year->integral || year->integer < 1450 || year->integer > latest_year())
        errors.push_back({"year", "a year from 1450 to next year is required"});
    if (isbn && isbn->kind != Json::Null && (isbn->kind != Json::String || !isbn13_ok(isbn->text)))
        errors.push_back({"isbn", "an ISBN-13 with a correct check digit"});
    if (!errors.empty()) {
        problem(res, 422, "Unprocessable Content", "the book is not valid", errors);
        return false;
    }
    b.title = title->text;
    b.author_id = author->integer;
    b.year = static_cast<int>(year->integer);
    b.isbn = isbn && isbn->kind == Json::String ? std::optional<std::string>(isbn->text) : std::nullopt;
    return true;
}

// A query parameter as a whole number in [lo, hi]; nullopt (and a 400 answered) when it is not.
static bool int_param(const httplib::Request& req, httplib::Response& res, const char* name, long lo, long hi, long& out) {
    if (!req.has_param(name)) return true;
    std::string v = req.get_param_value(name);
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
#ifdef LAB_BREAK_CLAMP_LIMIT
    // broken on purpose: an out-of-range number is quietly clamped instead of refused
    if (!v.empty() && *end == '\0') n = std::max(lo, std::min(hi, n));
#endif
    if (v.empty() || *end != '\0' || n < lo || n > hi) {
        problem(res, 400, "Bad Request", std::string(name) + " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
        return false;
    }
    out = n;
    return true;
}

static std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Whether `path` is PREFIX{id}SUFFIX with a whole number for {id}.
static bool id_path(const std::string& path, const std::string& prefix, const std::string& suffix, long& id) {
    if (path.size() <= prefix.size() + suffix.size() || path.compare(0, prefix.size(), prefix) != 0 ||
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0)
        return false;
    std::string digits = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
    id = std::stol(digits);
    return true;
}

static void route(const httplib::Request& req, httplib::Response& res) {
    const std::string& m = req.method;
    long id = 0;
    std::lock_guard<std::mutex> lock(mu);
    if (req.path == "/health") {
        if (m != "GET") return not_allowed(res, "GET");
        return res.set_content("{\"status\":\"ok\"}", "application/json");
    }
    if (req.path == "/authors") {
        if (m != "POST") return not_allowed(res, "POST");
        Json body;
        if (!object_body(req, res, {"name"}, body)) return;
        auto name = body.fields.find("name");
        if (name == body.fields.end() || name->second.kind != Json::String || name->second.text.empty())
            return problem(res, 422, "Unprocessable Content", "the author is not valid", {{"name", "a non-empty string is required"}});
        Author a{next_id++, name->second.text, now_utc()};
        authors[a.id] = a;
        res.status = 201;
#ifndef LAB_BREAK_SKIP_LOCATION
        res.set_header("Location", "/authors/" + std::to_string(a.id));
#endif
        return res.set_content(author_json(a), "application/json");
    }
    if (id_path(req.path, "/authors/", "", id)) {
        if (m != "GET") return not_allowed(res, "GET");
        auto it = authors.find(id);
        if (it == authors.end()) return problem(res, 404, "Not Found", "no author " + std::to_string(id));
        return res.set_content(author_json(it->second), "application/json");
    }
    if (req.path == "/books") {
        if (m == "POST") {
            Json body;
            if (!object_body(req, res, {"title", "author_id", "year", "isbn"}, body)) return;
            BookRow b{};
            if (!book_fields(body, res, b)) return;
            b.id = next_id++;
            b.created_at = b.updated_at = now_utc();
            books[b.id] = b;
            res.status = 201;
#ifndef LAB_BREAK_SKIP_LOCATION
            res.set_header("Location", "/books/" + std::to_string(b.id));
#endif
            return res.set_content(book_json(b), "application/json");
        }
        if (m != "GET") return not_allowed(res, "GET, POST");
        long limit = 20, offset = 0, author = 0;
        if (!int_param(req, res, "limit", 1, 100, limit) || !int_param(req, res, "offset", 0, 1L << 40, offset) ||
            !int_param(req, res, "author_id", 1, 1L << 62, author))
            return;
        std::string q = req.has_param("q") ? lower(req.get_param_value("q")) : "";
        std::vector<const BookRow*> hits;
        for (auto& [key, b] : books)
#ifdef LAB_BREAK_CASE_SENSITIVE_Q
            // broken on purpose: q is matched as typed, so the case must agree
            if ((!author || b.author_id == author) && (q.empty() || b.title.find(req.get_param_value("q")) != std::string::npos)) hits.push_back(&b);
#else
            if ((!author || b.author_id == author) && (q.empty() || lower(b.title).find(q) != std::string::npos)) hits.push_back(&b);
#endif
#ifdef LAB_BREAK_IGNORE_OFFSET
        offset = 0;  // broken on purpose: every page starts at the beginning
#endif
        std::string items;
        for (std::size_t i = static_cast<std::size_t>(offset); i < hits.size() && i < static_cast<std::size_t>(offset + limit); ++i)
            items += (items.empty() ? "" : ",") + book_json(*hits[i]);
        return res.set_content("{\"items\":[" + items + "],\"total\":" + std::to_string(hits.size()) + ",\"limit\":" +
                                   std::to_string(limit) + ",\"offset\":" + std::to_string(offset) + "}",
                               "application/json");
    }
    if (id_path(req.path, "/books/", "", id)) {
        if (m != "GET" && m != "PUT" && m != "DELETE") return not_allowed(res, "GET, PUT, DELETE");
        auto it = books.find(id);
        if (it == books.end()) return problem(res, 404, "Not Found", "no book " + std::to_string(id));
        if (m == "GET") {
#ifdef LAB_BREAK_DROP_ISBN
            BookRow shown = it->second;  // broken on purpose: the ISBN is not read back
            shown.isbn = std::nullopt;
            return res.set_content(book_json(shown), "application/json");
#endif
            return res.set_content(book_json(it->second), "application/json");
        }
        if (m == "DELETE") {
#ifndef LAB_BREAK_DELETE_KEEPS
            books.erase(it);
#endif
            res.status = 204;
            return;
        }
        Json body;
        if (!object_body(req, res, {"title", "author_id", "year", "isbn"}, body)) return;
        BookRow b = it->second;
        if (!book_fields(body, res, b)) return;
        b.updated_at = now_utc();
#ifdef LAB_BREAK_PUT_IGNORED
        return res.set_content(book_json(it->second), "application/json");  // broken on purpose: nothing replaced
#endif
        it->second = b;
        return res.set_content(book_json(b), "application/json");
    }
    if (id_path(req.path, "/books/", "/reviews", id)) {
        if (m != "GET" && m != "POST") return not_allowed(res, "GET, POST");
        if (!books.count(id)) return problem(res, 404, "Not Found", "no book " + std::to_string(id));
        if (m == "GET") {
            std::string list;
            for (auto& r : reviews)
                if (r.book_id == id) list += (list.empty() ? "" : ",") + review_json(r);
            return res.set_content("[" + list + "]", "application/json");
        }
        Json body;
        if (!object_body(req, res, {"rating", "text"}, body)) return;
        auto rating = body.fields.find("rating");
        auto text = body.fields.find("text");
        if (rating == body.fields.end() || rating->second.kind != Json::Number || !rating->second.integral ||
            rating->second.integer < 1 || rating->second.integer > 5 || text == body.fields.end() || text->second.kind != Json::String)
            return problem(res, 422, "Unprocessable Content", "the review is not valid", {{"rating", "1 to 5, with a text"}});
        Review r{next_id++, id, static_cast<int>(rating->second.integer), text->second.text, now_utc()};
        reviews.push_back(r);
        res.status = 201;
        res.set_header("Location", "/books/" + std::to_string(id) + "/reviews/" + std::to_string(r.id));
        return res.set_content(review_json(r), "application/json");
    }
    problem(res, 404, "Not Found", "no such path: " + req.path);
}

int main() {
    const char* port_text = std::getenv("PORT");
    int port = port_text ? std::atoi(port_text) : 8080;
    // SIGTERM and SIGINT are taken by a thread of their own (sigwait), which stops the server.
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stops, nullptr);
    httplib::Server server;
    std::atomic<long> request_ids{0};
    // Every method on every path goes to route(), which knows which paths take which methods
    // (405 with Allow) and which do not exist (404).
    auto handle = [&](const httplib::Request& req, httplib::Response& res) {
        std::string id = req.get_header_value("X-Request-Id");
        bool usable = !id.empty() && id.size() <= 128 &&
                      std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
        res.set_header("X-Request-Id", usable ? id : "cpp-" + std::to_string(++request_ids));
        route(req, res);
    };
    server.Get(".*", handle);
    server.Post(".*", handle);
    server.Put(".*", handle);
    server.Delete(".*", handle);
    server.Patch(".*", handle);
    server.Options(".*", handle);
    std::thread stopper([&] {
        int sig = 0;
        sigwait(&stops, &sig);
        server.stop();
    });
    stopper.detach();
    if (!server.bind_to_port("127.0.0.1", port)) {
        std::fprintf(stderr, "cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    std::printf("listening on 127.0.0.1:%d\n", port);
    std::fflush(stdout);
    server.listen_after_bind();
    return 0;
}
