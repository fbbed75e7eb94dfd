"""The one exception type the command line turns into a single-line error message."""
from __future__ import annotations

from pathlib import Path


class NSTError(Exception):
    """A user-facing error: bad input file, bad option, incompatible checkpoint, NaN loss.

    ``str(err)`` is the whole message; it names the file or option at fault. ``path`` is
    the input file at fault, when there is one (the run record keeps it, so a report can
    name a broken file once for all the pairs it broke).
    """

    def __init__(self, message: str, path: str | Path | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)
