"""The summary table (nst/review/summary.py): one row per run, from real engine output and edge cases."""
import json

import pandas as pd
import pytest

from nst.record import LOG_COLUMNS, METRIC_COLUMNS, UNREADABLE
from nst.review import summary

LOG_HEADER = ",".join(LOG_COLUMNS) + "\n"


def test_summary_of_real_runs(runs, tmp_path):
    table = summary.summarise([("noise", "ramp", runs["adam"].folder),
                               ("noise", "ramp2", runs["lbfgs"].record)], budget="preview")
    assert list(table.columns[:len(summary.COLUMNS)]) == summary.COLUMNS
    assert summary.COLUMNS[summary.COLUMNS.index("status") + 1] == "error"
    assert table[["content", "style", "name"]].values.tolist() == [["noise", "ramp", "pair_adam"],
                                                                   ["noise", "ramp2", "pair_lbfgs"]]
    assert table["optimizer"].tolist() == ["adam", "lbfgs"]
    assert table["steps"].tolist() == [4, 2] and table["nsteps"].tolist() == [4, 2]
    assert table["status"].tolist() == ["finished"] * 2
    assert table["error"].isna().all()
    assert table["device"].tolist() == ["cpu"] * 2
    assert table["budget"].tolist() == ["preview"] * 2
    assert table["last_logged_step"].tolist() == [4, 2]
    record = json.loads(runs["adam"].record.read_text())
    record_lbfgs = json.loads(runs["lbfgs"].record.read_text())
    for loss in summary.LOSSES:
        assert table.loc[0, f"final_{loss}"] == record["result"]["final"][loss]
    for metric in METRIC_COLUMNS:
        assert table.loc[1, metric] == record_lbfgs["result"]["metrics"][metric]
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
    (folder / "p_log.csv").write_text(LOG_HEADER + "101,64,1.0,2.0,3.0,6.0,5.0,,,,,,5.0\n102,64,1.5,,,,,,,,,,6.5\n")
    return folder


def test_interrupted_run_takes_losses_from_its_log(tmp_path):
    folder = _interrupted_run(tmp_path / "run", {"optimizer": "lbfgs", "budget": "full", "nested": {"a": 1}})
    row = summary.summarise([("c", "s", folder)], budget="preview").iloc[0]
    assert row["status"] == "running" and pd.isna(row["steps"]) and row["resumed_from_step"] == 100
    assert row["final_content_loss"] == 1.5 and row["final_style_loss"] == 2.0 and row["final_total_loss"] == 6.0
    assert row["last_logged_step"] == 102 and row["log_elapsed_s"] == 6.5
    assert row["budget"] == "full"  # what the run recorded beats the caller's default
    assert row["nested.a"] == 1 and row["device"] == "cuda:0" and row["content_path"] == "c.png"


def test_failed_run_keeps_its_error(tmp_path):
    (tmp_path / "f_run.json").write_text(json.dumps({
        "name": "f", "status": "failed", "error": "style/x.png: truncated or corrupt image (...)",
        "error_file": "style/x.png", "parameters": {"optimizer": "adam"}}))
    row = summary.summarise([("c", "x", tmp_path)]).iloc[0]
    assert row["status"] == "failed" and row["error"] == "style/x.png: truncated or corrupt image (...)"
    assert pd.isna(row["steps"]) and pd.isna(row["final_total_loss"]) and row["optimizer"] == "adam"


def test_summary_shows_unreadable_runs_naming_the_file(tmp_path):
    broken = tmp_path / "x_run.json"
    broken.write_text("{not json")
    table = summary.summarise([("c", "s", broken), ("c", "t", _interrupted_run(tmp_path / "ok", {}))])
    assert table["status"].tolist() == [UNREADABLE, "running"]  # the other runs still get their rows
    row = table.iloc[0]
    assert (row["content"], row["style"], row["name"]) == ("c", "s", "x")
    assert "cannot read run record" in row["error"] and str(broken) in row["error"]
    assert row["run_json"] == str(broken)
    assert list(table.columns[:len(summary.COLUMNS)]) == summary.COLUMNS


def test_summary_refuses_folders_without_exactly_one_run_record(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="expected exactly one") as error:
        summary.summarise([("c", "s", tmp_path / "empty")])
    assert str(tmp_path / "empty") in str(error.value)
    with pytest.raises(ValueError, match="no such run") as error:
        summary.summarise([("c", "s", tmp_path / "nowhere")])
    assert str(tmp_path / "nowhere") in str(error.value)


def test_a_log_that_cannot_be_read_is_named_and_the_row_stays(tmp_path):
    folder = _interrupted_run(tmp_path / "run", {})
    [log] = folder.glob("*_log.csv")
    log.write_bytes(b"step,content_loss\n1,2\n\xff\xfe,\n")  # not UTF-8
    table = summary.summarise([("c", "s", folder), ("c", "t", _interrupted_run(tmp_path / "ok", {}))])
    assert table["status"].tolist() == ["running", "running"]
    assert str(log) in table.loc[0, "error"] and pd.isna(table.loc[1, "error"])
