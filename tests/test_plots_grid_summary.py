"""Loss plots, the contact sheet and the summary table, on real engine output and on edge cases."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from PIL import Image

from nst import grid, plots, summary

LOG_HEADER = ("step,content_loss,style_loss,tv_loss,total_loss,lr_eff_min,lr_eff_mean,lr_eff_max,"
              "lipschitz,lr_eff_max_x_lipschitz,elapsed_s\n")


def _solid(path, colour, size=(48, 40)):
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny real engine runs: Adam with Lipschitz probes, and L-BFGS."""
    root = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(0)
    content, style = root / "content.png", root / "style.png"
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(content)
    Image.fromarray(np.repeat(np.linspace(0, 255, 48, dtype=np.uint8)[None, :, None], 40, 0).repeat(3, 2)).save(style)
    common = [sys.executable, "-m", "nst", "--content", str(content), "--style", str(style), "--size", "40",
              "--threads", "1", "--device", "cpu"]
    out = {}
    for optimiser, extra in [("adam", ["--nsteps", "4", "--lipschitz-every", "2", "--lipschitz-iters", "2"]),
                             ("lbfgs", ["--nsteps", "2"])]:
        out[optimiser] = root / optimiser
        done = subprocess.run([*common, "--optimizer", optimiser, "--output-dir", str(out[optimiser]),
                               "--name", f"pair_{optimiser}", *extra], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    return out


# --- plots ---------------------------------------------------------------------------

def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


def test_adam_plot_shows_losses_lr_band_and_lipschitz_product(runs, tmp_path):
    csv_path = runs["adam"] / "pair_adam_log.csv"
    log = pd.read_csv(csv_path)
    fig = plots.loss_figure(csv_path, title="pair")
    loss_ax, lr_ax, twin = fig.axes
    assert fig.get_suptitle() == "pair"
    assert loss_ax.get_yscale() == "log" and lr_ax.get_yscale() == "log" and twin.get_yscale() == "log"

    lines = _lines(loss_ax)
    assert set(lines) == {"content", "style", "TV", "total"}
    np.testing.assert_allclose(lines["total"].get_ydata(), log["total_loss"])
    positive_content = log["content_loss"] > 0  # step 1 starts from the content image: loss 0, not drawable
    np.testing.assert_allclose(lines["content"].get_xdata(), log["step"][positive_content])

    assert len([c for c in lr_ax.collections if isinstance(c, PolyCollection)]) == 1
    np.testing.assert_allclose(_lines(lr_ax)["effective lr (mean)"].get_ydata(), log["lr_eff_mean"])
    product = _lines(twin)["lipschitz x max lr"]
    probed = log["lr_eff_max_x_lipschitz"].notna()
    assert probed.sum() == 2
    np.testing.assert_allclose(product.get_xdata(), log["step"][probed])
    np.testing.assert_allclose(product.get_ydata(), log["lr_eff_max_x_lipschitz"][probed])

    out = tmp_path / "plots" / "pair.png"
    plots.plot_losses(csv_path, out)
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (700, 600)
    assert [p.name for p in out.parent.iterdir()] == ["pair.png"]


def test_lbfgs_plot_notes_missing_learning_rate(runs, tmp_path):
    csv_path = runs["lbfgs"] / "pair_lbfgs_log.csv"
    assert pd.read_csv(csv_path)["lr_eff_max"].isna().all()
    fig = plots.loss_figure(csv_path)
    loss_ax, lr_ax = fig.axes  # no twin axis
    assert [t.get_text() for t in lr_ax.texts] == [plots.NO_LR_NOTE]
    assert not lr_ax.collections and not lr_ax.get_lines()
    assert "total" in _lines(loss_ax)
    plots.plot_losses(csv_path, tmp_path / "lbfgs.png")
    assert (tmp_path / "lbfgs.png").stat().st_size > 0


def test_blank_and_non_positive_series_are_skipped(tmp_path):
    csv_path = tmp_path / "log.csv"
    csv_path.write_text(LOG_HEADER + "1,0.0,5.0,,5.0,,,,,,0.1\n2,-1.0,4.0,,3.0,,,,,,0.2\n3,0,2.0,,2.0,,,,,,0.3\n")
    loss_ax, lr_ax = plots.loss_figure(csv_path).axes
    lines = _lines(loss_ax)
    assert set(lines) == {"style", "total"}
    np.testing.assert_allclose(lines["total"].get_ydata(), [5.0, 3.0, 2.0])


@pytest.mark.parametrize("text, message", [("", "empty log file"), (LOG_HEADER, "log has no rows"),
                                           ("step,total_loss\n1,2\n", "missing column")])
def test_unusable_logs_are_refused_naming_the_file(tmp_path, text, message):
    csv_path = tmp_path / "broken_log.csv"
    csv_path.write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        plots.plot_losses(csv_path, tmp_path / "out.png")
    assert str(csv_path) in str(error.value)
    assert not (tmp_path / "out.png").exists()


# --- summary -------------------------------------------------------------------------

def test_summary_of_real_runs(runs, tmp_path):
    table = summary.summarise([("noise", "ramp", runs["adam"]),
                               ("noise", "ramp2", runs["lbfgs"] / "pair_lbfgs_run.json")], budget="preview")
    assert list(table.columns[:len(summary.COLUMNS)]) == summary.COLUMNS
    assert table[["content", "style", "name"]].values.tolist() == [["noise", "ramp", "pair_adam"],
                                                                   ["noise", "ramp2", "pair_lbfgs"]]
    assert table["optimizer"].tolist() == ["adam", "lbfgs"]
    assert table["steps"].tolist() == [4, 2] and table["nsteps"].tolist() == [4, 2]
    assert table["status"].tolist() == ["finished"] * 2
    assert table["device"].tolist() == ["cpu"] * 2
    assert table["budget"].tolist() == ["preview"] * 2
    assert table["last_logged_step"].tolist() == [4, 2]
    record = json.loads((runs["adam"] / "pair_adam_run.json").read_text())
    for loss in summary.LOSSES:
        assert table.loc[0, f"final_{loss}"] == record["result"]["final"][loss]
    assert table.loc[0, "wall_time_s"] == record["result"]["wall_time_s"]
    # the other parameters, flattened; those named like a run-level column are prefixed
    assert table.loc[0, "style_layers"] == ",".join(record["parameters"]["style_layers"])
    assert table.loc[0, "gram_norm"] == record["parameters"]["gram_norm"]
    assert table.loc[0, "param_device"] == "cpu" and table.loc[0, "param_name"] == "pair_adam"
    assert table.loc[0, "lipschitz_every"] == 2

    out = tmp_path / "summary.csv"
    summary.write_summary(table, out)
    again = pd.read_csv(out)
    assert again.shape == table.shape
    assert again["final_total_loss"].tolist() == table["final_total_loss"].tolist()


def _interrupted_run(folder, parameters):
    folder.mkdir()
    (folder / "p_run.json").write_text(json.dumps({
        "name": "p", "status": "running", "environment": {"device": "cuda:0", "threads": 4},
        "parameters": parameters, "inputs": {"content": {"path": "c.png"}, "style": {"path": "s.png"}},
        "result": {"resumed_from_step": 100}}))
    (folder / "p_log.csv").write_text(LOG_HEADER + "101,1.0,2.0,3.0,6.0,,,,,,5.0\n102,1.5,,,,,,,,,6.5\n")
    return folder


def test_interrupted_run_takes_losses_from_its_log(tmp_path):
    folder = _interrupted_run(tmp_path / "run", {"optimizer": "lbfgs", "budget": "full", "nested": {"a": 1}})
    row = summary.summarise([("c", "s", folder)], budget="preview").iloc[0]
    assert row["status"] == "running" and pd.isna(row["steps"]) and row["resumed_from_step"] == 100
    assert row["final_content_loss"] == 1.5 and row["final_style_loss"] == 2.0 and row["final_total_loss"] == 6.0
    assert row["last_logged_step"] == 102 and row["log_elapsed_s"] == 6.5
    assert row["budget"] == "full"  # what the run recorded beats the caller's default
    assert row["nested.a"] == 1 and row["device"] == "cuda:0" and row["content_path"] == "c.png"


def test_summary_refuses_unreadable_runs_naming_the_file(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="expected exactly one"):
        summary.summarise([("c", "s", tmp_path / "empty")])
    broken = tmp_path / "x_run.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read run record") as error:
        summary.summarise([("c", "s", broken)])
    assert str(broken) in str(error.value)
    with pytest.raises(ValueError, match="no such run"):
        summary.summarise([("c", "s", tmp_path / "nowhere")])


