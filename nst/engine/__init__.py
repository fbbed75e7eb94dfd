"""The style-transfer engine: one content image, one style image, one run (torch).

``python -m nst`` is its command line (:mod:`nst.engine.cli`); :func:`stylise` runs it
from Python. Importing this package is cheap: torch loads with the modules that need it.
"""
from __future__ import annotations

__all__ = ["Settings", "stylise"]


def stylise(settings):
    """Run (or resume) one stylisation; returns its :class:`~nst.record.RunRecord` (see :func:`nst.engine.run.stylise`)."""
    from .run import stylise as run

    return run(settings)


def __getattr__(name: str):
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(name)
