"""`spritegan curves`: eval.jsonl records to a table and a PNG; clear errors for runs without them."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from spritegan.cli import main
from spritegan.errors import RunError
from spritegan.metrics.curves import curve_table, read_eval_curve
from spritegan.metrics.records import value


def write_run(path, records) -> str:
    path.mkdir(parents=True)
    (path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_table_and_png(tmp_path, capsys) -> None:
    a = write_run(
        tmp_path / "a", [{"step": 500, "fid": 90.0, "kid": 0.05}, {"step": 1000, "fid": 80.0, "kid": 0.04}]
    )
    b = write_run(tmp_path / "b", [{"step": 1000, "fid": 70.25, "kid": 0.03}])
    out = tmp_path / "c.png"
    assert main(["curves", a, b, "--names", "scratch,transfer", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| step | scratch FID | transfer FID |" in text
    assert "| 500 | 90.0 |  |" in text and "| 1000 | 80.0 | 70.2 |" in text
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 300
    kid = curve_table({"a": read_eval_curve(a)}, "kid")
    assert "a KID x10^3" in kid and "| 1000 | 40.0 |" in kid


def test_resumed_step_keeps_the_later_record(tmp_path) -> None:
    run = write_run(
        tmp_path / "r", [{"step": 500, "fid": 9.0}, {"step": 250, "fid": 12.0}, {"step": 500, "fid": 8.0}]
    )
    assert [(r["step"], value(r, "fid")) for r in read_eval_curve(run)] == [(250, 12.0), (500, 8.0)]


def test_old_and_new_records_read_alike(tmp_path) -> None:
    """Training's old flat lines and the one record format (what train and eval write now) give one curve."""
    from spritegan.metrics.records import make_record

    new = make_record({"n_fake": 12, "metrics": {"fid": 7.0, "kid_mean": 0.03}}, step=750, images=12000)
    run = write_run(tmp_path / "m", [{"step": 500, "fid": 9.0, "kid": 0.04, "samples": 12, "real": 10}, new])
    rows = read_eval_curve(run)
    assert [(value(r, "fid"), value(r, "kid")) for r in rows] == [(9.0, 0.04), (7.0, 0.03)]
    assert rows[0]["n_fake"] == 12 and rows[0]["n_real"] == 10 and rows[1]["record"] == new["record"]


def test_errors_name_the_run(tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no eval.jsonl"):
        read_eval_curve(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "eval.jsonl").write_text('{"step": 1, "fid": 2}\nnot json\n')
    with pytest.raises(RunError, match="line 2"):
        read_eval_curve(bad)
    good = write_run(tmp_path / "g", [{"step": 1, "fid": 2.0}])
    assert main(["curves", good, str(tmp_path / "empty"), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "empty" in err[0] and not (tmp_path / "x.png").exists()
    assert main(["curves", good, "--names", "a,b"]) == 2
