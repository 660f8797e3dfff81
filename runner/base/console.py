"""The one console for messages on stderr: progress, warnings and errors, never the results,
which go to stdout (markup off: a cell's log or a URL is printed as it is)."""

from rich.console import Console

err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)
