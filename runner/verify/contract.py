"""What the checks hold a cell to: the fields of a user and a post as the contract answers them,
the SQL that reads the truth from PostgreSQL, and how many requests each check samples."""

from __future__ import annotations

from psycopg import sql

ROUND_TRIP_SAMPLES = 15
FIELDS = ("id", "username", "email", "full_name", "bio", "is_active", "created_at")
COLUMNS = sql.SQL(", ").join(map(sql.Identifier, FIELDS))
ROWS_BY_ID = sql.SQL("SELECT {} FROM users WHERE id = ANY(%s)").format(COLUMNS)
ROWS_AFTER = sql.SQL("SELECT {} FROM users WHERE id > %s ORDER BY id LIMIT %s").format(COLUMNS)
PUT_BIO_BACK = "UPDATE users SET bio = %s WHERE id = %s"
POST_FIELDS = ("id", "title", "created_at", "likes")
AUTHOR_FIELDS = ("id", "username", "full_name")
LATEST_POSTS = 10
USER_POSTS = ("SELECT id, title, created_at, likes, count(*) OVER () FROM posts WHERE user_id = %s "
              "ORDER BY created_at DESC, id DESC")
FEED = ("SELECT p.id, p.title, p.created_at, p.likes, u.id, u.username, u.full_name FROM posts AS p "
        "JOIN users AS u ON u.id = p.user_id WHERE p.id < %s ORDER BY p.id DESC LIMIT %s")
QUERIES_N = 20  # the /queries statement check: this many lookups per request, exactly
PER_AUTHOR = "1 + authors"  # a lazy feed's promise: the page, then each distinct author on it
PAGE_AUTHORS = ("SELECT count(DISTINCT user_id) FROM (SELECT user_id FROM posts WHERE id < %s ORDER BY id DESC "
                "LIMIT 20) AS page")
VALUE_SAMPLE = 50
PAGE_SAMPLE = 20
EDIT_SAMPLE = 10
# Exact counts: N requests must send k x N statements of each kind, whatever N. 50 take half
# the time 100 did, which every run pays for every cell before it measures it.
STATEMENT_REQUESTS = 50
# Value checks and counted requests go 4 at a time: an answer and a count are per request
# whatever the order, and one request at a time spent most of a verification waiting.
CONCURRENCY = 4
INT4_MAX = 2**31 - 1
