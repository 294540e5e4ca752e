"""The bookshelf API with phase 3 (docs/bookshelf.md "Phase 3"), Python standard library
only: the phase-1 fixture of Tests/HTTPLabsTests/Fixtures/bookshelf.py plus users, login
with HS256 JWTs (hmac, hashlib), /me, refresh tokens, roles and the login rate limit. A
second, independent implementation the jwt-auth and rbac labs must pass with --url.

    PORT=8080 python3 bookshelf_auth.py

AUTH_VIOLATION=alg-none breaks it on purpose: a token whose header says alg "none" is
accepted without a signature (the test expects exactly jwt-auth's alg: none check to fail).
"""
import base64
import hashlib
import hmac
import importlib.util
import json
import os
import re
import secrets
import threading
import time
from http.server import ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
PHASE1 = os.path.join(HERE, "..", "..", "HTTPLabsTests", "Fixtures", "bookshelf.py")
spec = importlib.util.spec_from_file_location("bookshelf", PHASE1)
bookshelf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bookshelf)
Problem = bookshelf.Problem

VIOLATION = os.environ.get("AUTH_VIOLATION", "")
SECRET = secrets.token_bytes(32)
ACCESS_TTL = int(os.environ.get("ACCESS_TTL", "900"))
REFRESH_TTL = int(os.environ.get("REFRESH_TTL", "86400"))
LOGIN_LIMIT = int(os.environ.get("LOGIN_LIMIT", "5"))
LOCK = threading.Lock()
USERS = {}  # id -> {id, email, salt, hash, role, created_at}
REFRESH = {}  # sha256(token) -> {user, family, spent}
REVOKED = set()
ATTEMPTS = []  # login attempt times (every client is 127.0.0.1)
RANK = {"reader": 0, "editor": 1, "admin": 2}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(user):
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"sub": str(user["id"]), "role": user["role"], "iat": now,
                              "exp": now + ACCESS_TTL, "nbf": now}).encode())
    signature = hmac.new(SECRET, (header + "." + payload).encode(), hashlib.sha256).digest()
    return header + "." + payload + "." + b64(signature)


