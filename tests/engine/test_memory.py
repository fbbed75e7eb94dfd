"""The memory model and planner (nst/engine/memory.py): amounts, the plan by hand, refusals; and runs
that refuse a size under --max-memory at once and record their memory."""
import math
import time

import pytest

from nst.engine.architecture import activation_bytes
from nst.engine.memory import (MB, VECTOR_BYTES, MemoryModel, format_memory, parse_memory, picture_bytes,
                               plan_memory)
from nst.engine.settings import Settings
from nst.errors import NSTError
from nst.layout import RunFiles
from nst.record import FAILED, FINISHED, read_record
from support.engine import run_cli

GIB = 2**30
# Round numbers so the plan can be checked by hand.
MODEL = MemoryModel(base=1 * GIB, whole_factor=1.0, graph_factor=2.0)


def settings(**changes):
    # The preview's optimiser and content layer.
    return Settings(content="photo.png", style=["painting.png"], output_dir="out",
                    **{"optimizer": "lbfgs", "content_layers": ["block4_conv2"], **changes})


@pytest.mark.parametrize("text, amount", [("8G", 8 * GIB), ("500M", 500 * MB), ("1.5g", int(1.5 * GIB)),
                                          ("2048", 2048), ("64 MiB", 64 * MB), ("3GB", 3 * GIB)])
def test_amounts_of_memory(text, amount):
    assert parse_memory(text) == amount


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "8X"])
def test_an_amount_that_is_none_names_the_option(text):
    with pytest.raises(NSTError, match=f"--max-memory: '{text}' is not an amount of memory"):
        parse_memory(text)


def test_picture_bytes_count_the_optimisers_vectors_and_the_content_target():
    # L-BFGS history 10: 22 vectors, plus image, gradient, start and direction (4) and TV's 6; the
    # content layer block4_conv2: 512 channels at stride 8 for the content target.
    content_target = 512 / 64 * 4
    assert picture_bytes(settings(), tiled=False) == pytest.approx((22 + 4 + 6) * VECTOR_BYTES + content_target)
    assert picture_bytes(settings(), tiled=True) == pytest.approx((22 + 4 + 6 + 3) * VECTOR_BYTES + content_target)
    assert picture_bytes(settings(optimizer="adam"), tiled=False) == pytest.approx((2 + 4 + 6) * VECTOR_BYTES
                                                                                   + content_target)


def test_a_picture_that_fits_runs_untiled():
    plan = plan_memory(settings(), 512, 512, 8 * GIB, MODEL)
    graph = activation_bytes("vgg19", settings().content_layers + settings().style_layers)
    assert plan.tile_size is None
    assert plan.predicted_peak == pytest.approx(GIB + 512 * 512 * (picture_bytes(settings(), False) + 2 * graph))


def test_a_picture_too_large_gets_the_largest_tile_that_fits():
    s = settings()
    graph = activation_bytes("vgg19", s.content_layers + s.style_layers)
    limit = 8 * GIB
    plan = plan_memory(s, 3072, 4096, limit, MODEL)
    fixed = GIB + 3072 * 4096 * picture_bytes(s, True)
    assert plan.tile_size == math.isqrt(int((limit - fixed) / (2 * graph)))
    assert plan.predicted_peak <= limit
    assert plan.as_record()["limit_mb"] == 8192 and plan.as_record()["tile_size"] == plan.tile_size


def test_a_picture_that_cannot_fit_even_in_the_smallest_tiles_is_refused_in_one_line():
    with pytest.raises(NSTError) as error:
        plan_memory(settings(), 12288, 16384, 2 * GIB, MODEL)
    message = str(error.value)
    assert message.startswith("16384x12288 px needs ") and "even in tiles of 176 px; 2.0 GB available (--max-memory)" \
        in message
    assert "\n" not in message


def test_a_forced_tile_size_is_kept():
    assert plan_memory(settings(tile_size=400), 3072, 4096, 64 * GIB, MODEL).tile_size == 400
    # A picture inside one tile runs untiled.
    assert plan_memory(settings(tile_size=400), 300, 400, 64 * GIB, MODEL).tile_size is None


def test_format_memory():
    assert format_memory(1.5 * GIB) == "1.5 GB" and format_memory(300 * MB) == "300 MB"


# ---- runs ------------------------------------------------------------------------------------------


def test_a_run_that_cannot_fit_fails_at_once_with_nothing_but_its_record(images, tmp_path, capsys):
    import nst.engine.run  # noqa: F401  (the interpreter's start-up is not the run's)

    started = time.perf_counter()
    run_cli(images, tmp_path, "--nsteps", 2, "--max-memory", "200M", expect=1)
    assert time.perf_counter() - started < 1.0
    error = capsys.readouterr().err
    assert "64x48 px needs" in error and "200 MB available (--max-memory)" in error
    files = RunFiles(tmp_path, "scene_tiles")
    record = read_record(files.record)
    assert record.status == FAILED and "200 MB available" in record.error
    assert sorted(path.name for path in tmp_path.iterdir()) == [files.record.name]


def test_a_finished_run_records_its_plan_and_its_peak(images, tmp_path):
    run_cli(images, tmp_path, "--nsteps", 2, "--max-memory", "16G")
    record = read_record(RunFiles(tmp_path, "scene_tiles").record)
    assert record.status == FINISHED
    memory = record.result["memory"]
    assert memory["limit_mb"] == 16384 and memory["tile_size"] is None
    # The process holds at least torch and the network; less than the limit.
    assert 200 < memory["peak_mb"] < 16384 and 0 < memory["predicted_peak_mb"] < 16384
