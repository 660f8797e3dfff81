"""A small user-lookup app with switchable defects, to prove each verifier check can fail.

`python tests/toyapp.py PORT MODE` with DATABASE_URL set; stdlib HTTP server and psycopg,
so it needs nothing beyond the runner's own environment. MODE is `correct` or a defect.
"""

import json
import os
import random
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

import psycopg

MODES = ("correct", "wrong-field", "extra-lookup", "extra-statement", "error-on-malformed", "text-content-type",
         "found-for-missing", "page-off-by-one", "page-error-on-bad-limit", "username-wrong-user",
         "edit-writes-before-checking", "edit-extra-lookup", "edit-forgets-to-write", "feed-wrong-author",
         "feed-lazy-authors", "queries-batched", "user-posts-oldest-first")
LOOKUP = "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE id = %s"
BY_USERNAME = "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE username = %s"
PAGE = "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE id > %s ORDER BY id LIMIT %s"
PAGE_OFF_BY_ONE = ("SELECT id, username, email, full_name, bio, is_active, created_at FROM users "
                   "WHERE id >= %s ORDER BY id LIMIT %s")
EDIT = "UPDATE users SET bio = %s WHERE id = %s RETURNING id, username, email, full_name, bio, is_active, created_at"
FIELDS = ("id", "username", "email", "full_name", "bio", "is_active", "created_at")
USER_POSTS = ("SELECT id, title, created_at, likes, count(*) OVER () FROM posts WHERE user_id = %s "
              "ORDER BY created_at {order}, id {order} LIMIT 10")
FEED = ("SELECT p.id, p.title, p.created_at, p.likes, u.id, u.username, u.full_name FROM posts AS p "
        "JOIN users AS u ON u.id = p.user_id WHERE p.id < %s ORDER BY p.id DESC LIMIT %s")
FEED_POSTS = "SELECT id, title, created_at, likes, user_id FROM posts WHERE id < %s ORDER BY id DESC LIMIT %s"
AUTHOR = "SELECT id, username, full_name FROM users WHERE id = %s"
BATCH = "SELECT id, username, email, full_name, bio, is_active, created_at FROM users WHERE id = ANY(%s)"


def parse_page(query: str, key: str = "after", default: str = "0") -> tuple[int, int]:
    """The contract's rules, written plainly; ValueError for anything it refuses."""
    values: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in values:
            raise ValueError(name)
        values[name] = value
    after, limit = values.get(key, default), values.get("limit", "20")
    if not (re.fullmatch(r"[0-9]{1,10}", after) and re.fullmatch(r"[0-9]{1,10}", limit)):
        raise ValueError("digits")
    if int(after) >= 2**31 or not 1 <= int(limit) <= 100:
        raise ValueError("range")
    return int(after), int(limit)


def parse_bio(content_type: str | None, body: bytes) -> str | None:
    if (content_type or "").split(";")[0].strip() != "application/json" or len(body) > 16384:
        return None
    try:
        document = json.loads(body.decode())
        bio = document["bio"] if isinstance(document, dict) and set(document) == {"bio"} else None
        if isinstance(bio, str) and 1 <= len(bio) <= 1000 and "\x00" not in bio:
            bio.encode()
            return bio
    except (ValueError, UnicodeError, RecursionError):
        pass
    return None


