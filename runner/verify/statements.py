"""The statements each request must send, by strategy and endpoint, and what a statement is (a
lookup, an update, a transaction's, a pool's reset, a session's setup) from its text, as
pg_stat_statements keeps it; counted under the cell's own role (runner/db/roles.py)."""

from __future__ import annotations

import re

# Lookups and updates one request of an endpoint sends, by strategy (schema/http-contract.md,
# "Per request"); exact, where every other kind is counted and shown. An edit is one
# UPDATE ... RETURNING in raw SQL and Core, a load and an update in an ORM, baked or not.
READ = {"lookup": 1, "update": 0}
EXPECTED_STATEMENTS = {
    "by-id": dict.fromkeys(("raw", "core", "orm", "baked"), READ),
    "by-username": dict.fromkeys(("raw", "core", "orm", "baked"), READ),
    "page": dict.fromkeys(("raw", "core", "orm", "baked"), READ),
    "edit": {"raw": {"lookup": 0, "update": 1}, "core": {"lookup": 0, "update": 1},
             "orm": {"lookup": 1, "update": 1}, "baked": {"lookup": 1, "update": 1}},
}
UPDATE = re.compile(r"^\s*update\s+(?:\w+\.)?\"?users\"?(?:\s|$)", re.IGNORECASE)
LOOKUP = re.compile(r"\bfrom\s+(?:\w+\.)?\"?(?:users|posts)\"?(?:\s|$)", re.IGNORECASE)
STATEMENT_KINDS = (
    ("pool reset", re.compile(
        r"^\s*(select\s+pg_advisory_unlock_all\(\)|close\s+all|unlisten\s+\*|reset\s+all|discard\s+all"
        r"|deallocate\s+all)\s*;?\s*$", re.IGNORECASE)),
    ("transaction", re.compile(
        r"^\s*(begin|start\s+transaction|commit|rollback|end|savepoint|release)\b", re.IGNORECASE)),
    ("session setup", re.compile(
        r"^\s*(set|show|select\s+(pg_catalog\.)?(version|current_schema|current_setting)\s*\()"
        r"|\bpg_catalog\.pg_(type|namespace|attribute|range|class)\b", re.IGNORECASE)),
)


def classify(query: str) -> str:
    if UPDATE.search(query):
        return "update"
    if LOOKUP.search(query):
        return "lookup"
    for kind, pattern in STATEMENT_KINDS:
        if pattern.search(query):
            return kind
    return "other"
