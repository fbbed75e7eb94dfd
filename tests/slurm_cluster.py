"""A real single-node SLURM cluster (munged + slurmctld + slurmd) for tests.

Everything lives in one temporary directory: munge key and socket, slurm.conf,
state, spool and logs. Client commands find the cluster through SLURM_CONF in
`SlurmCluster.env`. One thing lives outside: /etc/slurm/slurm.conf, SLURM's
default config path, becomes a link to ours while the cluster runs, because
the plugin's job step drops SLURM_CONF before its inner `srun`. It must not
exist beforehand (a real cluster's config is never touched). The daemons talk
over 127.0.0.1 on free ports; teardown stops only the processes started here,
by pid, and removes the link.

Use the `slurm_cluster` fixture (import it into the test module). Without the
Debian packages it skips, except under CI=true where it fails: CI must run
.ci/slurm/install.sh first.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
INSTALL_HINT = "slurm-wlm not installed: run .ci/slurm/install.sh"
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
    cpus: int
    real_memory_mb: int
    env: dict
    processes: dict = field(default_factory=dict)  # daemon name -> Popen
    linked_default_conf: bool = False

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster."""
        return subprocess.run(args, env=self.env, capture_output=True, text=True, check=check, timeout=timeout)

    def node_state(self) -> str:
        result = self.run("sinfo", "--noheader", "--Node", "--format=%T", check=False)
        return result.stdout.strip()

    def job_state(self, job_id: str) -> str:
        """State of a job, finished ones included (kept for MinJobAge seconds)."""
        out = self.run("scontrol", "show", "job", job_id).stdout
        return re.search(r"JobState=(\S+)", out).group(1)

    def job_ids(self) -> list[str]:
        """Every job this cluster has seen that it still remembers."""
        out = self.run("squeue", "--states=all", "--noheader", "--format=%i").stdout
        return out.split()

    def log_tail(self, lines: int = 30) -> str:
        tails = []
        for log in sorted((self.root / "log").iterdir()):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(tails)

    def stop(self) -> None:
        """Cancel leftover jobs, then stop our daemons (newest first) by pid."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            self.run("scancel", "--full", "--user=" + _user(), check=False)
            _wait_for(lambda: not self.run("squeue", "--noheader", check=False).stdout.strip(), 30)
        for name in reversed(list(self.processes)):
            process = self.processes.pop(name)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self.linked_default_conf and DEFAULT_CONF.is_symlink():
            DEFAULT_CONF.unlink()
            self.linked_default_conf = False


def missing_binaries() -> list[str]:
    return [name for name in DAEMONS if shutil.which(name) is None]


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(condition, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def _node_hardware() -> tuple[int, int]:
    """CPUs and RealMemory as slurmd itself detects them (`slurmd -C`)."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    cpus = int(re.search(r"\bCPUs=(\d+)", out).group(1))
    memory = int(re.search(r"\bRealMemory=(\d+)", out).group(1))
    return cpus, memory


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
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue/scontrol for 10 minutes: the snakemake
# SLURM plugin's squeue status command needs this, and so do the tests.
MinJobAge=600
ReturnToService=2
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def _link_default_conf(cluster: SlurmCluster, conf: Path) -> None:
    """Point SLURM's default config path at ours; a stale link of ours is replaced."""
    if DEFAULT_CONF.is_symlink() and not DEFAULT_CONF.exists():
        DEFAULT_CONF.unlink()  # left by a test run that was killed
    if DEFAULT_CONF.exists() or DEFAULT_CONF.is_symlink():
        raise SlurmStartError(f"{DEFAULT_CONF} exists: this machine has its own SLURM; "
                              "the test cluster would need to replace its config")
    DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
    DEFAULT_CONF.symlink_to(conf)
    cluster.linked_default_conf = True


def _spawn(cluster: SlurmCluster, name: str, *args: str) -> None:
    # In the foreground (-D/-F) the daemons log to stderr: one file each.
    log = open(cluster.root / "log" / f"{name}.log", "wb")
    cluster.processes[name] = subprocess.Popen(
        [name, *args], env=cluster.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    log.close()


def _expect_running(cluster: SlurmCluster, name: str) -> None:
    if cluster.processes[name].poll() is not None:
        raise SlurmStartError(f"{name} exited with {cluster.processes[name].returncode}\n{cluster.log_tail()}")


def start_cluster(root: Path) -> SlurmCluster:
    """Start munged, slurmctld and slurmd in `root`; return once the node is idle."""
    node = socket.gethostname().split(".")[0]
    cpus, memory_mb = _node_hardware()
    for sub in ("munge", "state", "spool", "run", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "munge").chmod(0o755)  # munged wants its socket dir searchable by all
    conf = root / "slurm.conf"
    conf.write_text(_slurm_conf(root, node, cpus, memory_mb))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    # A SLURM_* variable from an enclosing job would redirect client commands.
    for key in [k for k in env if k.startswith("SLURM_") and k != "SLURM_CONF"]:
        del env[key]
    cluster = SlurmCluster(root=root, node=node, cpus=cpus, real_memory_mb=memory_mb, env=env)

    munge = root / "munge"
    subprocess.run(["mungekey", "--create", f"--keyfile={munge}/munge.key"], check=True, capture_output=True)
    try:
        _link_default_conf(cluster, conf)
        _spawn(cluster, "munged", "--foreground", "--force", f"--socket={munge}/munge.socket", f"--key-file={munge}/munge.key",
               f"--pid-file={munge}/munged.pid", f"--seed-file={munge}/munged.seed", f"--log-file={root}/log/munged.log")
        if not _wait_for(lambda: (munge / "munge.socket").exists(), 15):
            _expect_running(cluster, "munged")
            raise SlurmStartError("munged did not create its socket")
        _spawn(cluster, "slurmctld", "-D", "-c", "-f", str(conf))
        _spawn(cluster, "slurmd", "-D", "-f", str(conf))

        def node_idle() -> bool:
            for name in ("slurmctld", "slurmd"):
                _expect_running(cluster, name)
            return cluster.node_state() == "idle"

        if not _wait_for(node_idle, START_TIMEOUT_S):
            raise SlurmStartError(f"node not idle after {START_TIMEOUT_S}s (state {cluster.node_state()!r})\n"
                                  + cluster.log_tail())
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    missing = missing_binaries()
    if missing:
        reason = f"{INSTALL_HINT} (missing: {', '.join(missing)})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with open(LOCK_FILE, "w") as lock:
        if not _wait_for(lambda: _try_lock(lock), LOCK_TIMEOUT_S, interval=2):
            pytest.fail(f"another test SLURM cluster held {LOCK_FILE} for {LOCK_TIMEOUT_S}s")
        cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
        yield cluster
        cluster.stop()


def _try_lock(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
