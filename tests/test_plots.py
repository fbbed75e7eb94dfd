"""Loss plots (nst/plots.py), on real engine output and on edge cases."""
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from PIL import Image

from nst.record import LOG_COLUMNS
from nst import plots

LOG_HEADER = ",".join(LOG_COLUMNS) + "\n"


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


def test_adam_plot_shows_losses_lr_band_and_lipschitz_product(runs, tmp_path):
    csv_path = runs["adam"].log_csv
    log = pd.read_csv(csv_path)
    fig = plots.loss_figure(csv_path, title="pair")
    loss_ax, lr_ax, twin = fig.axes
    assert fig.get_suptitle() == "pair"
    assert loss_ax.get_yscale() == "log" and lr_ax.get_yscale() == "log" and twin.get_yscale() == "log"

    lines = _lines(loss_ax)
    assert set(lines) == {"content", "style", "TV", "total"} == set(plots.LOSS_LABELS.values())
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
    csv_path = runs["lbfgs"].log_csv
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
    csv_path.write_text(LOG_HEADER + "1,64,0.0,5.0,,5.0,,,,,,0.1\n2,64,-1.0,4.0,,3.0,,,,,,0.2\n3,64,0,2.0,,2.0,,,,,,0.3\n")
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


def test_command_line_plots_a_log_or_names_the_bad_file(runs, tmp_path, capsys):
    out = tmp_path / "cli.png"
    assert plots.main([str(runs["lbfgs"].log_csv), str(out), "--title", "c × s"]) == 0
    with Image.open(out) as image:
        assert image.size == (700, 600)
    empty = tmp_path / "empty_log.csv"
    empty.write_text("")
    assert plots.main([str(empty), str(tmp_path / "no.png")]) == 1
    assert capsys.readouterr().err == f"plots: error: {empty}: empty log file (no header, no rows)\n"
    assert not (tmp_path / "no.png").exists()


def test_scale_changes_are_marked_where_the_size_grows(tmp_path):
    csv_path = tmp_path / "log.csv"
    csv_path.write_text(LOG_HEADER + "1,43,,,,5.0,,,,,,0.1\n2,43,,,,4.0,,,,,,0.2\n3,64,,,,9.0,,,,,,0.3\n"
                        "4,64,,,,8.0,,,,,,0.4\n")
    assert plots.scale_changes(plots.read_log(csv_path)) == [(3.0, 64)]
    loss_ax, _ = plots.loss_figure(csv_path).axes
    assert [text.get_text() for text in loss_ax.texts] == [" 64 px"]


def test_the_warm_up_draws_in_memory_and_leaves_nothing_open(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    drawn = []
    monkeypatch.setattr(plots, "_write_png", lambda fig, target: drawn.append(len(fig.axes)) or target.write(b"png"))
    before = plt.get_fignums()  # other tests' figures
    plots.warm_up()
    assert drawn == [2] and plt.get_fignums() == before and list(tmp_path.iterdir()) == []
