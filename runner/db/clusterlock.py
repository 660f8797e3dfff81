"""One measuring command per PostgreSQL cluster at a time.

pg_stat_statements counts every statement of the cluster, so a second command measuring on
the same cluster would read the first one's statements as its own, and the two would share
the cores. Each measuring command holds an exclusive flock(2) on a file of the cluster's:
the embedded cluster's lives in its state directory; one behind a --db-url (or DATABASE_URL)
is keyed by host and port in a directory every checkout on this machine shares, unless it is
this checkout's embedded cluster under its URL. The kernel drops a flock when its holder
dies, however it dies. The holder writes who it is into the file and empties it when done;
a record found in a file whose lock was free is therefore a holder that was killed, and the
command taking over says so, in its output and in its results.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from runner.base import instants
from runner.base.errors import DbbenchError
from runner.db import database

POLL_S = 1.0
_held: dict | None = None


def current() -> dict | None:
    """The lock this process holds, for the results: the cluster, since when, and any stale
    holder it took over from."""
    return None if _held is None else dict(_held)


def _loopback(host: str | None) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


def lock_file(db_url: str | None) -> tuple[Path, str]:
    """The lock file of the cluster a command would use, and how to name that cluster."""
    url = db_url or os.environ.get("DATABASE_URL")
    cluster = database.EmbeddedCluster.default()
    if url:
        parts = urlsplit(url)
        try:
            port = parts.port or 5432
        except ValueError:
            raise DbbenchError(f"the database URL {database.mask_url(url)} has a bad port") from None
        if not (_loopback(parts.hostname) and port == cluster.port):
            where = f"{parts.hostname or 'localhost'}:{port}"
            digest = hashlib.sha256(where.encode()).hexdigest()[:16]
            return Path(tempfile.gettempdir()) / "dbbench-locks" / f"{digest}.lock", f"the PostgreSQL at {where}"
    return cluster.home / "cluster.lock", f"the embedded cluster in {cluster.home}"


def _read(handle) -> dict | None:
    handle.seek(0)
    text = handle.read().strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"pid": None, "command": "unreadable lock record", "started_at": None}


def _describe(holder: dict | None) -> str:
    if not holder:
        return "another process (it left no record)"
    return f"pid {holder.get('pid')} (`{holder.get('command')}`, since {holder.get('started_at')})"


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def held(db_url: str | None, command: str, wait: bool, log: Callable[[str], None]) -> Iterator[dict]:
    """Hold the cluster's lock for the block; refuse at once (or with `wait`, wait) while
    another command holds it."""
    global _held
    path, cluster = lock_file(db_url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # held open, and locked, for the whole block
    except OSError as exc:
        raise DbbenchError(f"cannot open the lock {path} of {cluster}: {exc.strerror or exc}") from None
    with handle:
        waited_since = None
        while not _try_lock(handle):
            holder = _read(handle)
            if not wait:
                raise DbbenchError(f"{cluster} is busy: {_describe(holder)} is measuring on it; a second command "
                                   "would spoil its statement counts. Wait for it to finish, or add --wait to queue")
            if waited_since is None:
                waited_since = time.monotonic()
                log(f"waiting for {_describe(holder)} to release {cluster} ...")
            time.sleep(POLL_S)
        stale = _read(handle)
        record = {"pid": os.getpid(), "command": command, "started_at": instants.utc_now(),
                  "host": socket.gethostname()}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(record))
        handle.flush()
        os.fsync(handle.fileno())
        _held = {"cluster": cluster, "holder": record, "taken_over_from": stale,
                 "waited_s": None if waited_since is None else round(time.monotonic() - waited_since, 1)}
        if stale:
            log(f"dbbench: warning: took over {cluster}'s lock from {_describe(stale)}, which ended without "
                "releasing it (killed?); the results record the takeover")
        try:
            yield current()
        finally:
            _held = None
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
