"""A small bookshelf on PostgreSQL (docs/bookshelf.md, the parts n-plus-one uses): a
stand-in for a learner's server, independent of the lab's own code.

    PORT=8080 DATABASE_URL=postgresql://app@127.0.0.1:5432/bookshelf python3 bookshelf_pg.py

GET /health, POST /authors, POST /books, GET /books?limit=&offset=&embed=author. With
embed=author the page and its authors come from one LEFT JOIN, plus one count(*) for the
total. BOOKSHELF_VIOLATION breaks it on purpose, each for exactly the checks named:
  n-plus-one      each book's author loaded by a query of its own, the classic N+1
                  (the statement count grows, and is more than 3)
  extra-queries   three more statements per listing, always (constant, but more than 3)
  wrong-author    the join on the wrong column: every book embeds the author whose id is
                  the book's own (the embedded authors are wrong)
Needs psycopg2 (Debian: python3-psycopg2).
"""
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import psycopg2

VIOLATION = os.environ.get("BOOKSHELF_VIOLATION", "")
DB = psycopg2.connect(os.environ["DATABASE_URL"])
DB.autocommit = True
LOCK = threading.Lock()

with DB.cursor() as c:
    c.execute("CREATE TABLE IF NOT EXISTS authors (id serial PRIMARY KEY, name text NOT NULL)")
    c.execute("CREATE TABLE IF NOT EXISTS books (id serial PRIMARY KEY, title text NOT NULL,"
              " author_id int NOT NULL REFERENCES authors, year int NOT NULL)")


def query(sql, args=()):
    with DB.cursor() as c:
        c.execute(sql, args)
        return c.fetchall() if c.description else []


def listing(limit, offset, embed):
    total = query("SELECT count(*) FROM books")[0][0]
    if VIOLATION == "extra-queries":
        for _ in range(3):
            query("SELECT 1")
    if embed and VIOLATION != "n-plus-one":
        rows = query("SELECT b.id, b.title, b.author_id, b.year, a.name FROM books b"
                     " LEFT JOIN authors a ON a.id = " + ("b.id" if VIOLATION == "wrong-author" else "b.author_id")
                     + " ORDER BY b.id LIMIT %s OFFSET %s", (limit, offset))
    else:
        rows = [r + (None,) for r in query("SELECT id, title, author_id, year FROM books ORDER BY id LIMIT %s OFFSET %s",
                                           (limit, offset))]
        if embed:
            rows = [r[:4] + (query("SELECT name FROM authors WHERE id = %s", (r[2],))[0][0],) for r in rows]
    items = []
    for book_id, title, author_id, year, name in rows:
        item = {"id": book_id, "title": title, "author_id": author_id, "year": year, "isbn": None}
        if embed:
            item["author"] = {"id": book_id if VIOLATION == "wrong-author" else author_id, "name": name}
        items.append(item)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/health":
            return self.answer(200, {"status": "ok"})
        if url.path == "/books":
            q = parse_qs(url.query)
            limit, offset = int(q.get("limit", ["20"])[0]), int(q.get("offset", ["0"])[0])
            if not (1 <= limit <= 100) or offset < 0:
                return self.answer(400, {"type": "about:blank", "title": "Bad request", "status": 400, "detail": "limit"})
            with LOCK:
                return self.answer(200, listing(limit, offset, q.get("embed", [""])[0] == "author"))
        self.answer(404, {"type": "about:blank", "title": "Not found", "status": 404, "detail": url.path})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with LOCK:
            if self.path == "/authors":
                (author_id,), = query("INSERT INTO authors (name) VALUES (%s) RETURNING id", (body["name"],))
                return self.answer(201, {"id": author_id, "name": body["name"]}, {"Location": "/authors/%d" % author_id})
            if self.path == "/books":
                (book_id,), = query("INSERT INTO books (title, author_id, year) VALUES (%s, %s, %s) RETURNING id",
                                    (body["title"], body["author_id"], body["year"]))
                return self.answer(201, dict(body, id=book_id), {"Location": "/books/%d" % book_id})
        self.answer(404, {"type": "about:blank", "title": "Not found", "status": 404, "detail": self.path})


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
