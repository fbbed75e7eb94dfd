"""The run record and the per-step log (nst/record.py): written atomically, read with one policy."""
import json
import math

import pytest

from nst.record import (FAILED, LOG_COLUMNS, NOT_RUN, UNREADABLE, RunRecord, log_row, read_log, read_record,
                        write_log, write_record)


def test_record_round_trip(tmp_path):
    record = RunRecord("c__s", FAILED, {"device": "cpu"}, {"size": 64}, {"content": {"path": "c.png"}},
                       {"steps": 3}, error="c.png: truncated", error_file="c.png")
    path = tmp_path / "c__s_run.json"
    write_record(path, record)
    assert read_record(path) == record
    assert json.loads(path.read_text())["status"] == "failed"
    assert [p.name for p in tmp_path.iterdir()] == ["c__s_run.json"]  # no temp file left


def test_missing_and_broken_records_are_statuses_naming_the_file(tmp_path):
    assert read_record(tmp_path / "x__y_run.json") == RunRecord("x__y", NOT_RUN)
    broken = tmp_path / "b_run.json"
    broken.write_text("{not json")
    record = read_record(broken)
    assert record.status == UNREADABLE and str(broken) in record.error and "cannot read run record" in record.error
    broken.write_text("[1, 2]")
    assert read_record(broken).error == f"{broken}: run record is not a JSON object"
    broken.write_text(json.dumps({"name": "b", "status": "finished", "result": [1]}))
    assert read_record(broken).error == f"{broken}: key 'result' is not an object"


def test_log_cells_keep_full_precision_and_blank_what_was_not_computed(tmp_path):
    path = tmp_path / "log.csv"
    rows = [log_row({"step": 1, "total_loss": 0.1 + 0.2, "lipschitz": math.nan}), log_row({"step": 2})]
    write_log(path, rows)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(LOG_COLUMNS)
    assert lines[1] == "1,,,,,0.30000000000000004,,,,,,,"
    log = read_log(path)
    assert log["total_loss"].iloc[0] == 0.1 + 0.2 and math.isnan(log["lipschitz"].iloc[0])


@pytest.mark.parametrize("text, message", [
    ("", "empty log file"), (",".join(LOG_COLUMNS) + "\n", "log has no rows"),
    ("step,total_loss\n1,2\n", "missing column(s) content_loss, style_loss, tv_loss"),
])
def test_unusable_logs_name_the_file(tmp_path, text, message):
    path = tmp_path / "x_log.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        read_log(path)
    assert str(path) in str(error.value) and message in str(error.value)
