"""sa-orm-nocache: the very same code as sa-orm, with the compiled-SQL cache turned off
(`query_cache_size=0`): the true "plain ORM compiles every request" case."""

from apps.access import sa_orm


class Store(sa_orm.Store):
    engine_options = {"query_cache_size": 0}
