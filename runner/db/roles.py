"""A database role of its own for each cell instance, so that its statements are its own.

pg_stat_statements counts the whole cluster, keyed by role, database and statement. The
cells of a run share one database, so while one cell is verified another may be starting:
opening its pool, introspecting types (psycopg), setting up sessions (Django). Counted by
database, those statements landed in the first cell's verdict, and failed it. Each instance
therefore logs in as a role of its own, `dbbench_cell_…`, a member of the run's role (so it
holds the tables' privileges and matches the same pg_hba lines, `+dbbench`), and the
verifier reads and resets that role's counts alone (`userid`).

Where no role can be made (an external database whose user may not create roles), the cell
connects as given and its statements are counted for the whole database, as the verdict says.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from runner.base.errors import DbbenchError
from runner.db import database

PREFIX = "dbbench_cell_"
MAX_NAME = 63  # PostgreSQL's identifier length


@dataclass(frozen=True)
class Login:
    """How a cell instance connects, and whose statements are its own."""

    url: str
    role: str | None  # None: no role of its own, its statements are counted for the whole database
    shared_because: str | None = None

    @property
    def counted_for(self) -> str:
        """What the verdict's statement counts cover, in words."""
        return f"role {self.role} alone" if self.role else f"the whole database ({self.shared_because})"


def name_for(instance: str) -> str:
    """`fastapi/sa-orm @pool-size=4` → dbbench_cell_fastapi_sa_orm_pool_size_4_<hash>: readable,
    and distinct for distinct instances even where the readable part is cut short."""
    digest = hashlib.sha256(instance.encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "_", instance.lower()).strip("_")
    return f"{PREFIX}{slug[:MAX_NAME - len(PREFIX) - len(digest) - 1]}_{digest}"


def login_for(admin_url: str, cell_url: str, instance: str) -> Login:
    """`cell_url` (the database, or the proxy before it) as the instance's own role, made at
    first use as a member of `admin_url`'s role; with that URL's password where it has one,
    sent as a SCRAM verifier so the password itself never reaches a statement's text."""
    role = name_for(instance)
    try:
        with database.connect(admin_url) as conn:
            parent = conn.execute("SELECT current_user").fetchone()[0]
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                try:
                    conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(sql.Identifier(role),
                                                                                   sql.Identifier(parent)))
                except psycopg.errors.DuplicateObject:
                    pass  # made by another command at the same moment: the same role
            password = unquote(urlsplit(admin_url).password or "")  # as the client sends it
            if password:
                verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role),
                                                                         sql.Literal(verifier.decode())))
    except (psycopg.Error, DbbenchError) as exc:
        reason = database.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                                admin_url)
        return Login(cell_url, None, f"no role of its own: {reason}")
    return Login(as_user(cell_url, role), role)


def as_user(url: str, user: str) -> str:
    """The URL with another user name; host, port, password (as written, escapes and all) and
    options kept."""
    parts = urlsplit(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    _, colon, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}{colon}{password}@{host}"))
