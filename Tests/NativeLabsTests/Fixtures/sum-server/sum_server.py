"""multi-client-server's task written from its `lab init` README alone, in Python (a thread
per connection): GET /sum?a=X&b=Y answers 200 with X+Y, connections stay open, requests may
be pipelined or split across packets, anything else is 400. Listens on 127.0.0.1:$PORT.

SUM_VIOLATION=garbage-ok answers anything with 200 "0" (the malformed-request check must
then fail, and only it).
"""
import os
import re
import signal
import socket
import sys
import threading

VIOLATION = os.environ.get("SUM_VIOLATION", "")
REQUEST_LINE = re.compile(rb"^GET /sum\?a=(-?\d+)&b=(-?\d+) HTTP/1\.[01]$")


def answer(head):
    line = head.split(b"\r\n", 1)[0]
    m = REQUEST_LINE.match(line)
    if m:
        status, body = 200, str(int(m.group(1)) + int(m.group(2))).encode()
    elif VIOLATION == "garbage-ok":
        status, body = 200, b"0"
    else:
        status, body = 400, b"bad request"
    reason = b"OK" if status == 200 else b"Bad Request"
    return b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (status, reason, len(body), body)


def serve(conn):
    buffer = b""
    with conn:
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            out = b""
            while b"\r\n\r\n" in buffer:
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                out += answer(head)
            if out:
                conn.sendall(out)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(os.environ.get("PORT", "8080"))))
    listener.listen(512)
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
