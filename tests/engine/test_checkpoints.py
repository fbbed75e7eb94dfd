"""Checkpoints (nst/engine/checkpoints.py): rotation, leftovers of a killed writer, safe loading."""
import pytest
import torch

from nst.engine import checkpoints
from nst.errors import NSTError


class Planted:
    """Any Python object: a checkpoint must hold only tensors and plain values."""


def test_checkpoint_save_keeps_newest_and_clears_files_of_a_killed_writer(tmp_path):
    stale = tmp_path / ".ckpt_000005.pt.abc123.tmp.pt"  # what kill -9 during torch.save leaves
    stale.write_bytes(b"half a checkpoint")
    for step in (5, 10, 15):
        checkpoints.save(tmp_path, {"step": step, "fingerprint": "f"}, keep_max=2)
    assert not stale.exists()
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path)] == ["ckpt_000015.pt", "ckpt_000010.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_000010.pt", "ckpt_000015.pt"]


def test_a_saved_state_loads_back(tmp_path):
    state = {"step": 3, "fingerprint": "f", "image": torch.rand(1, 3, 4, 4), "log_rows": [{"step": 1, "x": None}]}
    loaded = checkpoints.load(checkpoints.save(tmp_path, state, keep_max=1))
    assert loaded.step == 3 and torch.equal(loaded.state["image"], state["image"])
    assert loaded.state["log_rows"] == state["log_rows"]


def test_a_checkpoint_with_python_objects_is_refused_unloaded(tmp_path):
    planted = tmp_path / "ckpt_000001.pt"
    torch.save({"step": 1, "fingerprint": "f", "payload": Planted()}, planted)
    with pytest.raises(NSTError, match="refused: it holds pickled Python objects") as error:
        checkpoints.load(planted)
    assert str(planted) in str(error.value)


def test_other_files_are_refused_naming_them(tmp_path):
    no_fingerprint = tmp_path / "ckpt_000001.pt"
    torch.save({"step": 1}, no_fingerprint)  # loads, but was not written by nst
    with pytest.raises(NSTError, match="not a checkpoint written by nst") as error:
        checkpoints.load(no_fingerprint)
    assert str(no_fingerprint) in str(error.value)
    garbage = tmp_path / "ckpt_000002.pt"
    garbage.write_bytes(b"not a checkpoint")  # fails torch's safe unpickler
    with pytest.raises(NSTError) as error:
        checkpoints.load(garbage)
    assert str(garbage) in str(error.value)


def test_a_torn_newest_checkpoint_is_named_and_the_previous_one_used(tmp_path, capsys):
    for step in (4, 8):
        checkpoints.save(tmp_path, {"step": step, "fingerprint": checkpoints.fingerprint({})}, keep_max=5)
    newest = tmp_path / "ckpt_000008.pt"
    newest.write_bytes(newest.read_bytes()[:len(newest.read_bytes()) // 2])  # as a full disk leaves it
    found = checkpoints.find_resumable(tmp_path, {}, "refuse", max_step=10)
    assert found.step == 4
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith(f"nst: warning: {newest}: unreadable checkpoint (")
    assert line.endswith("moved aside to ckpt_000008.pt.damaged, trying the previous checkpoint")
    # Out of the rotation, where as the newest step it would outlive later saves.
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path)] == ["ckpt_000004.pt"]
