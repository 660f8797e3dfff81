"""runner/ keeps its layers: each package imports only from the layers below it (or beside it,
without a circle), so the next capability lands in a room of its own (docs/architecture.md)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

RUNNER = REPO / "runner"
# Lowest first. A package may import from its own layer and the ones below, never above.
LAYERS = [
    {"runner", "base"},  # paths, errors, console, supervise, the scenarios; the package's __version__
    {"report"},  # results files, statistics, tables, figures, the page: rendered from stored results alone
    {"cells", "db", "verify"},  # the manifest and cell processes; PostgreSQL and its proxy; the verifier
    {"measure"},  # options, plan, the run loop, wrk and oha, CPU accounting, noise
    {"experiments", "cluster"},  # sweep, tune, latency, calibrate, soak, faults; the run across hosts
    {"lessons"},  # the engine, its toolkit and one module per lesson
    {"pages"},  # the generated pages: the findings and the CLI reference
    {"commands"},  # one module per subcommand
    {"cli", "__main__"},  # main() alone
]
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    """runner.measure.run -> measure; runner.cli -> cli; runner -> runner."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def type_only(tree: ast.Module) -> set[ast.AST]:
    """The nodes under `if TYPE_CHECKING:`: names for annotations, never imported when it runs
    (a hook's annotation may name its caller, as runner/measure/placement.py names the Run)."""
    return {inner for node in ast.walk(tree) if isinstance(node, ast.If) and getattr(node.test, "id", "") ==
            "TYPE_CHECKING" for statement in node.body for inner in ast.walk(statement)}


def imports() -> dict[str, set[str]]:
    """Every runner module and the runner modules it imports when it runs, at the top or inside
    a function."""
    modules = {module_name(path): path for path in RUNNER.rglob("*.py")}
    found: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        tree = ast.parse(path.read_text())
        skipped = type_only(tree)
        for node in ast.walk(tree):
            if node in skipped:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "runner":
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    targets.add(submodule if submodule in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name.split(".")[0] == "runner")
        found[module] = {target for target in targets if target != module}
    return found


def test_every_package_has_a_layer():
    packages = {package_of(module) for module in imports()}
    assert packages <= set(RANK), f"give {sorted(packages - set(RANK))} a layer in LAYERS"


def test_no_package_imports_from_a_layer_above_it():
    upward = sorted(f"{module} -> {target}" for module, targets in imports().items() for target in targets
                    if RANK[package_of(target)] > RANK[package_of(module)])
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_no_module_imports_itself_back_through_others():
    graph = imports()
    circles = []
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                circles.append(" -> ".join([*trail[trail.index(target):], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_checks_would_see_an_upward_import_and_a_circle(tmp_path, monkeypatch):
    """The three tests above on a small tree with both faults: they must fail there."""
    fake = tmp_path / "runner"
    for package in ("base", "measure"):
        (fake / package).mkdir(parents=True)
        (fake / package / "__init__.py").write_text("")
    (fake / "base" / "b.py").write_text("from typing import TYPE_CHECKING\n\nfrom runner.measure import a\n\n"
                                        "if TYPE_CHECKING:\n    from runner.cli import main\n")
    (fake / "measure" / "a.py").write_text("from runner.base import b\n")
    (fake / "__init__.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "RUNNER", fake)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    graph = imports()
    assert graph["runner.base.b"] == {"runner.measure.a"} and graph["runner.measure.a"] == {"runner.base.b"}
    for check in (test_no_package_imports_from_a_layer_above_it, test_no_module_imports_itself_back_through_others):
        try:
            check()
        except AssertionError:
            continue
        raise AssertionError(f"{check.__name__} passed on a tree that breaks it")


# A file the tree names in its comments, docstrings and pages: `runner/db/database.py`. A name
# in capitals is a placeholder (`apps/frameworks/NAME.py`); the published runs' pages are
# rendered from results files and name what was there when they ran; this file names missing
# ones on purpose.
NAMED_PATH = re.compile(r"\b(?:runner|apps|tests|schema|seeds|scenarios)/[\w./-]+"
                        r"\.(?:py|toml|lua|md|sql|conf|txt|in|sh)\b")
PLACEHOLDER = re.compile(r"(?:^|[/_])[A-Z]+\.\w+$")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".lua", ".conf", ".sql", ".sh", ".yml", ".in", ""}
PUBLISHED = ("docs/example/", "docs/stacks/", "docs/parity/", "docs/cost/", "docs/lessons/")


def named_paths(text: str) -> set[str]:
    return {path for path in NAMED_PATH.findall(text) if not PLACEHOLDER.search(path)}


def test_every_file_the_tree_names_exists():
    """A module that moves leaves no comment or page naming its old place (schema/server.conf once
    named the cluster's module where it had been before runner/db/)."""
    tracked = subprocess.run([shutil.which("git"), "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    texts = [name for name in tracked if not name.startswith(PUBLISHED) and name != "tests/test_architecture.py"
             and Path(name).suffix in TEXT_SUFFIXES and (REPO / name).is_file()]
    missing = [f"{name}: {named}" for name in texts
               for named in sorted(named_paths((REPO / name).read_text(errors="replace")))
               if not (REPO / named).exists()]
    assert len(texts) > 100
    assert not missing, missing


def test_a_moved_files_old_name_would_be_found():
    text = "The cluster (runner/database.py), apps/frameworks/NAME.py and tests/test_NAME.py."
    assert named_paths(text) == {"runner/database.py"}
