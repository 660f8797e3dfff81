"""Django 5.2 configured in code from a cell's settings, once per process, before any model.

The database is the cell's DSN through Django's postgresql backend on psycopg 3, with
Django's own pool option (psycopg_pool) at the cell's pool size. Django binds parameters
client-side (psycopg's ClientCursor), which psycopg never prepares, so no prepare_threshold is
given: it would do nothing. No middleware: the views are the service, as in the other frameworks.
"""

import django
from django.conf import settings as django_settings
from psycopg.conninfo import conninfo_to_dict

from apps.contract import Settings

DSN_FIELDS = {"dbname": "NAME", "user": "USER", "password": "PASSWORD", "host": "HOST", "port": "PORT"}


def configure(settings: Settings, urlconf: str) -> None:
    params = conninfo_to_dict(settings.dsn)
    database = {field: params.pop(key) for key, field in DSN_FIELDS.items() if key in params}
    size = settings.pool_size
    database["OPTIONS"] = {**params, "pool": {"min_size": size, "max_size": size, "timeout": 60}}
    # Behind a transaction pooler a named cursor would not outlive its transaction's server connection.
    database["DISABLE_SERVER_SIDE_CURSORS"] = settings.options.get("disable_server_side_cursors", False)
    django_settings.configure(
        DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=urlconf, MIDDLEWARE=[], INSTALLED_APPS=["apps.access"],
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", **database}}, USE_TZ=True,
        TIME_ZONE="UTC", DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        SECRET_KEY="dbbench-serves-no-sessions-or-signatures",  # noqa: S106 - nothing it signs exists
    )
    django.setup()


def open_pool() -> None:
    """Django opens its pool on the first query; a cell opens it whole before the first request."""
    from django.db import connections

    connections["default"].pool.open(wait=True, timeout=60)


def close_pool() -> None:
    from django.db import connections

    connections["default"].close_pool()
