"""The warm-start client: hands ``python -m nst``'s command to the server and stands in for the run.

Imports nothing heavy: it runs before every job, and its whole point is that the job's own
process stays small.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import protocol
from .protocol import Channel, Unavailable

# Seconds to wait for a server to load (it imports torch; a loaded machine may take long).
START_SECONDS = 300.0
# What the client passes on to the run: a shell's, Snakemake's and SLURM's ways to stop a job.
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
SERVER_COMMAND = "import sys; sys.path[:] = sys.argv[3:]; from nst.warm.server import main; main()"


def _connect(path: Path) -> Channel | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):  # none yet, or a killed server's socket
        sock.close()
        return None
    return Channel(sock)


def _lock(lock, deadline: float) -> None:
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise Unavailable("another client has been starting the server for too long") from None
            time.sleep(0.05)


def _start(path: Path) -> Channel:
    """Connect to the server, starting it first if there is none; one client starts it while
    the others wait on the lock."""
    deadline = time.monotonic() + START_SECONDS
    with open(path.with_suffix(".lock"), "a") as lock:
        _lock(lock, deadline)
        channel = _connect(path)
        if channel is not None:
            return channel
        path.unlink(missing_ok=True)  # a server killed without cleaning up
        log = path.with_suffix(".log")
        package_root = str(Path(__file__).resolve().parent.parent.parent)
        with open(log, "w") as log_file:
            server = subprocess.Popen(
                [sys.executable, "-c", SERVER_COMMAND, str(path), str(protocol.idle_seconds()),
                 package_root, *sys.path[1:]],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, cwd="/",
                start_new_session=True,  # no terminal's Ctrl-C, no job's process group
            )
        while time.monotonic() < deadline:
            channel = _connect(path)
            if channel is not None:
                return channel
            if server.poll() is not None:
                raise Unavailable(f"the server exited with status {server.returncode} while loading; see {log}")
            time.sleep(0.05)
        raise Unavailable(f"the server did not start within {START_SECONDS:g} s; see {log}")


def _open_streams() -> list[int]:
    streams = []
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            os.fstat(fd)
            streams.append(fd)
    return streams


class _Forwarder:
    """Passes every signal in :data:`FORWARDED` on to the run (kept until its pid is known)."""

    def __init__(self):
        self.pid: int | None = None
        self.pending: list[int] = []
        self.previous = {signum: signal.signal(signum, self._handle) for signum in FORWARDED}

    def restore(self) -> None:
        """The previous handlers back, and any signal that came meanwhile delivered to them."""
        for signum, handler in self.previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in self.pending:
            os.kill(os.getpid(), signum)

    def _handle(self, signum: int, frame) -> None:
        if self.pid is None:
            self.pending.append(signum)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def started(self, pid: int) -> None:
        self.pid = pid
        for signum in self.pending:
            self._handle(signum, None)


def _request(argv: list[str], streams: list[int]) -> dict:
    umask = os.umask(0)
    os.umask(umask)
    return {"argv": argv, "argv0": sys.argv[0], "cwd": os.getcwd(), "env": dict(os.environ), "umask": umask,
            "path": sys.path, "streams": streams}


def run(argv: list[str]) -> int | None:
    """Run ``python -m nst argv`` in a fork of the server; its exit status (negative: the
    signal that ended it), or None where warm start is unavailable (said on stderr)."""
    forwarder = _Forwarder()
    try:
        path = protocol.socket_path()
        streams = _open_streams()
        # Twice: a server that reached its idle time just as this client connected closes
        # the connection unanswered, and the second try starts a new one.
        for _attempt in range(2):
            channel = _connect(path) or _start(path)
            with channel.sock:
                channel.send(_request(argv, streams), fds=streams)
                reply, _ = channel.receive()
                if reply is None:
                    continue
                forwarder.started(reply["pid"])
                reply, _ = channel.receive()
            if reply is None:
                print(f"nst: the warm-start server ended before the run (pid {forwarder.pid}); its outcome is unknown",
                      file=sys.stderr)
                return 1
            return reply["status"]
        raise Unavailable("the server closed two connections unanswered")
    except (Unavailable, OSError) as err:
        if forwarder.pid is not None:  # the run started: never run it twice
            print(f"nst: lost the warm-start server during the run (pid {forwarder.pid}): {err}", file=sys.stderr)
            return 1
        print(f"nst: warm start unavailable ({err}); running in this process", file=sys.stderr)
        forwarder.restore()
        return None


def prestart() -> str:
    """Make sure a server is listening (started if none was), without running anything: started
    ahead of the first job, its loading overlaps whatever comes first. Returns a line saying which."""
    try:
        path = protocol.socket_path()
        channel = _connect(path)
        if channel is not None:
            channel.sock.close()
            return f"nst: a warm-start server was already listening at {path}"
        _start(path).sock.close()
        return f"nst: warm-start server started at {path}"
    except (Unavailable, OSError) as err:
        return f"nst: warm start unavailable ({err}); each job will say so"


def exit_as(status: int) -> None:
    """End the client as the run ended: with its exit code, or killed by the same signal."""
    sys.stdout.flush()
    sys.stderr.flush()
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        status = 128 - status
    os._exit(status)
