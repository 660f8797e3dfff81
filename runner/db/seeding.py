"""The seed: the schema and the seeded users and posts, made once per fingerprint (schema, seed
script and user count), checked by checksum, and put back after a scenario that writes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import psycopg
from psycopg import sql

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.db.database import connect, mask_url, scrub

DEFAULT_USERS = 100_000
MAX_USERS = 100_000_000
# 2: the seeded rows are also kept in dbbench_seed_users, to restore after writes; 3: posts.
SEED_FORMAT = 3
SEED_LOCK_KEY = 7_301_994


@dataclass(frozen=True)
class SeedInfo:
    users: int
    checksum: str  # the users table's: what a restore after writes is proved against
    fingerprint: str
    seeded: bool
    posts: int
    posts_checksum: str


def check_users(value) -> int:
    """--users: a whole number from 1 to MAX_USERS, or a one-line error."""
    try:
        users = int(str(value).replace("_", ""))
    except ValueError:
        raise DbbenchError(f"--users must be a whole number, not {value!r}") from None
    if not 1 <= users <= MAX_USERS:
        raise DbbenchError(f"--users must be between 1 and {MAX_USERS:,}, not {users}")
    return users


def seed_fingerprint(users: int) -> str:
    """What the seed depends on: a change here re-seeds, nothing else does."""
    digest = hashlib.sha256()
    digest.update(f"format={SEED_FORMAT};users={users};".encode())
    for name in SEED_TABLES:
        digest.update((paths.SCHEMA_DIR / f"{name}.sql").read_bytes())
        digest.update((paths.SEEDS_DIR / f"{name}.sql").read_bytes())
    digest.update((paths.SCHEMA_DIR / "keys.sql").read_bytes())
    return digest.hexdigest()[:16]


# Created and filled in this order (then schema/keys.sql), dropped in the other.
SEED_TABLES = ("users", "posts")
POSTS_CHECKSUM_SQL = """
SELECT count(*), md5(string_agg(md5(concat_ws('|', id, user_id, extract(epoch FROM created_at)::bigint, title,
                                              body, likes)), '' ORDER BY id))
FROM posts
"""
CHECKSUM_SQL = """
SELECT md5(string_agg(md5(concat_ws('|', id, username, email, full_name, bio, is_active,
                                    extract(epoch FROM created_at)::bigint)), '' ORDER BY id))
