"""A small user-lookup app with switchable defects, to prove each verifier check can fail.

`python tests/toyapp.py PORT MODE` with DATABASE_URL set; stdlib HTTP server and psycopg,
so it needs nothing beyond the runner's own environment. MODE is `correct` or a defect.
"""

import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

MODES = ("correct", "wrong-field", "extra-lookup", "extra-statement", "error-on-malformed", "text-content-type",
         "found-for-missing")
LOOKUP = "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE id = %s"
FIELDS = ("id", "username", "email", "full_name", "bio", "is_active", "created_at")


def make_handler(conn: psycopg.Connection, mode: str):
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *_args):
            pass

        def reply(self, status: int, body: dict, content_type: str = "application/json") -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - the stdlib's name
            match = re.fullmatch(r"/users/(-?[0-9]+)", self.path)
            if not match:
                if mode == "error-on-malformed":
                    return self.reply(500, {"detail": "boom"})
                return self.reply(400 if self.path.startswith("/users/") else 404, {"detail": "bad id"})
            user_id = int(match.group(1))
            if not -(2**31) <= user_id < 2**31:
                return self.reply(404, {"detail": "user not found"})
            with lock:
                row = conn.execute(LOOKUP, (user_id,)).fetchone()
                if mode == "extra-lookup":
                    conn.execute("SELECT count(*) FROM users WHERE id = %s", (user_id,))
                if mode == "extra-statement":
                    conn.execute("SELECT now()")
            if row is None:
                if mode == "found-for-missing":
                    return self.reply(200, {"detail": "nothing"})
                return self.reply(404, {"detail": "user not found"})
            user = dict(zip(FIELDS, row, strict=True))
            user["created_at"] = user["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
            if mode == "wrong-field":
                user["email"] = user["email"].upper()
            self.reply(200, user, "text/html" if mode == "text-content-type" else "application/json")

    return Handler


def main() -> None:
    port, mode = int(sys.argv[1]), sys.argv[2]
    assert mode in MODES, mode
    conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    conn.execute("SET TIME ZONE 'UTC'")
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(conn, mode))
    server.serve_forever()


if __name__ == "__main__":
    main()
