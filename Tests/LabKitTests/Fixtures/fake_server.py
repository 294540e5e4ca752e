"""Fake learner servers for SubjectRunnerTests: each mode misbehaves in one way.

    fake_server.py good                   serves GET /health on 127.0.0.1:$PORT
    fake_server.py never-listens          says it is starting, then never binds
    fake_server.py other-port PORT        serves on 127.0.0.1:PORT, ignoring $PORT
    fake_server.py die-after N            answers N requests, then exits with status 3
    fake_server.py ignore-term            serves, and ignores SIGTERM
    fake_server.py garbage PORT           a TCP server that answers every connection with bytes that are not HTTP
    fake_server.py silent PORT            a TCP server that accepts and never answers
"""
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

mode = sys.argv[1]
served = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global served
        served += 1
        if mode == "die-after" and served > int(sys.argv[2]):
            print(f"fatal: request {served} is one too many", flush=True)
            os._exit(3)
        body = b'{"status":"ok"}' if self.path.endswith("/health") else b'{"title":"Not Found"}'
        self.send_response(200 if self.path.endswith("/health") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request: " + fmt % args, flush=True)


def serve_http(port):
    server = HTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


def serve_raw(port, answer):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    held = []
    while True:
        conn, _ = listener.accept()
        if answer is None:
            held.append(conn)  # kept open, never answered
        else:
            # Read the request first: closing with unread bytes sends a reset, which may
            # discard the answer before the client reads it.
            # A client that hung up at once (a readiness probe) must not end the server.
            conn.settimeout(2)
            try:
                conn.recv(65536)
                conn.sendall(answer)
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            conn.close()


if mode == "good" or mode == "die-after":
    serve_http(int(os.environ["PORT"]))
elif mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("SIGTERM? never heard of it", flush=True)
    serve_http(int(os.environ["PORT"]))
elif mode == "never-listens":
    print("starting up slowly...", flush=True)
    time.sleep(600)
elif mode == "other-port":
    serve_http(int(sys.argv[2]))
elif mode == "garbage":
    serve_raw(int(sys.argv[2]), b"\x00\x01SSH-2.0-nope\r\n")
elif mode == "silent":
    serve_raw(int(sys.argv[2]), None)
else:
    sys.exit(f"unknown mode {mode}")
