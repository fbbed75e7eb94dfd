"""What client and server agree on: where the server listens, and how messages travel.

A message is a 4-byte big-endian length and that many bytes of JSON; the request carries the
client's standard streams as file descriptors (SCM_RIGHTS) beside it.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
import sys
import tempfile
from pathlib import Path

# Where the servers' sockets, locks and logs live (one folder per user, mode 0700).
DIR_VARIABLE = "NST_WARM_START_DIR"
# A server exits after this many seconds without a run; NST_WARM_START_IDLE overrides it.
IDLE_SECONDS = 120.0
IDLE_VARIABLE = "NST_WARM_START_IDLE"
# Variables that take effect when a library is imported or loaded (thread pools, paths,
# matplotlib's settings): a server started under other values would not behave like a fresh
# process, so each set of values gets its own server.
IMPORT_TIME_PREFIXES = ("PYTHON", "OMP_", "GOMP_", "KMP_", "MKL_", "OPENBLAS_", "TORCH", "PYTORCH_", "MPL", "LD_")
# A Unix socket's path must fit in sockaddr_un (108 bytes with the final NUL).
MAX_SOCKET_PATH = 107
_LENGTH = struct.Struct(">I")
MAX_MESSAGE = 16 * 1024 * 1024


class Unavailable(Exception):
    """Warm start cannot be used here; the message says why (the command then runs in-process)."""


def runtime_dir(environ=os.environ) -> Path:
    """This user's folder for servers, created 0700; refused if another user could reach into it."""
    chosen = environ.get(DIR_VARIABLE)
    base = Path(chosen) if chosen else Path(environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"nst-warm-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = base.stat()
    except OSError as err:
        raise Unavailable(f"cannot create {base}: {err.strerror}") from None
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise Unavailable(f"{base} belongs to another user or is open to others (mode {stat.S_IMODE(info.st_mode):o})")
    return base


def _package_files() -> list[str]:
    package = Path(__file__).resolve().parent.parent
    lines = [str(package)]
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            info = os.stat(os.path.join(folder, name))
            lines.append(f"{os.path.relpath(os.path.join(folder, name), package)} {info.st_mtime_ns} {info.st_size}")
    return lines


# What installing a package leaves in a folder on the import path: the names carry the versions,
# the times a reinstall of the same version.
INSTALL_RECORDS = (".dist-info", ".egg-info", ".egg-link", ".pth")


def _path_folders(path: list[str]) -> list[str]:
    """Each import folder with its packages' install records (names and times). Not the folder's
    own time: that changes whenever anything appears in it (a run's results beside a checkout on
    PYTHONPATH), and each change would start another server."""
    lines = []
    for entry in path:
        try:
            with os.scandir(entry) as items:
                records = sorted(f"{item.name}@{item.stat().st_mtime_ns}" for item in items
                                 if item.name.endswith(INSTALL_RECORDS))
            lines.append(f"{entry} {' '.join(records)}")
        except OSError:  # missing, a file (a zip), unreadable
            lines.append(f"{entry} -")
    return lines


def server_key(environ=os.environ, path: list[str] | None = None) -> str:
    """One server per interpreter, code version, set of installed packages and import-time
    environment. ``path``: the import path without its first entry (the working folder under
    ``python -m``), which the run gets back as its own."""
    path = sys.path[1:] if path is None else path
    variables = sorted(f"{k}={v}" for k, v in environ.items() if k.startswith(IMPORT_TIME_PREFIXES))
    parts = [sys.executable, sys.version, *variables, *_path_folders(path), *_package_files()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def socket_path(environ=os.environ) -> Path:
    path = runtime_dir(environ) / f"{server_key(environ)}.sock"
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise Unavailable(f"the socket path {path} is longer than a Unix socket allows; set {DIR_VARIABLE} shorter")
    return path


def idle_seconds(environ=os.environ) -> float:
    try:
        return float(environ.get(IDLE_VARIABLE, IDLE_SECONDS))
    except ValueError:
        return IDLE_SECONDS


class Channel:
    """Messages over a connected Unix socket, in order (one read may bring the start of the next)."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buffer = sock, b""

    def send(self, message: dict, fds: list[int] = ()) -> None:
        data = json.dumps(message).encode()
        framed = _LENGTH.pack(len(data)) + data
        if fds:
            sent = socket.send_fds(self.sock, [framed], list(fds))
            framed = framed[sent:]
        if framed:
            self.sock.sendall(framed)

    def receive(self, max_fds: int = 0) -> tuple[dict | None, list[int]]:
        """The next message and the descriptors that came with it (only the first read of a
        message can bring them); (None, fds) when the other side closed the connection first."""
        fds: list[int] = []
        while True:
            if len(self.buffer) >= _LENGTH.size:
                (length,) = _LENGTH.unpack_from(self.buffer)
                if length > MAX_MESSAGE:
                    raise ValueError(f"a message of {length} bytes")
                end = _LENGTH.size + length
                if len(self.buffer) >= end:
                    message, self.buffer = json.loads(self.buffer[_LENGTH.size:end]), self.buffer[end:]
                    return message, fds
            if max_fds and not fds:
                data, fds, _flags, _address = socket.recv_fds(self.sock, 65536, max_fds)
            else:
                data = self.sock.recv(65536)
            if not data:
                return None, fds
            self.buffer += data
