"""The metric table: names, defaults, minimum counts, and a new metric added with one table line."""

from __future__ import annotations

import numpy as np
import pytest

from spritegan.errors import DataError
from spritegan.metrics import registry
from spritegan.metrics.evaluate import ALL_METRICS, DEFAULT_METRICS, evaluate


def sprites(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 4, 8, 8), dtype=np.uint8)


def test_the_table_is_the_list_of_metrics() -> None:
    assert (
        ALL_METRICS
        == registry.NAMES
        == ("fid", "kid", "prdc", "novelty", "ppl", "pixelart", "sprites", "tiles", "walkers")
    )
    assert DEFAULT_METRICS == registry.DEFAULT == ("fid", "kid", "pixelart")
    assert {m.needs for m in registry.METRICS.values()} == {"features", "pixels", "generator"}
    assert registry.check_names(["pixelart", "fid"]) == ["fid", "pixelart"]
    with pytest.raises(DataError, match="unknown metric.*choose from fid, kid"):
        registry.check_names(["fid", "fjd"])


@pytest.mark.parametrize(
    ("names", "n_fake", "n_real", "words"),
    [
        (["fid"], 1, 5, "FID needs at least 2"),
        (["kid"], 3, 5, "KID subset size 4"),
        (["prdc"], 5, 5, "PRDC with k=5"),
        (["novelty"], 3, 0, "novelty needs at least one real image"),
    ],
)
def test_minimum_counts_are_one_line_errors(names, n_fake, n_real, words) -> None:
    options = {"kid_subset_size": 4, "prdc_k": 5}
    with pytest.raises(DataError, match=words):
        registry.check_counts(names, n_fake, n_real, options)


def test_ppl_needs_a_generator() -> None:
    with pytest.raises(DataError, match="ppl needs a generator"):
        evaluate(sprites(4, 0), sprites(4, 1), metrics=["ppl"])


def test_a_new_metric_is_one_table_line(monkeypatch) -> None:
    """The walk-through of docs/architecture.md: a function of the context plus one `Metric(...)` line."""

    def mean_alpha(ctx: registry.Context) -> dict:
        ctx.real_floor["mean_alpha"] = float(ctx.real[:, 3].mean())
        return {"mean_alpha": float(ctx.fake[:, 3].mean())}

    monkeypatch.setitem(registry.METRICS, "mean_alpha", registry.Metric("mean_alpha", "pixels", mean_alpha))
    monkeypatch.setattr(registry, "NAMES", tuple(registry.METRICS))
    fake, real = sprites(6, 0), sprites(5, 1)
    out = evaluate(fake, real, metrics=["mean_alpha", "pixelart"])
    assert out["metrics"]["mean_alpha"] == pytest.approx(fake[:, 3].mean())
    assert out["real_floor"]["mean_alpha"] == pytest.approx(real[:, 3].mean())
    assert out["metrics_requested"] == ["pixelart", "mean_alpha"] and "mean_alpha" in out["timings_s"]


def test_a_new_metric_file_is_named_by_its_table_line(monkeypatch, tmp_path) -> None:
    """The walk-through as written: metrics/mean_alpha.py plus one line naming "module:function"."""
    (tmp_path / "mean_alpha.py").write_text(
        "def mean_alpha(ctx):\n    return {'mean_alpha': float(ctx.fake[:, 3].mean())}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(
        registry.METRICS, "mean_alpha", registry.Metric("mean_alpha", "pixels", "mean_alpha:mean_alpha")
    )
    monkeypatch.setattr(registry, "NAMES", tuple(registry.METRICS))
    fake = sprites(3, 2)
    out = evaluate(fake, sprites(3, 3), metrics=["mean_alpha"])
    assert out["metrics"]["mean_alpha"] == pytest.approx(fake[:, 3].mean())
