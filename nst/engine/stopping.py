"""A graceful stop on SIGTERM and SIGINT.

SLURM ends a job (time limit, pre-emption) with SIGTERM and, KillWait seconds later (30 by
default), SIGKILL. While :class:`SignalStop` is active the first of those signals only
asks the loop to stop: the step in progress ends, the Checkpoints observer writes a
checkpoint and raises :class:`Interrupted`. Outside the loop (loading, the final image) and
on a second signal, :class:`Interrupted` is raised at once.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal. A KeyboardInterrupt, so that ``except Exception`` never
    swallows it and callers that handle Ctrl-C still do."""

    def __init__(self, signum: int, message: str = "", at_once: bool = False):
        super().__init__(message or f"interrupted by {signal.Signals(signum).name}")
        self.signum, self.at_once = signum, at_once

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process the signal killed


class SignalStop:
    """The engine's handlers for SIGTERM and SIGINT while the block runs; the previous ones after.

    ``signum`` is the first signal received (None: none yet). Handlers are installed only in
    the main thread (Python's rule) and not over a signal the caller ignores (a background job).
    """

    def __init__(self):
        self.signum: int | None = None
        self.deferring = False
        self.previous: dict[int, object] = {}

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                if signal.getsignal(signum) != signal.SIG_IGN:
                    self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            # None: a handler set outside Python, which cannot be put back; the default is closest.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self.previous.clear()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Inside the block the first signal waits for the end of the step (see :attr:`requested`)."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:
            raise Interrupted(signum, at_once=True)  # a second signal: the user means it
        self.signum = signum
        if not self.deferring:
            raise Interrupted(signum)  # no step in progress: nothing to finish
        # os.write, not print: a handler may run in the middle of another write to stderr.
        os.write(2, f"nst: {signal.Signals(signum).name} received: stopping after this step with a checkpoint "
                    f"(send it again to stop at once)\n".encode())


def interruption_message(err: Interrupted, step: int | None, checkpoint: tuple[int, str] | None) -> str:
    """The record's one line: the signal, the step reached, the checkpoint kept, how to go on."""
    name = signal.Signals(err.signum).name
    how = f"stopped at once by a second {name}" if err.at_once else f"stopped by {name}"
    where = f"at step {step}" if step else "before the first step"
    kept = f"checkpoint at step {checkpoint[0]}: {checkpoint[1]}" if checkpoint else "no checkpoint yet"
    return f"{how} {where}; {kept}; run the same command with --resume to continue"