# --- contact sheet -------------------------------------------------------------------

@pytest.fixture
def sheet_inputs(tmp_path):
    contents = {c: _solid(tmp_path / f"{c}.png", colour) for c, colour in
                [("cat", (200, 120, 40)), ("cup", (90, 60, 30)), ("rocket", (20, 30, 80))]}
    styles = {s: _solid(tmp_path / f"{s}.png", colour)
              for s, colour in [("waves", (0, 200, 0)), ("glass", (0, 0, 250))]}
    results = {(c, s): _solid(tmp_path / f"{c}_{s}.png", (250, 0, 0), size=(80, 40)) for c in contents for s in styles}
    return contents, styles, results


def _cell(sheet, row, column, cell):
    return sheet[row * cell:(row + 1) * cell, column * cell:(column + 1) * cell]


def test_contact_sheet_layout(sheet_inputs, tmp_path):
    contents, styles, results = sheet_inputs
    cell = 64
    out = tmp_path / "grid.png"
    grid.contact_sheet(contents, styles, results, out, cell=cell)
    sheet = np.asarray(Image.open(out).convert("RGB"))
    assert sheet.shape == ((len(contents) + 1) * cell, (len(styles) + 1) * cell, 3)
    assert (_cell(sheet, 0, 0, cell) == 255).all()  # blank corner
    # headers: the style's colour along the top, the content's down the left
    assert (_cell(sheet, 0, 2, cell) == (0, 0, 250)).all(axis=2).sum() > cell * cell / 3
    assert (_cell(sheet, 3, 0, cell) == (20, 30, 80)).all(axis=2).sum() > cell * cell / 3
    # a 2:1 result is fitted with its aspect kept and centred
    red = np.argwhere((_cell(sheet, 2, 1, cell) == (250, 0, 0)).all(axis=2))
    (top, left), (bottom, right) = red.min(axis=0), red.max(axis=0)
    width, height = right - left + 1, bottom - top + 1
    assert width == cell - 2 * grid.PAD and abs(height - width / 2) <= 1
    assert abs((top + bottom) / 2 - (cell - 1) / 2) <= 1 and abs((left + right) / 2 - (cell - 1) / 2) <= 1


