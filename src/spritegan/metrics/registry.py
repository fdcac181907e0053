"""The metric table: name -> what it needs, its minimum counts, and the function that computes it.

`metrics.evaluate.evaluate` walks this table in order; nothing else lists metric names. A metric is a
function of a `Context` (the uint8 image sets, their Inception features when the metric needs them, the
generator for generator metrics, the options) returning a dict of JSON-ready numbers. To add one: write
`metrics/<name>.py` with the function (docstring citing the paper) and its test, then add one `Metric(...)`
line to `METRICS` below naming it as "spritegan.metrics.<name>:<function>", imported when first computed
(docs/architecture.md walks through it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

import numpy as np

from spritegan.errors import DataError

Needs = str  # "features": Inception pool3 of both sets | "pixels": the uint8 sets | "generator": a pipeline


@dataclass
class Context:
    """Everything a metric may read; `real_floor` and `extra` collect what it reports beside its values."""

    fake: np.ndarray  # uint8 (N, C, H, W)
    real: np.ndarray  # uint8 (M, C, H, W)
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    fake_features: np.ndarray | None = None
    real_features: np.ndarray | None = None
    pipeline: Any = None  # a SpritePipeline, for generator metrics
    fake_labels: Any = None  # (N, cond_dim) labels the fakes were generated with, for a conditional model
    real_floor: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # top-level result keys (e.g. palette_size)


@dataclass(frozen=True)
class Metric:
    name: str
    needs: Needs
    compute: Callable[[Context], dict[str, Any]] | str  # the function, or "module:function" (imported on use)
    check: Callable[[int, int, dict[str, Any]], str | None] = lambda n_fake, n_real, options: None
    default: bool = False  # computed when no metrics are named

    def function(self) -> Callable[[Context], dict[str, Any]]:
        if callable(self.compute):
            return self.compute
        module, _, name = self.compute.partition(":")
        return getattr(import_module(module), name)


def _at_least(count: Callable[[dict[str, Any]], int], what: Callable[[dict[str, Any]], str]):
    """A check: both sets need at least count(options) images, else the one-line message what(options)."""

    def check(n_fake: int, n_real: int, options: dict[str, Any]) -> str | None:
        if min(n_fake, n_real) < count(options):
            return f"{what(options)}; got {n_real} real, {n_fake} generated"
        return None

    return check


# The metric modules load on first use: `eval --help` imports this table (and evaluate.py imports it).
def _fid(ctx: Context) -> dict[str, Any]:
    from spritegan.metrics.frechet import fid_from_features

    return {"fid": fid_from_features(ctx.fake_features, ctx.real_features)}


def _kid(ctx: Context) -> dict[str, Any]:
    from spritegan.metrics.kid import kernel_inception_distance

    subset, subsets = ctx.options["kid_subset_size"], ctx.options["kid_subsets"]
    mean, std = kernel_inception_distance(
        ctx.fake_features, ctx.real_features, num_subsets=subsets, subset_size=subset, seed=ctx.seed
    )
    return {"kid_mean": mean, "kid_std": std, "kid_subset_size": subset, "kid_subsets": subsets}


def _kid_check(n_fake: int, n_real: int, options: dict[str, Any]) -> str | None:
    subset = options["kid_subset_size"]
    if min(n_fake, n_real) < subset:
        hint = "pass a smaller --kid-subset-size" if options.get("kid_subset_explicit") else "add images"
        return (
            f"KID subset size {subset} needs at least {subset} real and generated images; "
            f"got {n_real} real, {n_fake} generated: {hint}"
        )
    return None


def _prdc(ctx: Context) -> dict[str, Any]:
    from spritegan.metrics.prdc import prdc

    k = ctx.options["prdc_k"]
    return {
        **prdc(ctx.real_features, ctx.fake_features, k=k),
        "prdc_k": k,
        "prdc_features": "inception-pool3",
    }


def _novelty(ctx: Context) -> dict[str, Any]:
    from spritegan.metrics import novelty

    fake, real = ctx.fake, ctx.real
    if fake.shape[1:] != real.shape[1:]:
        raise DataError(
            f"novelty compares pixels, but generated images are {fake.shape[2]}x{fake.shape[3]} and "
            f"real ones {real.shape[2]}x{real.shape[3]}; drop novelty or use real data at the model's size"
        )
    index, dist = novelty.nearest_real(fake, real)
    threshold = ctx.options.get("novelty_threshold")
    out = novelty.novelty_stats(dist, novelty.DEFAULT_THRESHOLD if threshold is None else threshold)
    if ctx.options.get("pairs_png") is not None:
        ctx.extra["closest_pairs_png"] = str(
            novelty.write_closest_pairs(fake, real, index, dist, ctx.options["pairs_png"])
        )
    return out


def _ppl(ctx: Context) -> dict[str, Any]:
    from spritegan.metrics.ppl import perceptual_path_length

    pipe = ctx.pipeline
    if pipe is None:
        raise DataError("ppl needs a generator: evaluate a run (spritegan eval RUN), not two image sets")
    if pipe.label_spec:
        ctx.extra["ppl_skipped"] = "conditional model: PPL needs labels, which this protocol does not sample"
        return {}
    return perceptual_path_length(
        pipe.synthesize,
        pipe.z_dim,
        num_samples=ctx.options.get("ppl_samples", 200),
        seed=ctx.seed,
        batch_size=ctx.options.get("batch_size", 32),
    )


def _pixelart(ctx: Context) -> dict[str, Any]:
    from spritegan.metrics.evaluate import pixelart_with_floor

    measures = pixelart_with_floor(
        ctx.fake, ctx.real, ctx.options.get("palette"), ctx.options.get("alpha_levels")
    )
    ctx.real_floor.update(measures["real_floor"])
    ctx.extra["palette_size"] = measures["palette_size"]
    if measures.get("missing_colours"):
        ctx.extra["missing_colours"] = measures["missing_colours"]
    if measures.get("colour_coverage_snapped"):
        ctx.extra["colour_coverage_snapped"] = True
    return measures["metrics"]


def _sprites(ctx: Context) -> dict[str, Any]:
    from spritegan.metrics.sprites import sprite_metrics

    ctx.real_floor["sprite_valid_share"] = sprite_metrics(ctx.real)["sprite_valid_share"]
    return sprite_metrics(ctx.fake, ctx.real)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "fid",
            "features",
            _fid,
            _at_least(lambda o: 2, lambda o: "FID needs at least 2 real and 2 generated images"),
            default=True,
        ),
        Metric("kid", "features", _kid, _kid_check, default=True),
        Metric(
            "prdc",
            "features",
            _prdc,
            _at_least(
                lambda o: o["prdc_k"] + 1,
                lambda o: (
                    f"PRDC with k={o['prdc_k']} needs more than {o['prdc_k']} real and generated images"
                ),
            ),
        ),
        Metric(
            "novelty",
            "pixels",
            _novelty,
            lambda n_fake, n_real, o: "novelty needs at least one real image" if n_real < 1 else None,
        ),
        Metric("ppl", "generator", _ppl),
        Metric("pixelart", "pixels", _pixelart, default=True),
        Metric("sprites", "pixels", _sprites),
        Metric("tiles", "pixels", "spritegan.metrics.tiles:tiles_metric"),  # seam measure (--tileable)
        Metric("walkers", "pixels", "spritegan.metrics.walkers:walkers_metric"),  # whole characters
    )
}
NAMES = tuple(METRICS)
DEFAULT = tuple(m.name for m in METRICS.values() if m.default)


def check_names(names) -> list[str]:
    """The names in table order; unknown names are a one-line DataError listing the known ones."""
    unknown = sorted(set(names) - set(METRICS))
    if unknown:
        raise DataError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    return [n for n in NAMES if n in set(names)]


def check_counts(names, n_fake: int, n_real: int, options: dict[str, Any]) -> None:
    """The first minimum-count failure among `names`, as a DataError."""
    for name in names:
        message = METRICS[name].check(n_fake, n_real, options)
        if message:
            raise DataError(message)


def compute(name: str, ctx: Context, timings: dict[str, float]) -> dict[str, Any]:
    """One metric's values, its seconds recorded in `timings[name]`."""
    t0 = time.perf_counter()
    values = METRICS[name].function()(ctx)
    timings[name] = round(time.perf_counter() - t0, 3)
    return values
