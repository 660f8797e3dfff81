"""The one exception the CLI turns into a one-line message and a non-zero exit."""


class DbbenchError(Exception):
    """A problem the user can act on: shown as one line, never as a traceback."""
