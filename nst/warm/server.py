"""The warm-start server: imports what a run needs once, then forks one child per run.

Started by the first client (:mod:`.client`) as ``python -c ... SOCKET IDLE``, in a session of
its own. Forking is safe because the server never has a second thread: torch's OpenMP pool is
created on the first parallel operation, and the server runs none with more than one thread
(OpenBLAS, which numpy starts at import, stops its own threads around a fork). Nothing in it
touches CUDA, which a forked child could not use after its parent had.
"""
from __future__ import annotations

import contextlib
import gc
import os
import selectors
import signal
import socket
import struct
import sys
import time
import traceback
from pathlib import Path

from .protocol import Channel

ACCEPT_TIMEOUT = 10.0  # seconds a connected client has to send its request


def preload() -> int:
    """Import everything a run imports and dequantise the weights; return the thread count
    torch chose at import (what a fresh process would use without ``--threads``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # no OpenMP pool in the server (see the module docstring)
    from PIL import Image

    Image.init()  # every file format's plugin, which Pillow otherwise loads on the first open
    from .. import plots  # matplotlib, pandas
    from ..engine import cli, run  # noqa: F401  (the engine, torch's modules it uses)
    from ..engine.metrics import GRAM_LAYERS, swd_directions
    from ..engine.model import load_caffe_vgg19_state

    with contextlib.suppress(Exception):  # a missing weights file is the run's error to report
        load_caffe_vgg19_state()
    plots.warm_up()
    for index in range(len(GRAM_LAYERS)):  # the quality meter's fixed random directions
        swd_directions(index)
    # What is loaded now lives as long as the server: kept out of the collector's passes, a
    # child's collections neither walk it nor copy its pages (they write to every object's header).
    gc.collect()
    gc.freeze()
    return threads


class Server:
    def __init__(self, path: Path, idle: float):
        self.path, self.idle = path, idle
        self.runs: dict[int, Channel] = {}  # child pid -> its client's connection
        self.selector = selectors.DefaultSelector()
        self.stopping = False

    def listen(self) -> None:
        """Listen at a temporary name, then rename it into place: a client that finds the
        socket finds a server that has finished loading."""
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.unlink(missing_ok=True)
        self.listener.bind(str(temporary))
        self.listener.listen(128)
        self.listener.setblocking(False)
        os.replace(temporary, self.path)
        self.inode = self.path.stat().st_ino
        self.selector.register(self.listener, selectors.EVENT_READ)
        # A signal's byte on this socket wakes select(): a child ended, or the server should stop.
        self.wake_read, self.wake_write = socket.socketpair()
        for end in (self.wake_read, self.wake_write):
            end.setblocking(False)
        signal.set_wakeup_fd(self.wake_write.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._stop)
        self.selector.register(self.wake_read, selectors.EVENT_READ)

    def _stop(self, *_) -> None:
        """Stop taking runs; those running finish and report first."""
        self.stopping = True

    def serve(self, default_threads: int) -> None:
        self.default_threads = default_threads
        last = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                if not self.runs and (self.stopping or now - last >= self.idle):
                    return
                if self.stopping:
                    self._unlink()
                timeout = None if self.runs else last + self.idle - now
                for key, _ in self.selector.select(timeout):
                    if key.fileobj is self.listener:
                        if not self.stopping:
                            self._accept()
                    elif key.fileobj is self.wake_read:
                        with contextlib.suppress(BlockingIOError):
                            while self.wake_read.recv(4096):
                                pass
                    else:
                        self._client_readable(key.fileobj, key.data)
                self._reap()
                if self.runs:
                    last = time.monotonic()
        finally:
            self._unlink()

    def _unlink(self) -> None:
        """Remove the socket if it is still this server's (a newer server may have replaced it)."""
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self.inode:
                self.path.unlink()

    def _accept(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except BlockingIOError:
            return
        fds: list[int] = []
        try:
            peer = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if peer[1] != os.getuid():  # only the user who owns the server may run code in it
                raise ConnectionRefusedError(f"a request from uid {peer[1]}")
            connection.settimeout(ACCEPT_TIMEOUT)
            channel = Channel(connection)
            request, fds = channel.receive(max_fds=3)
            if request is None:  # a probe (``python -m nst.warm start``), or a client that gave up
                connection.close()
                return
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                connection.close()
                self._become_run(request, fds)  # never returns
            channel.send({"pid": pid})
        except Exception as err:  # one bad request must not end the server for the others
            print(f"nst warm-start server: request refused: {err!r}", file=sys.stderr)
            connection.close()
            return
        finally:
            for fd in fds:
                os.close(fd)
        connection.settimeout(None)
        self.runs[pid] = channel
        self.selector.register(connection, selectors.EVENT_READ, pid)

    def _client_readable(self, connection: socket.socket, pid: int) -> None:
        """A client sends nothing after its request: readable means it has gone (killed, or
        its job cancelled). Its run is asked to stop as SLURM would ask: SIGTERM, which ends
        the step in progress with a checkpoint."""
        with contextlib.suppress(OSError):
            if connection.recv(1):
                return
        self.selector.unregister(connection)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            channel = self.runs.pop(pid, None)
            if channel is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(channel.sock)
            with contextlib.suppress(OSError):
                channel.send({"status": os.waitstatus_to_exitcode(status)})
            channel.sock.close()

    def _become_run(self, request: dict, fds: list[int]) -> None:
        """In the child: take on the client's streams, folder, environment and arguments, run
        the command as ``python -m nst`` would, and exit with its status."""
        try:
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.selector.close()
            for sock in (self.listener, self.wake_read, self.wake_write, *(c.sock for c in self.runs.values())):
                sock.close()
            streams = request["streams"]
            for target in (0, 1, 2):
                if target in streams:
                    os.dup2(fds[streams.index(target)], target)
                else:  # closed in the client: closed here too
                    with contextlib.suppress(OSError):
                        os.close(target)
            for fd in fds:
                if fd > 2:
                    os.close(fd)
            sys.stdout.reconfigure(line_buffering=os.isatty(1))
            os.chdir(request["cwd"])
            os.umask(request["umask"])
            os.environ.clear()
            os.environ.update(request["env"])
            sys.path[:] = request["path"]
            sys.argv = [request["argv0"], *request["argv"]]
            import torch

            torch.set_num_threads(self.default_threads)
            from ..engine.cli import leave, main
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        try:
            status = main(request["argv"])
        except SystemExit as stop:  # argparse: --help (0), a usage error (2)
            code = stop.code
            if code is not None and not isinstance(code, int):
                print(code, file=sys.stderr)
            status = 0 if code is None else code if isinstance(code, int) else 1
        except KeyboardInterrupt:  # as Python ends on one: the traceback, then killed by SIGINT
            traceback.print_exc()
            sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
            status = 130
        except BaseException:
            traceback.print_exc()
            status = 1
        leave(status)


def main() -> None:
    """``SOCKET IDLE_SECONDS`` on the command line; the import path is the client's."""
    path, idle = Path(sys.argv[1]), float(sys.argv[2])
    os.umask(0o077)
    default_threads = preload()
    server = Server(path, idle)
    server.listen()
    print(f"nst warm-start server {os.getpid()}: listening at {path}, leaving after {idle:g} s idle",
          file=sys.stderr, flush=True)
    server.serve(default_threads)
    why = "asked to stop" if server.stopping else f"no run for {idle:g} s"
    print(f"nst warm-start server {os.getpid()}: {why}, leaving", file=sys.stderr, flush=True)
