"""The warm-start server's life (nst/warm/server.py): started once by whichever client comes first,
replaced when killed, stopped by SIGTERM after its runs, gone after its idle time."""
import os
import signal
import subprocess
import sys

from support.stopping import default_signals, last_logged_step, stop_command, stop_files
from support.warm import alive, server_pids, wait_until, warm_env

HELP = [sys.executable, "-m", "nst", "--help"]


def test_clients_arriving_together_start_one_server(own_folder):
    clients = [subprocess.Popen(HELP, env=warm_env(own_folder), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(3)]
    for client in clients:
        stdout, stderr = client.communicate(timeout=300)
        assert client.returncode == 0, stderr
        assert stdout.startswith("usage: nst")
    assert len(server_pids(own_folder)) == 1
    assert len(list(own_folder.glob("*.sock"))) == 1


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
