"""Run one Python cell in the foreground: `python -m apps.serve FRAMEWORK VARIANT ...`.

Started by `dbbench serve` inside the variant's virtual environment, with DATABASE_URL
in the environment. With --minimal APP, the cell's minimal app (apps/minimal/APP.py) in its
place, on --server, with DATABASE_URL's scheme set to --scheme where one is given.
"""

import argparse
import importlib
import json
import os
import sys

from apps.contract import Settings


def main() -> int:
    parser = argparse.ArgumentParser(prog="apps.serve")
    parser.add_argument("framework")
    parser.add_argument("variant")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pool-size", type=int, default=16)
    parser.add_argument("--minimal", help="a minimal app's module in apps/minimal/, served in the cell's place")
    parser.add_argument("--server", default="uvicorn",
                        help="the minimal app's server: uvicorn, granian, sanic or gunicorn")
    parser.add_argument("--scheme", help="the minimal app's DATABASE_URL scheme (postgresql+asyncpg)")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        print("apps.serve: DATABASE_URL is not set", file=sys.stderr)
        return 2
    Settings(variant=args.variant, pool_size=args.pool_size, dsn=os.environ["DATABASE_URL"],
             users=int(os.environ.get("DBBENCH_USERS", "10000")),
             options=json.loads(os.environ.get("DBBENCH_CELL_SETTINGS", "{}"))).export()
    os.environ["DBBENCH_SERVER_PID"] = str(os.getpid())  # its workers' parent (apps/lifeline/sitecustomize.py)
    if args.minimal:
        from apps.servers import serve_app

        if args.scheme:
            os.environ["DATABASE_URL"] = f"{args.scheme}://{os.environ['DATABASE_URL'].split('://', 1)[1]}"
        serve_app(args.server, f"apps.minimal.{args.minimal}:app", args.host, args.port, args.workers)
        return 0
    framework = importlib.import_module(f"apps.frameworks.{args.framework.replace('-', '_')}")
    framework.serve(args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
