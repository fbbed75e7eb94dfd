"""Warm-start servers in a test's own folder (tests/warm/)."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
import time
from pathlib import Path

from nst.warm.protocol import DIR_VARIABLE, IDLE_VARIABLE

LISTENING = re.compile(r"nst warm-start server (\d+): listening at (\S+)")


def short_folder() -> Path:
    """A folder whose socket paths fit in a Unix socket address (pytest's tmp_path may not)."""
    return Path(tempfile.mkdtemp(prefix="nstw-", dir="/tmp"))


def warm_env(folder: Path, idle: float = 60, **extra: str) -> dict[str, str]:
    return {**os.environ, "NST_WARM_START": "1", DIR_VARIABLE: str(folder), IDLE_VARIABLE: str(idle), **extra}


def server_pids(folder: Path) -> list[int]:
    """Every server started in ``folder`` (each log's "listening" line), oldest log first."""
    pids = []
    for log in sorted(folder.glob("*.log"), key=os.path.getmtime):
        pids += [int(match[1]) for match in LISTENING.finditer(log.read_text())]
    return pids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def wait_until(condition, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)


def stop_servers(folder: Path) -> None:
    for pid in server_pids(folder):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
