"""The relationship endpoints, checked: GET /users/{id}/posts (the user and the latest posts)
and GET /posts?before=&limit= (a feed page with authors), value by value against PostgreSQL, and
the lookups each loading strategy promises (apps/cells.toml)."""

from __future__ import annotations

import httpx

from runner.verify.bad_inputs import (
    BAD_FEED_QUERIES,
    MALFORMED_IDS,
    MISSING_IDS,
)
from runner.verify.contract import (
    AUTHOR_FIELDS,
    FEED,
    INT4_MAX,
    LATEST_POSTS,
    PAGE_SAMPLE,
    POST_FIELDS,
    STATEMENT_REQUESTS,
    USER_POSTS,
    VALUE_SAMPLE,
)
from runner.verify.responses import (
    content_type_ok,
    expected_json,
    json_or_none,
    same_value,
    shorten,
)
from runner.verify.verdict import Verdict


class RelationChecks:
    """The Verifier's checks of the relationship endpoints: a user's latest posts, and a feed page
    with each post's author, against what PostgreSQL holds."""

    # ------------------------------------------------------------- GET /users/{id}/posts

    def check_user_posts(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        """Random users, and the edges: users without posts, the users with the most, the first
        and the last id."""
        ids = self.rng.sample(range(1, max_id + 1), min(VALUE_SAMPLE, max_id))
        ids += [row[0] for row in conn.execute(
            "(SELECT u.id FROM users AS u WHERE NOT EXISTS (SELECT 1 FROM posts WHERE user_id = u.id) LIMIT 3) "
            "UNION ALL (SELECT user_id FROM posts GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 3)")]
        ids += [1, max_id]
        rows = self.rows(conn, ids)
        failures: list[str] = []
        paths = [f"/users/{user_id}/posts" for user_id in ids]
        for user_id, path, response in zip(ids, paths, self.request_all(client, paths, failures), strict=True):
            if response is not None:
                self.user_posts_failures(conn, path, response, rows.get(user_id), failures)
        verdict.add("user-posts values", failures,
                    f"{len(ids)} users (random, none or the most posts, the first and last) with their post count "
                    f"and {LATEST_POSTS} latest posts match the database")
        failures = []
        for raw_id in (*MISSING_IDS, str(max_id + 1)):
            self.json_404(client, f"/users/{raw_id}/posts", failures)
        for raw_id in (raw for raw in MALFORMED_IDS if raw):
            self.refuses_malformed(self.request(client, f"/users/{raw_id}/posts", failures), raw_id,
                                   f"/users/{shorten(raw_id)}/posts", failures)
        self.still_answers(client, failures, "bad user-posts ids")
        verdict.add("user-posts bad input", failures, f"{len(MISSING_IDS) + 1} missing ids give a JSON 404, "
                                                      f"{len(MALFORMED_IDS) - 1} malformed ones a 4xx"
                                                      f"{self.own_status_text()}")
        self.check_statements(conn, client, verdict, "user-posts",
                              [f"/users/{self.rng.randint(1, max_id)}/posts" for _ in range(STATEMENT_REQUESTS)])

    def user_posts_failures(self, conn, path: str, response: httpx.Response, user: dict | None,
                            failures: list[str]) -> None:
        if response.status_code != 200 or not content_type_ok(response):
            failures.append(f"{path}: status {response.status_code}, {response.headers.get('content-type')!r}")
            return
        body = json_or_none(response)
        if set(body) != {"user", "post_count", "posts"} or not isinstance(body["posts"], list):
            failures.append(f"{path}: keys {sorted(body)}, expected ['post_count', 'posts', 'user']")
            return
        self.same_user(f"{path} user", body["user"], user, failures)
        posts = conn.execute(USER_POSTS, (user["id"] if user else 0,)).fetchall()
        count = posts[0][4] if posts else 0
        if not same_value(body["post_count"], count):
            failures.append(f"{path}: post_count is {body['post_count']!r}, the database has {count}")
        self.same_posts(path, body["posts"], [dict(zip(POST_FIELDS, row[:4], strict=True))
                                              for row in posts[:LATEST_POSTS]], failures)

    def same_posts(self, where: str, got: list, want: list[dict], failures: list[str]) -> None:
        """Posts in order, each with exactly its keys; a feed's with its author too."""
        if len(got) != len(want):
            failures.append(f"{where}: {len(got)} posts, the database has {len(want)}")
            return
        for number, (post, row) in enumerate(zip(got, want, strict=True)):
            keys = set(row)
            if not isinstance(post, dict) or set(post) != keys:
                failures.append(f"{where} post {number}: keys {sorted(post) if isinstance(post, dict) else post!r}, "
                                f"expected {sorted(keys)}")
                return
            expected = expected_json(row)
            for name in sorted(keys):
                if not same_value(post[name], expected[name]):
                    failures.append(f"{where} post {row['id']}: {name} is {shorten(repr(post[name]))}, database has "
                                    f"{shorten(repr(expected[name]))}")

    # ------------------------------------------------------------- GET /posts?before=&limit=

    def check_feed(self, conn, client: httpx.Client, verdict: Verdict, max_id: int) -> None:
        """Random pages, the last ones, limits 1 to 100, the default, and pages where one author
        has several posts (an N:1 whose authors repeat)."""
        newest = conn.execute("SELECT coalesce(max(id), 0) FROM posts").fetchone()[0]
        repeated = conn.execute(
            "SELECT p.id + 1 FROM posts AS p JOIN posts AS q ON q.id = p.id - 1 AND q.user_id = p.user_id "
            "ORDER BY p.id LIMIT 3").fetchall()
        cases = [(self.rng.randint(1, newest + 1), 20) for _ in range(PAGE_SAMPLE)]
        cases += [(1, 20), (2, 20), (21, 20), (newest + 1, 1), (newest + 1, 100), (self.rng.randint(1, newest), 100),
                  (None, None), *[(row[0], 20) for row in repeated]]
        failures: list[str] = []
        paths = [f"/posts?before={before}&limit={limit}" if before is not None else "/posts" for before, limit in cases]
        for (before, limit), path, response in zip(cases, paths, self.request_all(client, paths, failures),
                                                   strict=True):
            want = [{**dict(zip(POST_FIELDS, row[:4], strict=True)),
                     "author": dict(zip(AUTHOR_FIELDS, row[4:], strict=True))}
                    for row in conn.execute(FEED, (before or INT4_MAX, limit or 20))]
            if response is not None:
                self.feed_failures(path, response, want, limit or 20, failures)
        verdict.add("feed values", failures,
                    f"{len(cases)} feed pages (random, the last ones, limits 1 to 100, the default, repeated authors) "
                    "match the database post by post, authors and next_before included")
        self.check_bad_queries(client, verdict, "/posts", BAD_FEED_QUERIES, "feed")
        self.check_statements(conn, client, verdict, "feed",  # full pages: a loader may skip an empty one
                              [f"/posts?before={self.rng.randint(min(21, newest + 1), newest + 1)}&limit=20"
                               for _ in range(STATEMENT_REQUESTS)])

    def feed_failures(self, path: str, response: httpx.Response, want: list[dict], limit: int,
                      failures: list[str]) -> None:
        if response.status_code != 200 or not content_type_ok(response):
            failures.append(f"{path}: status {response.status_code}, {response.headers.get('content-type')!r}")
            return
        body = json_or_none(response)
        if set(body) != {"posts", "next_before"} or not isinstance(body["posts"], list):
            failures.append(f"{path}: keys {sorted(body)}, expected ['next_before', 'posts']")
            return
        flat = [{key: value for key, value in row.items() if key != "author"} for row in want]
        got = [post for post in body["posts"] if isinstance(post, dict)]
        self.same_posts(path, [{k: v for k, v in post.items() if k != "author"} for post in got], flat, failures)
        for post, row in zip(got, want, strict=False):
            if not same_value(post.get("author"), row["author"]):
                failures.append(f"{path} post {row['id']}: author is {shorten(repr(post.get('author')))}, database "
                                f"has {row['author']!r}")
        next_before = want[-1]["id"] if len(want) == limit else None
        if not same_value(body["next_before"], next_before):
            failures.append(f"{path}: next_before is {body['next_before']!r}, expected {next_before!r}")
