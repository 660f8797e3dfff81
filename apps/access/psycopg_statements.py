"""raw's statements in psycopg's placeholder style, shared by the sync and async psycopg variants."""

from apps.contract import EDIT_SQL, FEED_SQL, LOOKUP_SQL, PAGE_SQL, USER_POSTS_SQL, USERNAME_SQL, prepare_threshold


def psycopg_placeholders(statement: str) -> str:
    """asyncpg's $1, $2 as psycopg's %s (the parameters are passed in the same order)."""
    return statement.replace("$1", "%s").replace("$2", "%s")


LOOKUP, USERNAME, PAGE, USER_POSTS, FEED = map(
    psycopg_placeholders, (LOOKUP_SQL, USERNAME_SQL, PAGE_SQL, USER_POSTS_SQL, FEED_SQL))
# EDIT_SQL takes (id, bio) as $1, $2 but uses $2 first: psycopg gets them by name.
EDIT = EDIT_SQL.replace("$1", "%(id)s").replace("$2", "%(bio)s")


def connection_options(settings) -> dict:
    """Autocommit (the edit's UPDATE ... RETURNING commits by itself, as asyncpg's does), rows
    as dicts, and the variant's declared prepare_threshold (apps/cells.toml), never psycopg's
    default by accident."""
    from psycopg.rows import dict_row

    return {"autocommit": True, "row_factory": dict_row, "prepare_threshold": prepare_threshold(settings)}
