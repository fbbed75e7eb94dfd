"""``NST_WARM_START=1 python -m nst``: the run happens in a fork of the server and the client stands
in for it (nst/warm/client.py): same files, same exit statuses and messages, signals passed on."""
import os
import signal
import subprocess
import sys
import time

import pytest

from nst.engine import checkpoints
from nst.record import FINISHED, INTERRUPTED, read_record
from support.engine import read_csv, run_cli
from support.stopping import STOP_RUN, default_signals, last_logged_step, signal_mid_run, stop_command, stop_files
from support.warm import alive, server_pids, thread_count, wait_until, warm_env

LOSSES = ["step", "content_loss", "style_loss", "tv_loss", "total_loss"]


@pytest.fixture(scope="module")
def straight(images, tmp_path_factory):
    """STOP_RUN in this test process: what a run without warm start writes."""
    return stop_files(run_cli(images, tmp_path_factory.mktemp("straight"), *STOP_RUN))


def run_warm(command, folder, **kwargs):
    return subprocess.run(command, env=warm_env(folder), capture_output=True, text=True, timeout=300,
                          preexec_fn=default_signals, **kwargs)


def assert_same_run(files, straight):
    assert read_record(files.record).status == FINISHED
    assert files.final.read_bytes() == straight.final.read_bytes()
    assert [{k: row[k] for k in LOSSES} for row in read_csv(files.log_csv)] == \
           [{k: row[k] for k in LOSSES} for row in read_csv(straight.log_csv)]


def test_a_warm_run_writes_what_a_run_in_its_own_process_writes(images, tmp_path, shared_folder, straight):
    first = run_warm(stop_command(images, tmp_path / "first"), shared_folder)
    assert first.returncode == 0, first.stderr
    assert "warm start unavailable" not in first.stderr
    assert first.stderr.rstrip().splitlines()[-1].startswith("scene_tiles: 30 steps in ")  # the run's own line
    assert_same_run(stop_files(tmp_path / "first"), straight)
    second = run_warm(stop_command(images, tmp_path / "second"), shared_folder)
    assert second.returncode == 0, second.stderr
    assert_same_run(stop_files(tmp_path / "second"), straight)
    [server] = server_pids(shared_folder)  # both runs were forks of one server, still there
    assert alive(server)
    # Forking is safe only from a process with one thread (nst/warm/server.py).
    assert thread_count(server) == 1


def test_exit_statuses_and_messages_are_the_runs(images, tmp_path, shared_folder):
    content, style = images
    usage = run_warm([sys.executable, "-m", "nst", "--content", str(content), "--output-dir", str(tmp_path)],
                     shared_folder)
    assert usage.returncode == 2
    assert "nst: error: the following arguments are required: --style" in usage.stderr
    missing = tmp_path / "no such photo.png"
    error = run_warm(stop_command((missing, style), tmp_path / "out"), shared_folder)
    assert error.returncode == 1
    assert error.stderr.startswith("nst: error: ") and str(missing) in error.stderr
    shown = run_warm([sys.executable, "-m", "nst", "--help"], shared_folder)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: nst")


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_client_stops_the_run_with_a_checkpoint(images, tmp_path, shared_folder, straight,
                                                                signum, code):
    seen, result = signal_mid_run(images, tmp_path, signum, env=warm_env(shared_folder))
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    [saved] = checkpoints.list_checkpoints(tmp_path / "checkpoints")
    step = int(checkpoints.NAME.fullmatch(saved.name).group(1))
    assert step in (seen, seen + 1)
    record = read_record(stop_files(tmp_path).record)
    assert record.status == INTERRUPTED
    assert record.error.startswith(f"stopped by {signal.Signals(signum).name} at step {step}")
    resumed = run_warm(stop_command(images, tmp_path, "--resume"), shared_folder)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(stop_files(tmp_path), straight)


def test_a_killed_client_has_its_run_stopped_with_a_checkpoint(images, tmp_path, shared_folder):
    """A job killed outright (SIGKILL: nothing to pass on) leaves no run going on without it:
    the server sees the connection close and sends the run SIGTERM."""
    process = subprocess.Popen(stop_command(images, tmp_path), env=warm_env(shared_folder),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=default_signals)
    wait_until(lambda: last_logged_step(tmp_path) >= 3 or process.poll() is not None, 180, "step 3")
    process.kill()
    process.wait()
    files = stop_files(tmp_path)
    wait_until(lambda: files.record.exists() and read_record(files.record).status == INTERRUPTED, 60,
               "the interrupted record")
    assert read_record(files.record).error.startswith("stopped by SIGTERM")
    assert len(checkpoints.list_checkpoints(tmp_path / "checkpoints")) == 1
    assert not files.final.exists()


def test_without_a_usable_folder_the_run_happens_in_the_clients_process(images, tmp_path, straight):
    folder = tmp_path / "open"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)  # another user could reach a socket in it
    result = run_warm(stop_command(images, tmp_path / "out"), folder)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"nst: warm start unavailable ({folder} belongs to another user or is open to "
                                    "others (mode 755)); running in this process\n")
    assert_same_run(stop_files(tmp_path / "out"), straight)
    assert list(folder.iterdir()) == []


def test_a_warm_job_takes_less_time_than_a_fresh_process(images, tmp_path, shared_folder):
    """The point of it: the imports and the weights are paid once (each measured once, same machine)."""
    run_warm([sys.executable, "-m", "nst", "--help"], shared_folder)  # the server is up
    times = {}
    for name, env in (("warm", warm_env(shared_folder)), ("fresh", {**os.environ, "NST_WARM_START": "0"})):
        start = time.monotonic()
        done = subprocess.run(stop_command(images, tmp_path / name, "--nsteps", 2), env=env, capture_output=True,
                              text=True, timeout=300)
        times[name] = time.monotonic() - start
        assert done.returncode == 0, done.stderr
    # A fresh process imports torch (~2-6 s on these machines); a fork of the server does not.
    assert times["warm"] < times["fresh"] - 1.0, times
