"""Run inside the sa2 environment: SQLAlchemy's own verdict on each lookup's compiled-SQL cache.

`python tests/sa_cache_probe.py VARIANT` with DATABASE_URL set prints a JSON list, one
entry per lookup: CACHE_HIT, CACHE_MISS, CACHING_DISABLED, ... (the execution context's
`cache_hit`, the value behind SQLAlchemy's "[cached since ...]" log notes). No timings.
"""

import asyncio
import json
import os
import sys

from sqlalchemy import event

from apps.contract import Settings, open_store

LOOKUPS = (1, 2, 3, 1, 5)


async def probe(variant: str) -> list[str]:
    store = open_store(Settings(variant=variant, pool_size=2, dsn=os.environ["DATABASE_URL"]))
    await store.open()
    outcomes: list[str] = []

    def record(_conn, _cursor, statement, _parameters, context, _executemany):
        if "FROM users" in statement:
            outcomes.append(context.cache_hit.name)

    event.listen(store.engine.sync_engine, "after_cursor_execute", record)
    try:
        for user_id in LOOKUPS:
            assert (await store.get_user(user_id))["id"] == user_id
    finally:
        await store.close()
    return outcomes


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(sys.argv[1]))))
