"""Production servers shared by several frameworks, configured one way for all of them."""

from __future__ import annotations

import importlib
import os
import signal
import sys


def uvicorn_serve(target: str, host: str, port: int, workers: int, factory: bool = True,
                  lifespan: str = "on") -> None:
    """An ASGI app factory ("module:create_app"), or with factory=False an app ("module:app"), on
    uvicorn with uvloop and httptools, access log off; `lifespan` as uvicorn takes it ("auto",
    its default, runs an app without one, as Django's ASGI handler is)."""
    import uvicorn

    uvicorn.run(
        target, factory=factory, host=host, port=port, workers=workers, loop="uvloop", http="httptools",
        access_log=False, log_level="warning", lifespan=lifespan,
    )


def gunicorn_serve(create_app, host: str, port: int, workers: int) -> None:
    """A WSGI app on gunicorn's gthread worker, one thread per pooled connection (threads = the
    pool size), access log off; the app is created in each worker after the fork. The open
    connections a worker takes (worker_connections) come from the cell's settings: at gunicorn's
    default, a gthread worker holding 1,000 stops polling, and the 1,001st waits unserved."""
    from gunicorn.app.base import BaseApplication

    from apps.contract import Settings

    class Gunicorn(BaseApplication):
        def load_config(self):
            settings = Settings.from_env()
            for key, value in {
                "bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": settings.pool_size,
                "worker_connections": settings.options["worker_connections"],
                "accesslog": None, "loglevel": "warning", "preload_app": False, "keepalive": 75,
            }.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app()

    Gunicorn().run()


def with_lifespan(app, store):
    """An ASGI app whose framework has no lifespan (Django): the store opens at start-up and
    closes at shutdown here, and every other scope goes to the app."""

    async def serve(scope, receive, send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await store.open()
                except Exception as error:  # noqa: BLE001 - reported to the server, which stops
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return serve


def forked(workers: int, serve_one) -> None:
    """Run serve_one() in `workers` processes sharing the port (SO_REUSEPORT); one runs in-process.

    For servers with no worker manager of their own. SIGTERM or SIGINT to the parent is
    passed to every worker, and the parent waits for them.
    """
    if workers == 1:
        serve_one()
        return
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                serve_one()
            finally:
                os._exit(0)
        children.append(pid)

    def stop(signum, _frame):
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    sys.exit(status)


def granian_serve(target: str, host: str, port: int, workers: int, factory: bool = True) -> None:
    """An ASGI app factory (or with factory=False an app) on granian (Rust HTTP, ASGI interface)
    with uvloop, access log off: the same app as on uvicorn, so that the server's share is a
    paired ratio."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels

    Granian(
        target, address=host, port=port, interface=Interfaces.ASGI, workers=workers, loop=Loops.uvloop,
        http=HTTPModes.http1, websockets=False, factory=factory, log_access=False, log_level=LogLevels.warning,
    ).serve()


def sanic_serve(host: str, port: int, workers: int, **loader) -> None:
    """A Sanic app on Sanic's own server and worker manager, access log off; `loader` as Sanic's
    AppLoader takes it: factory= a function making the app, or module_input= "module:app"."""
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    app_loader = AppLoader(**loader)
    app = app_loader.load()
    app.prepare(host=host, port=port, workers=workers, access_log=False, debug=False, motd=False)
    Sanic.serve(primary=app, app_loader=app_loader)


def serve_app(server: str, target: str, host: str, port: int, workers: int) -> None:
    """An app defined at module level ("module:app", a minimal app's) on one of the servers the
    cells run on, configured as for them; on uvicorn with its default lifespan ("auto"), as its
    documentation runs an app."""
    if server == "uvicorn":
        uvicorn_serve(target, host, port, workers, factory=False, lifespan="auto")
    elif server == "granian":
        granian_serve(target, host, port, workers, factory=False)
    elif server == "sanic":
        sanic_serve(host, port, workers, module_input=target)
    elif server == "gunicorn":  # a WSGI app, loaded in each worker after the fork
        module, _, name = target.partition(":")
        gunicorn_serve(lambda: getattr(importlib.import_module(module), name), host, port, workers)
    else:
        raise SystemExit(f"apps.serve: no server {server!r} (uvicorn, granian, sanic or gunicorn)")
