"""Open a page in a real headless Chromium and keep what a reader's browser would show:
the DOM after its scripts ran, its console messages, the requests it made to other hosts
(from Chromium's own network log), and a screenshot."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# No profile, no background services; every host name resolves to nothing, so a page that
# asked for another host could not get it, and the network log says that it asked.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
    "--disable-background-networking", "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
]


@dataclass
class Opened:
    dom: str
    console: list[str]
    requests: list[str]
    screenshot: Path

    def text(self) -> str:
        return visible_text(self.dom)

    def inked(self) -> float:
        """The share of the screenshot's pixels that are not (near) white."""
        pixels = np.asarray(Image.open(self.screenshot).convert("RGB"))
        return float((pixels < 235).any(axis=2).mean())

    def colours(self) -> int:
        pixels = np.asarray(Image.open(self.screenshot).convert("RGB")).reshape(-1, 3)
        return len(np.unique(pixels, axis=0))


class TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs) -> None:
        self.skipping += tag in ("script", "style")

    def handle_endtag(self, tag) -> None:
        self.skipping -= tag in ("script", "style")

    def handle_data(self, data) -> None:
        if not self.skipping:
            self.parts.append(data)


def visible_text(dom: str) -> str:
    parser = TextOnly()
    parser.feed(dom)
    return " ".join(" ".join(parser.parts).split())


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no chromium here: `make test` installs it (runner/bootstrap.sh --browser)")
    return found


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked for, other than files: requests whose network isolation key is
    the page's (file://), so Chromium's own background requests are not counted."""
    events = json.loads(net_log.read_text())["events"]
    return sorted({event["params"]["url"] for event in events
                   if "file://" in str(event.get("params", {}).get("network_isolation_key", ""))
                   and not event["params"].get("url", "file:").startswith("file:")})


def open_page(page: Path, work: Path, height: int = 1600) -> Opened:
    work.mkdir(parents=True, exist_ok=True)
    url = page.resolve().as_uri()
    browser = chromium()
    dumped = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={work / 'profile-dom'}", "--enable-logging=stderr", "--v=0",
         f"--log-net-log={work / 'net.json'}", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    shot = work / "screenshot.png"
    taken = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={work / 'profile-shot'}", f"--window-size=1280,{height}",
         f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    console = [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line]
    return Opened(dom=dumped.stdout, console=console, requests=page_requests(work / "net.json"), screenshot=shot)
