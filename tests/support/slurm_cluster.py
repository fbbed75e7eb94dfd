"""A real single-node SLURM cluster (munged + slurmctld + slurmd) for tests.

Everything lives in one temporary directory: munge key and socket, slurm.conf,
state, spool and logs. Client commands reach the cluster through SLURM_CONF in
`SlurmCluster.env`. One thing lives outside: SLURM's default config path
/etc/slurm/slurm.conf links to ours while the cluster runs, because the SLURM
plugin's job step drops SLURM_CONF before its inner `srun`. A real config there
is never touched (the cluster refuses to start). The daemons talk over
127.0.0.1 on free ports; teardown stops only the processes started here, by
pid, and removes the link.

Use the `slurm_cluster` fixture (import it into the test module). It needs
root and Debian's slurm-wlm + munge; without them it skips, except under
CI=true, where it fails: CI runs .ci/slurm/install.sh first.
"""
from __future__ import annotations

import fcntl
import getpass
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NEEDED = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
START_TIMEOUT_S = 60
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
CONF_HEADER = "# Single-node test cluster written by tests/slurm_cluster.py"
# One test cluster per machine at a time (it owns DEFAULT_CONF); others wait.
LOCK_FILE = Path("/tmp/nst-slurm-test-cluster.lock")
LOCK_TIMEOUT_S = 900


class SlurmStartError(RuntimeError):
    """The cluster did not come up; the message carries the daemon logs."""


@dataclass
class SlurmCluster:
    root: Path
    node: str
    env: dict  # os.environ plus SLURM_CONF: pass it to every SLURM client and snakemake
    processes: dict = field(default_factory=dict)  # daemon name -> Popen, in start order
    linked_default_conf: bool = False

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a SLURM client command (sinfo, squeue, scontrol, scancel, ...) against this cluster."""
        return subprocess.run(args, env=self.env, capture_output=True, text=True, check=check, timeout=timeout)

    def node_state(self) -> str:
        return self.run("sinfo", "--noheader", "--Node", "--format=%T", check=False).stdout.strip()

    def log_tail(self, lines: int = 30) -> str:
        tails = []
        for log in sorted((self.root / "log").iterdir()):
            tails.append(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(tails)

    def stop(self) -> None:
        """Cancel leftover jobs, stop our daemons (newest first) by pid, remove the link."""
        slurmctld = self.processes.get("slurmctld")
        if slurmctld is not None and slurmctld.poll() is None:
            self.run("scancel", f"--user={getpass.getuser()}", check=False)
            _wait_for(lambda: not self.run("squeue", "--noheader", check=False).stdout.strip(), 30)
        for name in reversed(list(self.processes)):
            process = self.processes.pop(name)
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self.linked_default_conf:
            DEFAULT_CONF.unlink(missing_ok=True)
            self.linked_default_conf = False


def _wait_for(condition, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_hardware() -> tuple[int, int]:
    """CPUs and RealMemory (MB) as slurmd itself detects them: a node configured
    with more than slurmd finds is drained."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"\bCPUs=(\d+)", out)[1]), int(re.search(r"\bRealMemory=(\d+)", out)[1])