def test_failed_and_missing_results_get_grey_cells(sheet_inputs, tmp_path):
    contents, styles, results = sheet_inputs
    cell = 64
    (tmp_path / "corrupt.png").write_bytes(b"not an image")
    results.update({("cat", "waves"): None, ("cup", "waves"): tmp_path / "corrupt.png",
                    ("rocket", "waves"): tmp_path / "gone.png"})
    del results[("rocket", "glass")]
    grid.contact_sheet(contents, styles, results, tmp_path / "grid.png", cell=cell)
    sheet = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB"))
    failed_none, failed_corrupt = _cell(sheet, 1, 1, cell), _cell(sheet, 2, 1, cell)
    missing_file, missing_key = _cell(sheet, 3, 1, cell), _cell(sheet, 3, 2, cell)
    for grey in (failed_none, failed_corrupt, missing_file, missing_key):
        assert (grey[grid.PAD:grid.PAD + 5, grid.PAD:grid.PAD + 5] == grid.PLACEHOLDER).all()
        assert not (grey == (250, 0, 0)).all(axis=2).any()
        assert (grey != grid.PLACEHOLDER).any(axis=2).sum() > 20  # there is a word on it
    assert (failed_none == failed_corrupt).all() and (missing_file == missing_key).all()
    assert not (failed_none == missing_file).all()  # "failed" and "missing" read differently
    assert (_cell(sheet, 1, 2, cell) == (250, 0, 0)).all(axis=2).any()  # other pairs unaffected


def test_contact_sheet_refuses_tiny_cells(sheet_inputs, tmp_path):
    with pytest.raises(ValueError, match="cell"):
        grid.contact_sheet(*sheet_inputs, tmp_path / "grid.png", cell=8)
    assert not (tmp_path / "grid.png").exists()
