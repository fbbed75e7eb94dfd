import os
import sys

from .warm import asked

if asked(os.environ):  # a fork of a warm server runs the command (nst/warm)
    from .warm.client import exit_as, run

    status = run(sys.argv[1:])
    if status is not None:
        exit_as(status)

from .engine.cli import leave, main  # noqa: E402

leave(main())