def unauthorized(detail):
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def verify(authorization):
    if not authorization or not authorization.lower().startswith("bearer "):
        raise unauthorized("no bearer token")
    token = authorization[7:].strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise unauthorized("not a JWT")
    try:
        header, claims = json.loads(unb64(parts[0])), json.loads(unb64(parts[1]))
    except ValueError:
        raise unauthorized("not a JWT")
    if VIOLATION == "alg-none" and str(header.get("alg", "")).lower() == "none":
        pass  # the violation: trusting the header's alg
    else:
        if header.get("alg") != "HS256":
            raise unauthorized("wrong algorithm")
        expected = hmac.new(SECRET, (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
        try:
            given = unb64(parts[2])
        except ValueError:
            raise unauthorized("bad signature")
        if not hmac.compare_digest(expected, given):
            raise unauthorized("bad signature")
    now = time.time()
    if not isinstance(claims.get("exp"), (int, float)) or now >= claims["exp"]:
        raise unauthorized("expired")
    if isinstance(claims.get("nbf"), (int, float)) and now < claims["nbf"]:
        raise unauthorized("not yet valid")
    return claims


def password_hash(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 1000)


def body_of(raw):
    try:
        value = json.loads(raw.decode() if raw else "")
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "Malformed request", "The body is not valid JSON.")
    if not isinstance(value, dict):
        raise Problem(400, "Malformed request", "The body must be a JSON object.")
    return value


def public(user):
    return {k: user[k] for k in ("id", "email", "role", "created_at")}


def pair(user, family):
    token = secrets.token_urlsafe(32)
    REFRESH[hashlib.sha256(token.encode()).hexdigest()] = {"user": user["id"], "family": family, "spent": False,
                                                           "expires": time.time() + REFRESH_TTL}
    return {"access_token": sign(user), "refresh_token": token, "token_type": "Bearer", "expires_in": ACCESS_TTL}


class Handler(bookshelf.Handler):
    def route(self, path, ident, query, raw):
        method = self.command
        if path == "/users" and method == "POST":
            body = body_of(raw)
            email, password = body.get("email"), body.get("password")
            if not isinstance(email, str) or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
                raise Problem(422, "Invalid fields", "bad email", [{"field": "email", "message": "is not an email"}])
            if not isinstance(password, str) or len(password) < 12:
                raise Problem(422, "Invalid fields", "weak password", [{"field": "password", "message": "at least 12 characters"}])
            if any(u["email"].lower() == email.lower() for u in USERS.values()):
                raise Problem(409, "Conflict", "That email is taken.")
            salt = secrets.token_bytes(16)
            user = {"id": len(USERS) + 1, "email": email, "salt": salt, "hash": password_hash(password, salt),
                    "role": "admin" if not USERS else "reader", "created_at": bookshelf.now()}
            USERS[user["id"]] = user
            return 201, public(user), {"Location": "/users/%d" % user["id"]}
        if path == "/auth/login" and method == "POST":
            now = time.time()
            ATTEMPTS[:] = [t for t in ATTEMPTS if now - t < 60]
            if len(ATTEMPTS) >= LOGIN_LIMIT:
                raise Problem(429, "Too many requests", "slow down",
                              headers={"Retry-After": str(max(1, int(ATTEMPTS[0] + 60 - now + 0.999)))})
            ATTEMPTS.append(now)
            body = body_of(raw)
            user = next((u for u in USERS.values() if u["email"].lower() == str(body.get("email", "")).lower()), None)
            if user is None or not hmac.compare_digest(password_hash(str(body.get("password", "")), user["salt"]), user["hash"]):
                raise unauthorized("email or password is wrong")
            return 200, pair(user, secrets.token_hex(8)), {}
        if path == "/auth/refresh" and method == "POST":
            key = hashlib.sha256(str(body_of(raw).get("refresh_token", "")).encode()).hexdigest()
            record = REFRESH.get(key)
            if record is None or record["family"] in REVOKED:
                raise unauthorized("unknown refresh token")
            if record["spent"]:
                REVOKED.add(record["family"])
                raise unauthorized("reused refresh token")
            if time.time() >= record["expires"]:
                raise unauthorized("expired refresh token")
            record["spent"] = True
            return 200, pair(USERS[record["user"]], record["family"]), {}
        if path == "/me":
            claims = verify(self.headers.get("Authorization"))
            user = USERS.get(int(claims.get("sub", "0")))
            if user is None:
                raise unauthorized("no such user")
            return 200, public(user), {}
        match = re.match(r"^/users/(\d+)/role$", path)
        if match and method == "PUT":
            claims = verify(self.headers.get("Authorization"))
            if claims.get("role") != "admin":
                raise Problem(403, "Forbidden", "Only an admin may change roles.")
            role = body_of(raw).get("role")
            if role not in RANK:
                raise Problem(422, "Invalid fields", "bad role", [{"field": "role", "message": "reader, editor or admin"}])
            user = USERS.get(int(match.group(1)))
            if user is None:
                raise Problem(404, "Not found", "There is no such user.")
            user["role"] = role
            return 200, public(user), {}
        # The phase-1 routes, guarded: writes need editor, DELETE admin.
        if re.match(r"^/(authors|books)(/[^/]+)?$", path) and method in ("POST", "PUT", "DELETE"):
            claims = verify(self.headers.get("Authorization"))
            need = "admin" if method == "DELETE" else "editor"
            if RANK.get(claims.get("role"), 0) < RANK[need]:
                raise Problem(403, "Forbidden", "This needs the role %s." % need)
        return super().route(path, ident, query, raw)


bookshelf.ROUTES[:0] = [
    (r"^/users$", ["POST"]),
    (r"^/auth/login$", ["POST"]),
    (r"^/auth/refresh$", ["POST"]),
    (r"^/me$", ["GET"]),
    (r"^/users/(?P<id>\d+)/role$", ["PUT"]),
]

if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
