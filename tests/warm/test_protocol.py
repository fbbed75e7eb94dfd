"""Where servers live and how messages travel (nst/warm/protocol.py)."""
import os
import socket

import pytest

from nst.warm import asked
from nst.warm.protocol import Channel, Unavailable, runtime_dir, server_key


def test_messages_arrive_whole_and_in_order_with_their_descriptors(tmp_path):
    left, right = socket.socketpair()
    sender, receiver = Channel(left), Channel(right)
    read_end, write_end = os.pipe()
    sender.send({"argv": ["--content", "é.png"], "env": {"X": "y" * 200_000}}, fds=[write_end])
    sender.send({"pid": 7})  # may come in the same read as the end of the first
    first, fds = receiver.receive(max_fds=3)
    assert first == {"argv": ["--content", "é.png"], "env": {"X": "y" * 200_000}}
    assert receiver.receive() == ({"pid": 7}, [])
    [passed] = fds
    os.write(passed, b"through the passed descriptor")
    os.close(passed)
    os.close(write_end)
    assert os.read(read_end, 100) == b"through the passed descriptor"
    left.close()
    assert receiver.receive() == (None, [])


def test_one_server_per_import_time_environment_and_installed_packages(tmp_path):
    base = {"HOME": "/home/a", "PATH": "/bin"}
    path = [str(tmp_path)]
    key = server_key(base, path)
    assert server_key({**base, "HOME": "/home/b", "SLURM_JOB_ID": "3"}, path) == key  # read after import: no matter
    assert server_key({**base, "OMP_NUM_THREADS": "1"}, path) != key  # fixed when torch loads its OpenMP
    assert server_key({**base, "PYTHONPATH": "/x"}, path) != key
    (tmp_path / "results").mkdir()  # a run's outputs beside a checkout on the import path: the same server
    (tmp_path / "notes.txt").write_text("x")
    assert server_key(base, path) == key
    record = tmp_path / "newly_installed-1.0.dist-info"
    record.mkdir()
    installed = server_key(base, path)
    assert installed != key
    record.rename(tmp_path / "newly_installed-1.1.dist-info")  # an upgrade
    assert server_key(base, path) not in (key, installed)
    upgraded = server_key(base, path)
    later = os.stat(record.with_name("newly_installed-1.1.dist-info")).st_mtime_ns + 10**9
    os.utime(record.with_name("newly_installed-1.1.dist-info"), ns=(later, later))  # reinstalled
    assert server_key(base, path) != upgraded


def test_the_servers_folder_is_private(tmp_path):
    created = runtime_dir({"NST_WARM_START_DIR": str(tmp_path / "servers")})
    assert created.stat().st_mode & 0o777 == 0o700
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared").chmod(0o775)
    with pytest.raises(Unavailable, match="open to others .mode 775."):
        runtime_dir({"NST_WARM_START_DIR": str(tmp_path / "shared")})


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("On", True), ("0", False), ("", False)])
def test_the_switch(value, expected):
    assert asked({"NST_WARM_START": value}) is expected
