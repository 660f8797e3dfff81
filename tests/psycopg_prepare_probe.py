"""Run inside the sa2 environment: one psycopg variant's id lookup, RUNS times on one pooled
connection, at a given prepare_threshold.

`python tests/psycopg_prepare_probe.py VARIANT THRESHOLD RUNS` with DATABASE_URL set;
THRESHOLD is a number or `none` (never prepare). It prints nothing: the test reads what
PostgreSQL saw in pg_stat_statements.
"""

import asyncio
import os
import sys

from apps.contract import Settings, open_store


async def lookups(variant: str, threshold: int | None, runs: int) -> None:
    store = open_store(Settings(variant=variant, pool_size=1, dsn=os.environ["DATABASE_URL"],
                                options={"prepare_threshold": threshold}))
    await store.open()
    try:
        for user_id in range(1, runs + 1):
            await store.fetch(user_id)
    finally:
        await store.close()


if __name__ == "__main__":
    variant, threshold, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    asyncio.run(lookups(variant, None if threshold == "none" else int(threshold), runs))
