"""The bookshelf API, phase 1 (docs/bookshelf.md), in memory, Python standard library
only: a second, independent implementation that the rest-api lab must pass with --url.

    PORT=8080 python3 bookshelf.py

BOOKSHELF_VIOLATION=skip-location breaks the contract on purpose: 201 answers carry no
Location header (the lab's test expects exactly the check about it to fail).

Phase 7 (http-tuning): GET /books is gzip-encoded when the request accepts gzip, and
connections stay open (HTTP/1.1). BOOKSHELF_VIOLATION=no-gzip ignores Accept-Encoding;
BOOKSHELF_VIOLATION=close-connections answers every request with Connection: close.

OPENAPI_FILE=path serves that file at GET /openapi.json (openapi-docs: the openapi.json
`lab init` writes); without it, /openapi.json is 404.
"""
import gzip
import datetime
import json
import os
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VIOLATION = os.environ.get("BOOKSHELF_VIOLATION", "")
LOCK = threading.Lock()
AUTHORS, BOOKS, REVIEWS = {}, {}, {}
NEXT = {"author": 1, "book": 1, "review": 1}
ROUTES = [  # (pattern, methods)
    (r"^/health$", ["GET"]),
    (r"^/openapi\.json$", ["GET"]),
    (r"^/authors$", ["POST"]),
    (r"^/authors/(?P<id>[^/]+)$", ["GET"]),
    (r"^/books$", ["GET", "POST"]),
    (r"^/books/(?P<id>[^/]+)$", ["GET", "PUT", "DELETE"]),
    (r"^/books/(?P<id>[^/]+)/reviews$", ["GET", "POST"]),
]


class Problem(Exception):
    def __init__(self, status, title, detail, errors=None, headers=None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors, self.headers = status, title, detail, errors, headers or {}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def isbn_ok(text):
    digits = text.replace("-", "")
    if len(digits) != 13 or not digits.isdigit():
        return False
    return sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10 == 0


def read_object(raw, fields):
    """fields: name -> (type, required). Unknown fields and wrong types are 422."""
    try:
        body = json.loads(raw.decode("utf-8") if raw else "")
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "Malformed request", "The body is not valid JSON.")
    if not isinstance(body, dict):
        raise Problem(400, "Malformed request", "The body must be a JSON object.")
    errors = []
    for name in sorted(body):
        if name not in fields:
            errors.append({"field": name, "message": "is not a field of this request"})
    for name, (kind, required) in fields.items():
        if name not in body or (body[name] is None and not required):
            if required:
                errors.append({"field": name, "message": "is required"})
            continue
        value = body[name]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            errors.append({"field": name, "message": "must be a whole number"})
        elif kind is str and not isinstance(value, str):
            errors.append({"field": name, "message": "must be a string"})
    if errors:
        raise Problem(422, "Invalid fields", "Some fields are invalid.", errors)
    return body


def book_input(raw):
    body = read_object(raw, {"title": (str, True), "author_id": (int, True), "year": (int, True), "isbn": (str, False)})
    errors = []
    if not body["title"].strip():
        errors.append({"field": "title", "message": "must not be empty"})
    latest = datetime.datetime.now(datetime.timezone.utc).year + 1
    if not 1450 <= body["year"] <= latest:
        errors.append({"field": "year", "message": "must be from 1450 to %d" % latest})
    if body.get("isbn") is not None and not isbn_ok(body["isbn"]):
        errors.append({"field": "isbn", "message": "bad ISBN-13"})
    if body["author_id"] not in AUTHORS:
        errors.append({"field": "author_id", "message": "unknown author"})
    if errors:
        raise Problem(422, "Invalid fields", "Some fields are invalid.", errors)
    return {"title": body["title"].strip(), "author_id": body["author_id"], "year": body["year"], "isbn": body.get("isbn")}


def number(query, name, default):
    values = query.get(name)
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        raise Problem(400, "Malformed request", "%s must be a whole number" % name)


