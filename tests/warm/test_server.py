"""The warm-start server's life (nst/warm/server.py): started once by whichever client comes first,
replaced when killed, stopped by SIGTERM after its runs, gone after its idle time."""
import os
import signal
import subprocess
import sys

from support.stopping import default_signals, last_logged_step, stop_command, stop_files
from support.warm import alive, server_pids, wait_until, warm_env

HELP = [sys.executable, "-m", "nst", "--help"]
PRESTART = [sys.executable, "-m", "nst.warm", "start"]


def test_clients_arriving_together_start_one_server(own_folder):
    clients = [subprocess.Popen(HELP, env=warm_env(own_folder), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(3)]
    for client in clients:
        stdout, stderr = client.communicate(timeout=300)
        assert client.returncode == 0, stderr
        assert stdout.startswith("usage: nst")
    assert len(server_pids(own_folder)) == 1
    assert len(list(own_folder.glob("*.sock"))) == 1


def test_a_server_started_ahead_serves_the_runs_that_follow(own_folder):
    """``python -m nst.warm start`` (the workflow's onstart): a server listening when it returns,
    the one the next runs use; a second start finds it; the probe leaves nothing in its log."""
    started = subprocess.run(PRESTART, env=warm_env(own_folder), capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    [socket_file] = own_folder.glob("*.sock")
    assert started.stderr == f"nst: warm-start server started at {socket_file}\n"
    [server] = server_pids(own_folder)
    assert alive(server)
    again = subprocess.run(PRESTART, env=warm_env(own_folder), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0
    assert again.stderr == f"nst: a warm-start server was already listening at {socket_file}\n"
    run = subprocess.run(HELP, env=warm_env(own_folder), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.startswith("usage: nst") and "unavailable" not in run.stderr
    assert server_pids(own_folder) == [server]
    [log] = own_folder.glob("*.log")
    assert log.read_text().splitlines() == [f"nst warm-start server {server}: listening at {socket_file}, "
                                            "leaving after 60 s idle"]
    wrong = subprocess.run([*PRESTART[:-1], "stop"], env=warm_env(own_folder), capture_output=True, text=True)
    assert wrong.returncode == 1 and wrong.stderr == "usage: python -m nst.warm start\n"


def test_without_a_usable_folder_a_start_ahead_says_why_and_succeeds(tmp_path):
    taken = tmp_path / "servers"
    taken.mkdir(mode=0o755)  # open to others: refused (nst/warm/protocol.py)
    started = subprocess.run(PRESTART, env=warm_env(taken), capture_output=True, text=True, timeout=60)
    assert started.returncode == 0
    assert started.stderr.startswith(f"nst: warm start unavailable ({taken} belongs to another user or is open "
                                      "to others (mode 755)); each job will say so")
    assert list(taken.iterdir()) == []


def test_a_killed_server_is_replaced_by_the_next_client(own_folder):
    assert subprocess.run(HELP, env=warm_env(own_folder), capture_output=True).returncode == 0
    [first] = server_pids(own_folder)
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: not alive(first), 30, "the server's end")
    [socket_file] = own_folder.glob("*.sock")  # left behind: nobody cleaned up
    again = subprocess.run(HELP, env=warm_env(own_folder), capture_output=True, text=True)
    assert again.returncode == 0 and "unavailable" not in again.stderr
    [second] = server_pids(own_folder)
    assert second != first and alive(second)
    assert socket_file.exists()


def test_the_server_leaves_after_its_idle_time(own_folder):
    assert subprocess.run(HELP, env=warm_env(own_folder, idle=1), capture_output=True).returncode == 0
    [server] = server_pids(own_folder)
    wait_until(lambda: not alive(server), 30, "the idle server's end")
    assert list(own_folder.glob("*.sock")) == []
    [log] = own_folder.glob("*.log")
    assert log.read_text().rstrip().endswith(f"{server}: no run for 1 s, leaving")


def test_a_stopped_server_lets_its_running_run_finish(images, tmp_path, own_folder):
    client = subprocess.Popen(stop_command(images, tmp_path), env=warm_env(own_folder), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    wait_until(lambda: last_logged_step(tmp_path) >= 3 or client.poll() is not None, 180, "step 3")
    [server] = server_pids(own_folder)
    os.kill(server, signal.SIGTERM)
    wait_until(lambda: list(own_folder.glob("*.sock")) == [], 30, "the socket's removal")  # no new runs
    _, stderr = client.communicate(timeout=300)
    assert client.returncode == 0, stderr
    assert stop_files(tmp_path).final.exists()
    wait_until(lambda: not alive(server), 30, "the server's end")
    [log] = own_folder.glob("*.log")
    assert log.read_text().rstrip().endswith(f"{server}: asked to stop, leaving")
