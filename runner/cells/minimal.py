"""Each cell's minimal app (apps/minimal/minimal.toml): the by-id endpoint as its libraries'
documentation writes it, which `dbbench parity` measures the cell against. Not a cell: it
runs in the cell's environment, on the cell's server, with its workers and pool size."""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from functools import cache

from runner.base import paths
from runner.base.errors import DbbenchError
from runner.cells.catalog import Cell

MINIMAL_DIR = paths.APPS_DIR / "minimal"
MANIFEST = MINIMAL_DIR / "minimal.toml"
# go: a program of the Gin cell's module (apps/gin/minimal/); gunicorn: a WSGI app
SERVERS = ("uvicorn", "granian", "sanic", "gunicorn", "go")
GO_DIR = paths.APPS_DIR / "gin" / "minimal"


@dataclass(frozen=True)
class MinimalApp:
    app: str  # the module in apps/minimal/ (a Go one: the file in apps/gin/minimal/)
    server: str  # the cell's own server, one of SERVERS
    scheme: str | None = None  # DATABASE_URL's scheme, where the library takes its driver from it

    @property
    def is_go(self) -> bool:
        return self.server == "go"

    @property
    def path(self):
        return GO_DIR / f"{self.app}.go" if self.is_go else MINIMAL_DIR / f"{self.app}.py"

    @property
    def follows(self) -> str:
        """The pages it follows: its docstring's (a Go file's opening comment's) first sentence, in one line."""
        source = self.path.read_text()
        if self.is_go:
            text = " ".join(line.removeprefix("//").strip() for line in source.splitlines() if line.startswith("//"))
        else:
            text = ast.get_docstring(ast.parse(source)) or self.app
        return " ".join(text.split()).split(". ")[0].rstrip(".") + "."

    def argv(self) -> list[str]:
        """What apps/serve.py takes to serve it in the cell's place (a Go one takes the cell's flags)."""
        return ["--minimal", self.app, "--server", self.server, *(["--scheme", self.scheme] if self.scheme else [])]


@cache
def declared() -> dict[str, MinimalApp]:
    """Cell name: its minimal app."""
    found = {}
    for name, entry in tomllib.loads(MANIFEST.read_text())["cells"].items():
        app = MinimalApp(app=entry["app"], server=entry["server"], scheme=entry.get("scheme"))
        if app.server not in SERVERS or not app.path.exists():
            raise DbbenchError(f"{MANIFEST.name}: {name}: no server {app.server!r} ({', '.join(SERVERS)}) or no "
                               f"file {app.path.relative_to(paths.REPO)}")
        found[name] = app
    return found


def minimal_app_of(cell: Cell) -> MinimalApp:
    """The cell's minimal app, or a one-line refusal naming the cells that have one."""
    found = declared().get(cell.name)
    if found is None:
        raise DbbenchError(f"{cell.name} has no minimal app to be measured against (apps/minimal/minimal.toml "
                           f"declares {len(declared())}: {', '.join(declared())})")
    return found
