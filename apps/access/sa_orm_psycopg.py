"""sa-orm-psycopg: the very same code as sa-orm on SQLAlchemy's postgresql+psycopg dialect
(psycopg 3, async): only the driver in the URL changes, so the driver's price is a paired
ratio within one run.

The prepare_threshold is set (apps/cells.toml), but under SQLAlchemy it is never reached:
the pool rolls each connection back when it is returned, and psycopg forgets its prepared
statements and their counts at every rollback. So every statement is parsed and planned
on every request, where asyncpg's statement cache keeps them prepared (tests/test_stacks.py).
"""

from apps.access import sa_orm


class Store(sa_orm.Store):
    driver = "psycopg"
