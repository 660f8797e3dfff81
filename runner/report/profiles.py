"""Where each cell's CPU goes, by library, from its py-spy samples (dbbench run --profile).

The shares are of the samples py-spy took while the cell's server was running Python (not
waiting), each given to the library of the frame it was in; they say where a price comes
from, not how large it is (the paired ratios say that).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from runner.base import paths
from runner.report.formatting import Section, cell_name

# Each library a frame can be in, by the top-level package (site-packages) or module (the
# standard library) its file belongs to; the first group that names it wins.
LIBRARIES = {
    "ORM": ("sqlalchemy", "sqlmodel", "tortoise", "pypika_tortoise", "pypika", "piccolo", "gino", "django.db"),
    "driver": ("asyncpg", "psycopg", "psycopg_pool", "psycopg_binary"),
    "framework": ("fastapi", "starlette", "pydantic", "pydantic_core", "litestar", "msgspec", "sanic",
                  "sanic_routing", "micropie", "aiohttp", "blacksheep", "falcon", "quart", "tornado", "flask",
                  "werkzeug", "django", "asgiref"),
    "server": ("uvicorn", "httptools", "h11", "granian", "gunicorn", "uvloop"),
    "event loop": ("asyncio", "selectors", "concurrent", "threading", "queue", "contextvars"),
    "JSON": ("json", "orjson", "ujson"),
}
CATEGORIES = (*LIBRARIES, "app", "rest")
MIN_LABEL_SHARE = 0.04  # a flame graph's frame narrower than this carries no label
DEPTH_SHOWN = 40


def library_of(frame: str) -> tuple[str, str]:
    """A frame ("fetchrow (/…/site-packages/asyncpg/pool.py:123)") as (category, package)."""
    where = frame[frame.rfind("(") + 1:].rstrip(")").rpartition(":")[0]
    if "/site-packages/" in where:
        package = where.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
        if package == "django" and "/django/db/" in where:
            package = "django.db"
    elif where.startswith(f"{paths.APPS_DIR}/"):
        return "app", "apps"
    elif "/python3" in where and "/lib/" in where:
        package = where.split("/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    else:
        return "rest", where.rsplit("/", 1)[-1] or "?"
    for category, names in LIBRARIES.items():
        if package in names:
            return category, package
    return "rest", package


def read_samples(text: str) -> Counter:
    """Collapsed stacks, one per line: "frame;frame;…;frame COUNT"; the process and thread frames
    py-spy puts first carry no file and are left out."""
    stacks: Counter = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = tuple(frame for frame in stack.split(";") if frame.endswith(")") and ".py:" in frame)
        if frames:
            stacks[frames] += int(count)
    return stacks


def shares(stacks: Counter) -> dict:
    """Each sample given to the library of its leaf frame: the share per category and per package."""
    total = sum(stacks.values())
    categories: Counter = Counter()
    packages: Counter = Counter()
    for frames, count in stacks.items():
        category, package = library_of(frames[-1])
        categories[category] += count
        packages[package] += count
    return {"samples": total,
            "by_category": {name: round(categories[name] / total, 4) for name in CATEGORIES if categories[name]},
            "by_package": {name: round(count / total, 4) for name, count in packages.most_common()}}


def profiled(document: dict) -> list[dict]:
    return [cell for cell in document["cells"] if cell.get("profile")]


def section(document: dict) -> Section | None:
    cells = profiled(document)
    if not cells:
        return None
    tool = document["metadata"]["run"].get("profiler") or {}
    rows = []
    for cell in cells:
        found = cell["profile"]
        if found.get("reason"):
            rows.append([cell_name(cell), "—", *["" for _ in CATEGORIES], found["reason"]])
            continue
        shares = found["by_category"]
        top = ", ".join(f"{name} {share:.0%}" for name, share in list(found["by_package"].items())[:4])
        rows.append([cell_name(cell), f"{found['samples']:,}",
                     *[f"{shares[name]:.0%}" if name in shares else "—" for name in CATEGORIES], top])
    return Section("profile", "Where the CPU goes, by library", before=[
        f"{tool.get('tool', 'py-spy')} {tool.get('version', '')} sampled each cell's server at "
        f"{tool.get('rate_hz', '?')} Hz for {tool.get('seconds', '?')} s of a load of "
        "its own, after the ranking's rounds (never on a ranked slice). Each sample goes to the library of the "
        "frame it was running: the framework (with its validation), the ORM, the driver, the server, the event "
        "loop, JSON, the benchmark's own glue (apps), or the rest. Shares of samples, not of throughput; a flame "
        "graph per cell is in figures/."],
        header=["cell", "samples", *CATEGORIES, "most sampled packages"], rows=rows)


def moved_in(document: dict, price: dict) -> str | None:
    """Where a price's CPU moved, from its two cells' profiles in this run, or None."""
    cells = {cell["name"]: cell for cell in document.get("cells", [])}
    return moved(cells.get(price["a"], {}).get("profile"), cells.get(price["b"], {}).get("profile"))


def moved(a: dict | None, b: dict | None, count: int = 2) -> str | None:
    """The packages whose share of samples changed most from b's profile to a's, in points."""
    if not a or not b or a.get("reason") or b.get("reason"):
        return None
    names = set(a["by_package"]) | set(b["by_package"])
    changes = sorted(((a["by_package"].get(name, 0.0) - b["by_package"].get(name, 0.0), name) for name in names),
                     key=lambda change: -abs(change[0]))
    said = [f"{name} {change * 100:+.0f} pts" for change, name in changes[:count] if round(change * 100)]
    return ", ".join(said) or "no library's share moved by a point"


def flame(stacks: Counter, title: str) -> Figure:
    """An icicle graph of collapsed stacks: the root on top, each frame as wide as its samples."""
    total = sum(stacks.values())
    figure = Figure(figsize=(12, 7))
    axes = figure.add_subplot()
    tree: dict = {}
    for frames, count in stacks.items():
        node = tree
        for frame in frames[:DEPTH_SHOWN]:
            entry = node.setdefault(frame, [0, {}])
            entry[0] += count
            node = entry[1]
    depth_reached = 0

    def draw(node: dict, left: float, depth: int) -> None:
        nonlocal depth_reached
        depth_reached = max(depth_reached, depth)
        for frame, (count, children) in sorted(node.items(), key=lambda item: -item[1][0]):
            width = count / total
            category, package = library_of(frame)
            axes.add_patch(Rectangle((left, -depth - 1), width, 0.95, facecolor=COLOURS[category],
                                     edgecolor="white", linewidth=0.3))
            if width >= MIN_LABEL_SHARE:
                axes.text(left + 0.003, -depth - 0.5, frame.split(" (")[0][:int(width * 160)], fontsize=6,
                          va="center")
            draw(children, left, depth + 1)
            left += width

    draw(tree, 0.0, 0)
    axes.set_xlim(0, 1)
    axes.set_ylim(-depth_reached - 1, 0)
    axes.set_yticks([])
    axes.set_xlabel("share of samples")
    axes.set_title(title, fontsize=10)
    handles = [Rectangle((0, 0), 1, 1, facecolor=COLOURS[name]) for name in CATEGORIES]
    axes.legend(handles, CATEGORIES, loc="lower center", bbox_to_anchor=(0.5, -0.14), ncol=8, fontsize=7,
                frameon=False)
    return figure


# Okabe & Ito's palette, as the report's other figures.
COLOURS = {"ORM": "#E69F00", "driver": "#0072B2", "framework": "#009E73", "server": "#CC79A7",
           "event loop": "#56B4E9", "JSON": "#F0E442", "app": "#D55E00", "rest": "#BBBBBB"}


def write_flames(document: dict, directory: Path) -> list[Path]:
    """figures/flame-<cell>.svg from each profiled cell's samples kept beside the results."""
    written = []
    for cell in profiled(document):
        found = cell["profile"]
        source = directory / "profiles" / found.get("file", "")
        if found.get("reason") or not source.is_file():
            continue
        target = directory / "figures" / f"flame-{source.stem}.svg"
        target.parent.mkdir(parents=True, exist_ok=True)
        flame(read_samples(source.read_text(errors="replace")),
              f"{cell_name(cell)}: {found['samples']:,} samples of its server, by frame (colour: library)"
              ).savefig(target)
        written.append(target)
    return written
