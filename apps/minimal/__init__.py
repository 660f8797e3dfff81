"""Minimal apps: the by-id endpoint as each library's own documentation would have a user write
it, one file each, named for the pages it follows. They are not cells: `dbbench parity` measures
each cell against its own (minimal.toml), to ask whether the matrix measures the stacks or the
harness's glue. Each reads DATABASE_URL and DBBENCH_POOL_SIZE, as a user's app reads its
configuration from the environment, and is served by the cell's own server (apps/serve.py).
Where a cell sets a documented option on purpose, its minimal app sets it too: FastAPI's
interactive docs off (their four routes would be tried before the lookup's), psycopg's
autocommit."""
