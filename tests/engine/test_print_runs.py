"""A print: a photo enlarged to the print size (--enlarge), the run continued from a preview's
checkpoint (--start-from), resumed exactly; in whole runs at 64 -> 96 px."""
import numpy as np
import pytest
from PIL import Image

from nst.engine.images import load_tensor
from nst.engine.scales import enlarge
from nst.layout import RunFiles
from nst.record import FAILED, FINISHED, read_record
from support.engine import read_csv, run_cli

PREVIEW = ["--optimizer", "lbfgs", "--loss-scale", "photo", "--content-weight", 1, "--style-weight", 5,
           "--style-strength", 0.5, "--content-layers", "block2_conv2", "--style-layers", "block1_conv1,block2_conv1",
           "--save-every", 0]


def files(out):
    return RunFiles(out, "scene_tiles")


def test_enlarge_brings_a_small_photo_to_the_print_size_and_says_so(images, tmp_path, capsys):
    plain = files(run_cli(images, tmp_path / "plain", "--nsteps", 1, "--size", 96, *PREVIEW))
    assert Image.open(plain.final).size == (64, 48)  # --size alone never enlarges
    capsys.readouterr()
    enlarged = files(run_cli(images, tmp_path / "enlarged", "--nsteps", 1, "--size", 96, "--enlarge", *PREVIEW))
    assert Image.open(enlarged.final).size == (96, 72)
    assert "64x48 px enlarged to 96x72 (--enlarge" in capsys.readouterr().err


@pytest.fixture
def preview(images, tmp_path):
    out = files(run_cli(images, tmp_path / "preview", "--nsteps", 6, "--size", 64, "--ckpt-every", 6, *PREVIEW))
    return out, tmp_path / "preview" / "checkpoints" / "ckpt_000006.pt"


def test_a_print_with_carried_curvature_starts_with_the_previews(images, tmp_path, preview, monkeypatch):
    import torch

    from nst.engine import lbfgs

    _, checkpoint = preview
    measured = lbfgs.measured_curvature(torch.load(checkpoint, weights_only=True)["optimizer"]["state"][0])
    assert measured is not None and measured > 0
    h0s, original = [], lbfgs.LBFGS.__init__

    def recording(self, *args, h0=None, **kwargs):
        h0s.append(h0)
        original(self, *args, h0=h0, **kwargs)

    monkeypatch.setattr(lbfgs.LBFGS, "__init__", recording)
    run_cli(images, tmp_path / "print", "--size", 96, "--enlarge", "--start-from", checkpoint, "--nsteps", 2,
            "--lbfgs-carry-curvature", *PREVIEW)
    assert h0s == [measured]  # one scale (96 px), its optimiser started with the preview's curvature


def test_a_print_starts_from_the_preview_enlarged_with_the_photos_detail(images, tmp_path, preview):
    preview_files, checkpoint = preview
    run_cli(images, tmp_path / "print", "--size", 96, "--enlarge", "--start-from", checkpoint, "--nsteps", 3,
            *PREVIEW)
    printed = files(tmp_path / "print")
    record = read_record(printed.record)
    assert record.status == FINISHED
    assert record.inputs["start_from"]["step"] == 6 and record.inputs["start_from"]["size"] == [64, 48]
    # The painting (64x64, as large as the 64 px preview's photo there) grows with the photo: strokes keep their size.
    assert record.inputs["style"][0]["size"] == [96, 96]
    # It starts where the preview ended: the preview's image enlarged with the photo's detail at 96 px.
    import torch

    state = torch.load(checkpoint, weights_only=True)
    content = images[0]
    expected = enlarge(state["image"], load_tensor(content, 64), load_tensor(content, 96, enlarge=True), True)
    initial = load_tensor(printed.initial, 96)
    assert float((initial - expected).abs().max()) <= 1 / 255 + 1e-6
    # ...and with the style weight the preview's strength control reached, which it keeps.
    assert record.result["style_weight"] == pytest.approx(state["style_weight"])
    assert state["style_weight"] != 5.0  # the preview's control moved it
    assert all(float(row["style_weight"]) == pytest.approx(state["style_weight"]) for row in read_csv(printed.log_csv))


def test_a_print_resumes_bit_for_bit(images, tmp_path, preview):
    # A run's checkpoint folder stands for its newest checkpoint (what the workflow passes).
    _, checkpoint = preview
    common = ["--size", 96, "--enlarge", "--start-from", checkpoint.parent, "--nsteps", 4, "--ckpt-every", 2,
              *PREVIEW]
    straight = files(run_cli(images, tmp_path / "straight", *common))
    resumed = files(run_cli(images, tmp_path / "resumed", *common, "--resume-from",
                            tmp_path / "straight" / "checkpoints" / "ckpt_000002.pt"))
    assert np.array_equal(np.asarray(Image.open(straight.final)), np.asarray(Image.open(resumed.final)))


def test_a_start_from_another_photo_is_refused(images, tmp_path, preview, stripes_photo, capsys):
    _, checkpoint = preview
    content, style = images
    run_cli((stripes_photo, style), tmp_path / "other", "--nsteps", 2, "--start-from", checkpoint, *PREVIEW, expect=1)
    assert f"--start-from: {checkpoint} is a run of another content image" in capsys.readouterr().err
    record = read_record(RunFiles(tmp_path / "other", "stripes_tiles").record)
    assert record.status == FAILED


def test_a_missing_start_checkpoint_is_named(images, tmp_path, capsys):
    run_cli(images, tmp_path, "--nsteps", 2, "--start-from", tmp_path / "none.pt", expect=1)
    assert f"--start-from: {tmp_path / 'none.pt'}: no such file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    run_cli(images, tmp_path, "--nsteps", 2, "--start-from", tmp_path / "empty", expect=1)
    assert f"--start-from: {tmp_path / 'empty'}: no checkpoint in this folder" in capsys.readouterr().err


@pytest.fixture
def stripes_photo(tmp_path):
    y, x = np.mgrid[0:48, 0:64]
    path = tmp_path / "stripes.png"
    Image.fromarray((((x + y) // 6) % 2 * 200).astype(np.uint8)).convert("RGB").save(path)
    return path


@pytest.mark.parametrize("kind", ["png", "tiff"])
def test_a_16_bit_print_file_carries_the_final_image_and_the_runs_facts(images, tmp_path, kind):
    from nst.print_files import read_metadata

    out = files(run_cli(images, tmp_path, "--nsteps", 2, "--print-file", kind, *PREVIEW))
    path = out.print_file(kind)
    assert path.name == f"scene_tiles_final16.{'tif' if kind == 'tiff' else 'png'}"
    metadata = read_metadata(path)
    record = read_record(out.record)
    assert metadata["inputs"]["content"]["sha256"] == record.inputs["content"]["sha256"]
    assert metadata["settings"]["style_weight"] == 5 and metadata["steps"] == 2
    # The 16-bit image rounds to the 8-bit final.
    if kind == "tiff":
        import tifffile

        sixteen = tifffile.imread(path).astype(float)
        eight = np.asarray(Image.open(out.final), dtype=float)
        assert np.abs(sixteen / 65535 * 255 - eight).max() <= 0.5 + 1e-6