def _slurm_conf(root: Path, node: str, cpus: int, memory_mb: int) -> str:
    return f"""\
{CONF_HEADER}
ClusterName=nsttest
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue/scontrol for 10 minutes: the SLURM
# plugin's squeue status command needs this (>= 120 s), and so do the tests.
MinJobAge=600
ReturnToService=2
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
# One make-believe GPU (gres.conf: File=/dev/null) lets `--gpus=1` jobs run.
GresTypes=gpu
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def _is_test_conf(path: Path) -> bool:
    """A link to one of our configs (or to nothing): left by a test run that was killed."""
    if not path.is_symlink():
        return False
    try:
        return path.read_text().startswith(CONF_HEADER)
    except FileNotFoundError:
        return True


def _link_default_conf(cluster: SlurmCluster, conf: Path) -> None:
    if _is_test_conf(DEFAULT_CONF):
        DEFAULT_CONF.unlink()  # we hold the lock, so no live test cluster owns it
    if DEFAULT_CONF.exists() or DEFAULT_CONF.is_symlink():
        raise SlurmStartError(f"{DEFAULT_CONF} exists: this machine has a SLURM of its own, "
                              "whose config the test cluster would have to replace")
    DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
    DEFAULT_CONF.symlink_to(conf)
    cluster.linked_default_conf = True


def _spawn(cluster: SlurmCluster, name: str, *args: str) -> None:
    # In the foreground (-D / --foreground) a daemon logs to stderr: one file each.
    with open(cluster.root / "log" / f"{name}.log", "wb") as log:
        cluster.processes[name] = subprocess.Popen([name, *args], env=cluster.env, stdin=subprocess.DEVNULL,
                                                   stdout=log, stderr=subprocess.STDOUT)


def _check_running(cluster: SlurmCluster, *names: str) -> None:
    for name in names:
        if cluster.processes[name].poll() is not None:
            raise SlurmStartError(f"{name} exited with {cluster.processes[name].returncode}\n{cluster.log_tail()}")


def start_cluster(root: Path) -> SlurmCluster:
    """Start munged, slurmctld and slurmd in `root`; return once the node is idle."""
    node = socket.gethostname().split(".")[0]
    for sub in ("munge", "state", "spool", "run", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    munge = root / "munge"
    munge.chmod(0o755)  # munged wants its socket's folder searchable by all
    conf = root / "slurm.conf"
    conf.write_text(_slurm_conf(root, node, *_node_hardware()))
    (root / "gres.conf").write_text(f"NodeName={node} Name=gpu File=/dev/null\n")
    # SLURM_* variables of an enclosing job would point the clients elsewhere.
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
    cluster = SlurmCluster(root=root, node=node, env={**env, "SLURM_CONF": str(conf)})

    subprocess.run(["mungekey", "--create", f"--keyfile={munge}/munge.key"], check=True, capture_output=True)
    try:
        _link_default_conf(cluster, conf)
        # --force: munged would refuse the socket because pytest's base temp
        # folder is private to root; only root uses this cluster.
        _spawn(cluster, "munged", "--foreground", "--force", f"--socket={munge}/munge.socket",
               f"--key-file={munge}/munge.key", f"--pid-file={munge}/munged.pid",
               f"--seed-file={munge}/munged.seed", f"--log-file={root}/log/munged.log")
        if not _wait_for(lambda: (munge / "munge.socket").exists(), 15):
            _check_running(cluster, "munged")
            raise SlurmStartError("munged did not create its socket\n" + cluster.log_tail())
        _spawn(cluster, "slurmctld", "-D", "-c", "-f", str(conf))
        _spawn(cluster, "slurmd", "-D", "-f", str(conf))

        def node_idle() -> bool:
            _check_running(cluster, "munged", "slurmctld", "slurmd")
            return cluster.node_state() == "idle"

        if not _wait_for(node_idle, START_TIMEOUT_S):
            raise SlurmStartError(f"node not idle after {START_TIMEOUT_S} s (state {cluster.node_state()!r})\n"
                                  + cluster.log_tail())
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _missing_requirement() -> str | None:
    missing = [name for name in NEEDED if shutil.which(name) is None]
    if missing:
        return f"slurm-wlm not installed: run .ci/slurm/install.sh (missing: {', '.join(missing)})"
    if os.geteuid() != 0:
        return "the test SLURM cluster needs root (slurmd launches the jobs; /etc/slurm/slurm.conf)"
    return None


def _try_lock(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    reason = _missing_requirement()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI must not skip the SLURM tests)")
        pytest.skip(reason)
    with open(LOCK_FILE, "w") as lock:
        if not _wait_for(lambda: _try_lock(lock), LOCK_TIMEOUT_S, interval=2):
            pytest.fail(f"another test SLURM cluster held {LOCK_FILE} for {LOCK_TIMEOUT_S} s")
        cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
        yield cluster
        cluster.stop()