FROM users
"""


def current_seed(url: str) -> SeedInfo | None:
    """The finished seed recorded in the database, if any."""
    with connect(url) as conn:
        has_marker = conn.execute("SELECT to_regclass('public.dbbench_seed') IS NOT NULL").fetchone()[0]
        if not has_marker:
            return None
        # As a JSON object, so that a marker of an older format (without posts) reads too.
        row = conn.execute("SELECT to_jsonb(s) FROM dbbench_seed AS s").fetchone()
    if row is None:
        return None
    found = row[0]
    return SeedInfo(users=found["users"], checksum=found["checksum"], fingerprint=found["fingerprint"],
                    seeded=False, posts=found.get("posts", 0), posts_checksum=found.get("posts_checksum", ""))


def ensure_seeded(url: str, users: int | None = None, log=lambda _message: None) -> SeedInfo:
    """Seed unless the database holds the same seed; without a count, any finished seed will do."""
    existing = current_seed(url)
    target = users or (existing.users if existing else DEFAULT_USERS)
    if existing and existing.fingerprint == seed_fingerprint(target):
        return existing
    log(f"seeding {target:,} users and their posts into {mask_url(url)} ...")
    return seed(url, target)


def seed(url: str, users: int, force: bool = False) -> SeedInfo:
    """(Re)create the users table and fill it, unless the same seed is already there.

    One transaction: an interrupted seed leaves the previous state (or nothing), never a
    half-filled table behind a marker that says it is complete.
    """
    users = check_users(users)
    fingerprint = seed_fingerprint(users)
    existing = current_seed(url)
    if existing and existing.fingerprint == fingerprint and not force:
        return existing
    try:
        checksum, posts, posts_checksum = _seed_in_one_transaction(url, users, fingerprint)
    except psycopg.Error as exc:
        reason = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, url)
        raise DbbenchError(f"seeding failed, the previous seed is untouched: {reason}") from None
    with connect(url) as conn:
        for table in SEED_TABLES:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    return SeedInfo(users=users, checksum=checksum, fingerprint=fingerprint, seeded=True, posts=posts,
                    posts_checksum=posts_checksum)


def _seed_in_one_transaction(url: str, users: int, fingerprint: str) -> tuple[str, int, str]:
    """The users' checksum, and the posts' count and checksum."""
    with connect(url, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SEED_LOCK_KEY,))
        conn.execute("SET LOCAL statement_timeout = 0")
        conn.execute("SET LOCAL work_mem = '256MB'")  # the posts' id order is one sort of every post
        conn.execute("SET LOCAL maintenance_work_mem = '1GB'")  # keys, CLUSTER and the index: one sort each
        conn.execute("DROP TABLE IF EXISTS dbbench_seed")
        conn.execute("DROP TABLE IF EXISTS dbbench_seed_users")
        for table in reversed(SEED_TABLES):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        for table in SEED_TABLES:
            conn.execute((paths.SCHEMA_DIR / f"{table}.sql").read_text())
            seed_sql = (paths.SEEDS_DIR / f"{table}.sql").read_text()
            conn.execute(seed_sql, {"users": users} if "%(users)s" in seed_sql else None)
        conn.execute((paths.SCHEMA_DIR / "keys.sql").read_text())
        checksum = conn.execute(CHECKSUM_SQL).fetchone()[0]
        posts, posts_checksum = conn.execute(POSTS_CHECKSUM_SQL).fetchone()
        conn.execute("CREATE TABLE dbbench_seed_users (LIKE users INCLUDING ALL)")
        conn.execute("INSERT INTO dbbench_seed_users SELECT * FROM users")
        conn.execute(
            "CREATE TABLE dbbench_seed (users integer NOT NULL, checksum text NOT NULL, "
            "fingerprint text NOT NULL, posts integer NOT NULL, posts_checksum text NOT NULL, "
            "seeded_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO dbbench_seed (users, checksum, fingerprint, posts, posts_checksum) "
            "VALUES (%s, %s, %s, %s, %s)",
            (users, checksum, fingerprint, posts, posts_checksum or ""),
        )
        conn.commit()
    return checksum, posts, posts_checksum or ""


def table_checksum(url: str) -> str:
    """The checksum of the table as it is now, to compare with the recorded one."""
    with connect(url) as conn:
        return conn.execute(CHECKSUM_SQL).fetchone()[0]


RESTORE_SQL = (
    # Rows a write scenario changed get their seeded values back; rows it added or removed
    # (none today) are removed or put back. Only what differs is written.
    """
    UPDATE users AS u SET username = s.username, email = s.email, full_name = s.full_name, bio = s.bio,
                          is_active = s.is_active, created_at = s.created_at
    FROM dbbench_seed_users AS s
    WHERE u.id = s.id
      AND (u.username, u.email, u.full_name, u.bio, u.is_active, u.created_at)
          IS DISTINCT FROM (s.username, s.email, s.full_name, s.bio, s.is_active, s.created_at)
    """,
    "DELETE FROM users AS u WHERE NOT EXISTS (SELECT 1 FROM dbbench_seed_users AS s WHERE s.id = u.id)",
    "INSERT INTO users SELECT s.* FROM dbbench_seed_users AS s "
    "WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = s.id)",
)


@dataclass(frozen=True)
class Restored:
    rows: int  # rows written back to their seeded values
    checksum: str  # the table's checksum afterwards
    matches_seed: bool


def restore_seeded(url: str) -> Restored:
    """Put the users table back in its seeded state, re-seeding only the rows that differ,
    and prove it with the checksum; the seed's own marker is what it is compared with."""
    seed_info = current_seed(url)
    if seed_info is None:
        raise DbbenchError("the database holds no finished seed: run 'dbbench db seed'")
    try:
        with connect(url, autocommit=False) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SEED_LOCK_KEY,))
            rows = sum(conn.execute(statement).rowcount for statement in RESTORE_SQL)
            checksum = conn.execute(CHECKSUM_SQL).fetchone()[0]
            conn.commit()
        if rows:
            with connect(url) as conn:
                conn.execute("VACUUM (ANALYZE) users")
    except psycopg.Error as exc:
        reason = scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, url)
        raise DbbenchError(f"restoring the seeded users failed: {reason}") from None
    return Restored(rows=rows, checksum=checksum, matches_seed=checksum == seed_info.checksum)
