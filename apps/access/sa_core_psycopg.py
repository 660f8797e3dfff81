"""sa-core-psycopg: the very same code as sa-core on SQLAlchemy's postgresql+psycopg dialect:
the driver's price without the ORM's.
As with sa-orm-psycopg, psycopg never keeps a statement prepared under SQLAlchemy's pool."""

from apps.access import sa_core


class Store(sa_core.Store):
    driver = "psycopg"