def lookup(table, text, kind):
    try:
        key = int(text)
    except ValueError:
        key = None
    if key not in table:
        raise Problem(404, "Not found", "There is no %s %s." % (kind, text))
    return table[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=None, headers=None, content_type="application/json; charset=utf-8"):
        data = b"" if body is None else json.dumps(body).encode()
        headers = dict(headers or {})
        accepts = [e.strip().split(";")[0] for e in self.headers.get("Accept-Encoding", "").split(",")]
        if (self.command == "GET" and urlsplit(self.path).path == "/books" and "gzip" in accepts
                and VIOLATION != "no-gzip"):
            data = gzip.compress(data)
            headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        if VIOLATION == "close-connections":
            headers["Connection"] = "close"
            self.close_connection = True
        self.send_response(status)
        sent = self.headers.get("X-Request-Id")
        ok = sent and len(sent) <= 128 and all(32 <= ord(c) <= 126 for c in sent)
        self.send_header("X-Request-Id", sent if ok else str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            for pattern, methods in ROUTES:
                match = re.match(pattern, url.path)
                if not match:
                    continue
                if self.command not in methods:
                    raise Problem(405, "Method not allowed", "Use " + ", ".join(methods),
                                  headers={"Allow": ", ".join(methods)})
                with LOCK:
                    status, body, headers = self.route(url.path, match.groupdict().get("id"), parse_qs(url.query), raw)
                return self.answer(status, body, headers)
            raise Problem(404, "Not found", "There is nothing at this path.")
        except Problem as p:
            body = {"type": "about:blank", "title": p.title, "status": p.status, "detail": p.detail}
            if p.errors:
                body["errors"] = p.errors
            self.answer(p.status, body, p.headers, "application/problem+json")

    def created(self, body, location):
        return 201, body, ({} if VIOLATION == "skip-location" else {"Location": location})

    def route(self, path, ident, query, raw):
        method = self.command
        if path == "/health":
            return 200, {"status": "ok"}, {}
        if path == "/openapi.json":
            if not os.environ.get("OPENAPI_FILE"):
                raise Problem(404, "Not found", "There is nothing at this path.")
            with open(os.environ["OPENAPI_FILE"]) as f:
                return 200, json.load(f), {}
        if path == "/authors":
            body = read_object(raw, {"name": (str, True)})
            if not body["name"].strip():
                raise Problem(422, "Invalid fields", "name is empty", [{"field": "name", "message": "must not be empty"}])
            author = {"id": NEXT["author"], "name": body["name"].strip(), "created_at": now()}
            NEXT["author"] += 1
            AUTHORS[author["id"]] = author
            return self.created(author, "/authors/%d" % author["id"])
        if path.startswith("/authors/"):
            return 200, lookup(AUTHORS, ident, "author"), {}
        if path == "/books" and method == "POST":
            book = book_input(raw)
            stamp = now()
            book.update(id=NEXT["book"], created_at=stamp, updated_at=stamp)
            NEXT["book"] += 1
            BOOKS[book["id"]] = book
            return self.created(book, "/books/%d" % book["id"])
        if path == "/books":
            limit, offset = number(query, "limit", 20), number(query, "offset", 0)
            if not 1 <= limit <= 100 or offset < 0:
                raise Problem(400, "Malformed request", "limit must be 1 to 100 and offset 0 or more")
            author = number(query, "author_id", None)
            q = (query.get("q") or [""])[0].lower()
            items = [b for _, b in sorted(BOOKS.items())
                     if (author is None or b["author_id"] == author) and q in b["title"].lower()]
            return 200, {"items": items[offset:offset + limit], "total": len(items), "limit": limit, "offset": offset}, {}
        if path.endswith("/reviews"):
            book = lookup(BOOKS, ident, "book")
            if method == "GET":
                return 200, [r for _, r in sorted(REVIEWS.items()) if r["book_id"] == book["id"]], {}
            body = read_object(raw, {"rating": (int, True), "text": (str, True)})
            if not 1 <= body["rating"] <= 5:
                raise Problem(422, "Invalid fields", "rating", [{"field": "rating", "message": "must be from 1 to 5"}])
            review = {"id": NEXT["review"], "book_id": book["id"], "rating": body["rating"], "text": body["text"], "created_at": now()}
            NEXT["review"] += 1
            REVIEWS[review["id"]] = review
            return 201, review, {}
        book = lookup(BOOKS, ident, "book")
        if method == "GET":
            return 200, book, {}
        if method == "PUT":
            book.update(book_input(raw), updated_at=now())
            return 200, book, {}
        del BOOKS[book["id"]]
        for key in [k for k, r in REVIEWS.items() if r["book_id"] == book["id"]]:
            del REVIEWS[key]
        return 204, None, {}

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
