"""Gatys-style neural style transfer on a frozen VGG, with logs, checkpoints and exact resume."""
from .errors import NSTError
from .settings import Settings

__all__ = ["NSTError", "Settings", "stylise"]


def stylise(settings: Settings) -> dict:
    """Run one stylisation (see :func:`nst.engine.stylise`)."""
    from .engine import stylise as run

    return run(settings)
