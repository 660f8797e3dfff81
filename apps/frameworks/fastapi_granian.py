"""FastAPI's app, unchanged (apps/frameworks/fastapi.py), on granian instead of uvicorn.

granian is a Rust HTTP server with an ASGI interface. Beside fastapi on the same variant,
in the same run, the ratio is the server's share and nothing else.
"""

from apps.servers import granian_serve


def serve(host: str, port: int, workers: int) -> None:
    granian_serve("apps.frameworks.fastapi:create_app", host, port, workers)
