"""raw-noreset: raw, with asyncpg's pool reset turned off (asyncpg >= 0.30, `reset=`).

By default asyncpg resets every connection it takes back (`SELECT pg_advisory_unlock_all();
CLOSE ALL; UNLISTEN *; RESET ALL`), so that the next request gets a connection with no
advisory lock, open cursor, LISTEN or session setting left by the previous one. These
handlers leave none of those behind, so here the reset only costs; the variant exists to
measure that cost, not as advice: code that sets session state needs the reset.
"""

import asyncpg

from apps.access import raw
from apps.contract import asyncpg_options


async def keep_as_is(connection: asyncpg.Connection) -> None:
    """Nothing to undo: the handlers leave no session state behind."""


class Store(raw.Store):
    async def open(self) -> None:
        size = self.settings.pool_size
        self.pool = await asyncpg.create_pool(self.settings.dsn, min_size=size, max_size=size, reset=keep_as_is,
                                              **asyncpg_options(self.settings.options))
