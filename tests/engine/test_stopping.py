"""A graceful stop (nst/engine/stopping.py): SIGTERM or SIGINT mid-run -> a checkpoint of the step,
an "interrupted" record, exit 128 + the signal; --resume then ends as an uninterrupted run."""
import os
import signal

import numpy as np
import pytest
from PIL import Image

from nst.engine import run as engine_run
from nst.engine import checkpoints
from nst.record import INTERRUPTED, read_record
from support.engine import read_csv, run_cli
from support.stopping import STOP_RUN as COMMON
from support.stopping import last_logged_step, signal_mid_run, stop_files as files

COMPARED_COLUMNS = ["step", "content_loss", "style_loss", "tv_loss", "total_loss", "lr_eff_min", "lr_eff_max"]


@pytest.fixture(scope="module")
def straight(images, tmp_path_factory):
    """The uninterrupted run of STOP_RUN."""
    return files(run_cli(images, tmp_path_factory.mktemp("straight"), *COMMON))


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_run_checkpoints_the_step_and_resume_ends_as_a_straight_run(images, tmp_path, straight,
                                                                                 signum, code):
    seen, result = signal_mid_run(images, tmp_path, signum)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    saved = checkpoints.list_checkpoints(tmp_path / "checkpoints")
    assert len(saved) == 1
    step = int(checkpoints.NAME.fullmatch(saved[0].name).group(1))
    assert step in (seen, seen + 1)  # the step in progress, finished
    record = read_record(files(tmp_path).record)
    assert record.status == INTERRUPTED
    assert record.result["steps"] == record.result["checkpoint_step"] == step
    name = signal.Signals(signum).name
    assert record.error.startswith(f"stopped by {name} at step {step}; checkpoint at step {step}: ")
    assert record.error.endswith("run the same command with --resume to continue")
    assert result.stderr.strip().splitlines()[-1] == f"nst: {record.error}"
    assert last_logged_step(tmp_path) == step
    assert not files(tmp_path).final.exists()

    run_cli(images, tmp_path, *COMMON, "--resume")
    resumed = files(tmp_path)
    assert np.array_equal(np.asarray(Image.open(straight.final)), np.asarray(Image.open(resumed.final)))
    assert resumed.final.read_bytes() == straight.final.read_bytes()
    rows_a, rows_b = read_csv(straight.log_csv), read_csv(resumed.log_csv)
    assert [[r[k] for k in COMPARED_COLUMNS] for r in rows_a] == [[r[k] for k in COMPARED_COLUMNS] for r in rows_b]
    assert read_record(resumed.record).result["resumed_from_step"] == step


def test_a_second_signal_stops_at_once(images, tmp_path, monkeypatch, capfd):
    real_step = engine_run.optimisation_step
    calls = []

    def signalled_step(*args):
        calls.append(1)
        if len(calls) == 3:  # in the middle of step 3: the first asks for a stop, the second means it
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
        return real_step(*args)

    monkeypatch.setattr(engine_run, "optimisation_step", signalled_step)
    before = [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)]
    run_cli(images, tmp_path, "--nsteps", 10, "--ckpt-every", 2, expect=143)
    assert [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)] == before  # the caller's are back
    record = read_record(files(tmp_path).record)
    assert record.status == INTERRUPTED and record.result == record.result | {"steps": 2, "checkpoint_step": 2}
    assert record.error.startswith("stopped at once by a second SIGTERM at step 2; checkpoint at step 2: ")
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path / "checkpoints")] == ["ckpt_000002.pt"]
    assert "stopping after this step" in capfd.readouterr().err  # written to fd 2 by the handler


def test_handlers_are_restored_after_a_run(images, tmp_path):
    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        run_cli(images, tmp_path, "--nsteps", 1)
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)