def make_handler(conn: psycopg.Connection, mode: str, users: int):
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

        def as_user(self, row) -> dict:
            user = dict(zip(FIELDS, row, strict=True))
            user["created_at"] = user["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
            return user

        def page(self, query: str):
            try:
                after, limit = parse_page(query)
            except ValueError:
                return self.reply(500 if mode == "page-error-on-bad-limit" else 400, {"detail": "bad page"})
            with lock:
                rows = conn.execute(PAGE_OFF_BY_ONE if mode == "page-off-by-one" else PAGE, (after, limit)).fetchall()
            users = [self.as_user(row) for row in rows]
            self.reply(200, {"users": users, "next_after": users[-1]["id"] if len(users) == limit else None})

        def as_post(self, row) -> dict:
            return {"id": row[0], "title": row[1], "created_at": row[2].strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "likes": row[3]}

        def user_posts(self, user_id: int):
            order = "ASC" if mode == "user-posts-oldest-first" else "DESC"
            with lock:
                user = conn.execute(LOOKUP, (user_id,)).fetchone()
                posts = conn.execute(USER_POSTS.format(order=order), (user_id,)).fetchall() if user else []
            if user is None:
                return self.reply(404, {"detail": "user not found"})
            self.reply(200, {"user": self.as_user(user), "post_count": posts[0][4] if posts else 0,
                             "posts": [self.as_post(row) for row in posts]})

        def feed(self, query: str):
            try:
                before, limit = parse_page(query, "before", str(2**31 - 1))
            except ValueError:
                return self.reply(400, {"detail": "bad feed"})
            with lock:
                if mode == "feed-lazy-authors":
                    rows = [(*post[:4], *conn.execute(AUTHOR, (post[4],)).fetchone())
                            for post in conn.execute(FEED_POSTS, (before, limit)).fetchall()]
                else:
                    rows = conn.execute(FEED, (before, limit)).fetchall()
            posts = []
            for row in rows:
                author_id = row[4] % 50 + 1 if mode == "feed-wrong-author" else row[4]
                posts.append({**self.as_post(row), "author": {"id": author_id, "username": row[5],
                                                              "full_name": row[6]}})
            self.reply(200, {"posts": posts, "next_before": posts[-1]["id"] if len(posts) == limit else None})

        def queries(self, query: str):
            given = next((value for name, value in parse_qsl(query, keep_blank_values=True) if name == "n"), "")
            n = max(1, min(500, int(given))) if re.fullmatch(r"[0-9]{1,6}", given) else \
                (500 if re.fullmatch(r"[0-9]+", given) else 1)
            ids = [random.randint(1, users) for _ in range(n)]
            with lock:
                if mode == "queries-batched":
                    found = {row[0]: row for row in conn.execute(BATCH, (ids,)).fetchall()}
                    rows = [found[i] for i in ids]
                else:
                    rows = [conn.execute(LOOKUP, (i,)).fetchone() for i in ids]
            data = json.dumps([self.as_user(row) for row in rows]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def by_username(self, name: str):
            with lock:
                row = conn.execute(BY_USERNAME, (name,)).fetchone() if "\x00" not in name else None
                if row is not None and mode == "username-wrong-user":
                    row = conn.execute(LOOKUP, (row[0] % 50 + 1,)).fetchone()
            if row is None:
                return self.reply(404, {"detail": "user not found"})
            self.reply(200, self.as_user(row))

        def do_PATCH(self):  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            match = re.fullmatch(r"/users/(-?[0-9]+)", self.path)
            if not match:
                return self.reply(400, {"detail": "bad id"})
            user_id = int(match.group(1))
            if not -(2**31) <= user_id < 2**31:
                return self.reply(404, {"detail": "user not found"})
            bio = parse_bio(self.headers.get("Content-Type"), body)
            with lock:
                if mode == "edit-writes-before-checking":
                    conn.execute("UPDATE users SET bio = bio || '!' WHERE id = %s", (user_id,))
                if bio is None:
                    return self.reply(422, {"detail": "bad body"})
                if mode == "edit-extra-lookup":
                    conn.execute(LOOKUP, (user_id,))
                if mode == "edit-forgets-to-write":
                    row = conn.execute(LOOKUP, (user_id,)).fetchone()
                    row = None if row is None else (*row[:4], bio, *row[5:])
                else:
                    row = conn.execute(EDIT, (bio, user_id)).fetchone()
            if row is None:
                return self.reply(404, {"detail": "user not found"})
            self.reply(200, self.as_user(row))

        def do_GET(self):  # noqa: N802 - the stdlib's name
            path, _, query = self.path.partition("?")
            if path == "/users":
                return self.page(query)
            if path == "/posts":
                return self.feed(query)
            if path == "/queries":
                return self.queries(query)
            posts_of = re.fullmatch(r"/users/(-?[0-9]+)/posts", path)
            if posts_of:
                user_id = int(posts_of.group(1))
                if not -(2**31) <= user_id < 2**31:
                    return self.reply(404, {"detail": "user not found"})
                return self.user_posts(user_id)
            if path.startswith("/users/by-username/"):
                try:
                    name = unquote(path.removeprefix("/users/by-username/"), errors="strict")
                except UnicodeDecodeError:
                    return self.reply(404, {"detail": "user not found"})
                return self.by_username(name)
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
            user = self.as_user(row)
            if mode == "wrong-field":
                user["email"] = user["email"].upper()
            self.reply(200, user, "text/html" if mode == "text-content-type" else "application/json")

    return Handler


def main() -> None:
    port, mode = int(sys.argv[1]), sys.argv[2]
    assert mode in MODES, mode
    conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    conn.execute("SET TIME ZONE 'UTC'")
    users = conn.execute("SELECT max(id) FROM users").fetchone()[0]
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(conn, mode, users))
    server.serve_forever()


if __name__ == "__main__":
    main()
