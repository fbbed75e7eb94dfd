"""The bundled sample set (nst/samples/): written from installed packages or rendered, deterministic, documented."""
import importlib
import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nst import samples
from nst.samples.common import matplotlib_path, skimage_path


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Both sample sets, written once through the command line entry point."""
    root = tmp_path_factory.mktemp("samples")
    assert samples.main(["--content-dir", str(root / "content"), "--style-dir", str(root / "style")]) == 0
    return {"content": root / "content", "style": root / "style"}


def _pixels(path):
    with Image.open(path) as image:
        assert image.mode == "RGB"
        return np.asarray(image)


def _colour_histogram(pixels, bins=4):
    """Share of pixels in each of bins**3 RGB boxes."""
    index = (pixels // (256 // bins)).astype(int) @ np.array([bins * bins, bins, 1])
    counts = np.bincount(index.ravel(), minlength=bins ** 3)
    return counts / counts.sum()


@pytest.mark.parametrize("kind", ["content", "style"])
def test_five_rgb_images_of_about_512_px(written, kind):
    names = list(samples.SAMPLES[kind])
    assert len(names) == 5
    assert sorted(p.name for p in written[kind].glob("*.png")) == sorted(f"{n}.png" for n in names)
    for name in names:
        pixels = _pixels(written[kind] / f"{name}.png")
        assert pixels.shape[2] == 3
        assert max(pixels.shape[:2]) == samples.LONGEST_SIDE
        assert min(pixels.shape[:2]) >= 256  # no strips
        assert pixels.std() > 20  # not a blank canvas


def test_ids_are_safe_file_stems():
    for name in [*samples.CONTENT_SAMPLES, *samples.STYLE_SAMPLES]:
        assert name.isascii() and name.replace("_", "").isalnum(), name
    assert not set(samples.CONTENT_SAMPLES) & set(samples.STYLE_SAMPLES)


@pytest.mark.parametrize("kind", ["content", "style"])
def test_rewriting_gives_identical_bytes(written, kind, tmp_path):
    for name in samples.SAMPLES[kind]:
        again = tmp_path / f"{name}.png"
        samples.write_sample(kind, name, again)
        assert again.read_bytes() == (written[kind] / f"{name}.png").read_bytes(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.png" for n in samples.SAMPLES[kind])


def test_styles_are_colourful(written):
    for name in samples.STYLE_SAMPLES:
        with Image.open(written["style"] / f"{name}.png") as image:
            saturation = np.asarray(image.convert("HSV"))[..., 1].mean() / 255
        assert saturation > 0.3, (name, saturation)


def test_styles_differ_pairwise_in_colour_distribution(written):
    histograms = {name: _colour_histogram(_pixels(written["style"] / f"{name}.png"))
                  for name in samples.STYLE_SAMPLES}
    for a, b in itertools.combinations(histograms, 2):
        # total-variation distance: share of pixels that would have to change colour box
        distance = 0.5 * np.abs(histograms[a] - histograms[b]).sum()
        assert distance > 0.4, (a, b, distance)


def test_content_images_are_the_package_photos(written):
    """Each content sample is its package's photo, only resized."""
    from PIL import ImageOps

    for name, sample in samples.CONTENT_SAMPLES.items():
        filename = sample.source.rsplit("/", 1)[1]
        locate = matplotlib_path if sample.source.startswith("matplotlib") else skimage_path
        with Image.open(locate(filename)) as original:
            expected = ImageOps.contain(original.convert("RGB"), (samples.LONGEST_SIDE,) * 2)
        written_pixels = _pixels(written["content"] / f"{name}.png").astype(float)
        assert written_pixels.shape[:2] == (expected.height, expected.width)
        assert np.abs(written_pixels - np.asarray(expected, float)).mean() < 3, name


@pytest.mark.parametrize("kind", ["content", "style"])
def test_provenance_lists_every_image_with_source_and_licence(written, kind):
    record = json.loads((written[kind] / "sources.json").read_text())
    assert record["kind"] == kind
    files = [entry["file"] for entry in record["images"]]
    assert files == [f"{name}.png" for name in samples.SAMPLES[kind]]
    table = (written[kind] / "SOURCES.md").read_text()
    for entry in record["images"]:
        assert entry["licence"].strip() and entry["source"].strip() and entry["title"].strip()
        assert (written[kind] / entry["file"]).is_file()
        row = next(line for line in table.splitlines() if line.startswith(f"| {entry['file']} |"))
        assert entry["licence"] in row and entry["source"] in row
    if kind == "content":
        assert all("public domain" in e["licence"].lower() or "cc0" in e["licence"].lower()
                   for e in record["images"])
    else:
        assert all("MIT" in e["licence"] for e in record["images"])
        assert sum(e["source"].startswith("rendered by nst.samples") for e in record["images"]) == 5


def test_unknown_names_and_kinds_are_refused(tmp_path):
    with pytest.raises(ValueError, match="mona_lisa: no such style sample"):
        samples.write_sample("style", "mona_lisa", tmp_path / "x.png")
    with pytest.raises(ValueError, match="kind"):
        samples.write_samples("portrait", tmp_path)
    assert not list(tmp_path.iterdir())


def test_command_line_needs_a_folder(capsys):
    with pytest.raises(SystemExit) as exit_info:
        samples.main([])
    assert exit_info.value.code == 2
    assert "--content-dir" in capsys.readouterr().err


def test_each_style_is_the_module_of_its_name():
    for name, sample in samples.STYLE_SAMPLES.items():
        module = importlib.import_module(f"nst.samples.{name}")
        assert module.SAMPLE is sample
        assert sample.source.startswith(f"rendered by nst.samples.{name}")


def test_python_dash_m_entry_point(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nst.samples", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--content-dir" in done.stdout and "--style-dir" in done.stdout
