"""One entry point for evaluating generated images against real ones, and a trained run.

Protocol (FID-5k): 5,000 generated samples against all training images as the model sees them, RGBA
composited on white, clean-fid bicubic resize to 299x299, TF-Inception pool3 features, float64 statistics;
the real features are cached on disk. Fewer samples give FID-N (e.g. FID-500), labelled as such: an
in-training signal only. Beside FID, the pixel-art measures of `metrics/pixelart.py`, each with its floor
on the real images. See docs/evaluation.md for each metric and its citation.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from spritegan import storage
from spritegan.data.dataset import MAX_ALPHA_LEVELS, image_hash, open_dataset
from spritegan.errors import DataError, RunError
from spritegan.generate.pipeline import SpritePipeline
from spritegan.metrics import features, registry
from spritegan.metrics.features import extractor_id, inception_features
from spritegan.metrics.frechet import gaussian_stats
from spritegan.metrics.pixelart import (
    colour_coverage,
    colour_histogram,
    missing_colours,
    palette_of,
    pixelart_metrics,
)
from spritegan.metrics.records import append_record, make_record
from spritegan.metrics.sprites import is_builtin_sprites

DEFAULT_METRICS = registry.DEFAULT
ALL_METRICS = registry.NAMES
STANDARD_SAMPLES = 5000
KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
PRDC_K = 5


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Feature cache folder: `cache_dir`, else $SPRITEGAN_CACHE, else ~/.cache/spritegan/features."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("SPRITEGAN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "spritegan" / "features"


def fid_label(n_fake: int) -> str:
    """'FID-5k' for 5,000 samples, 'FID-500' for 500, 'FID-1500' for 1,500: FID names its sample count."""
    return f"FID-{n_fake // 1000}k" if n_fake >= 1000 and n_fake % 1000 == 0 else f"FID-{n_fake}"


def _note(progress: bool | None, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def _numpy(images) -> np.ndarray:
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.ndim != 4 or array.dtype != np.uint8:
        raise DataError(f"expected uint8 images shaped (N, C, H, W); got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array)


def real_cache_key(real: np.ndarray, options: dict) -> str:
    """Hash of the real image bytes and shape, the extractor id and the feature options."""
    digest = hashlib.sha256()
    digest.update(repr((real.shape, str(real.dtype))).encode())
    digest.update(memoryview(real).cast("B"))
    digest.update(extractor_id().encode())
    digest.update(json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def real_cache_path(real: np.ndarray, cache_dir: str | Path | None = None) -> Path:
    """Where the real set's features are cached: CACHE/<hash of data, extractor and options>.npz."""
    return cache_root(cache_dir) / f"{real_cache_key(real, {'features': 'pool3'})}.npz"


def real_features(
    real: np.ndarray,
    *,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool | None = None,
) -> tuple[np.ndarray, str]:
    """Inception features of the real set, read from / written to the npz cache. Returns (features, status)."""
    desc = f"real features ({len(real)})"
    if not use_cache:
        return inception_features(real, batch_size=batch_size, progress=progress, desc=desc), "off"
    path = real_cache_path(real, cache_dir)
    if path.is_file():
        try:
            with np.load(path) as data:
                feats = data["features"].astype(np.float64)
            _note(progress, f"real features: {len(feats)} read from the cache {path}")
            return feats, "hit"
        except (OSError, KeyError, ValueError):
            path.unlink(missing_ok=True)
    _note(progress, f"real features: computing for {len(real)} images (cached afterwards in {path})")
    feats = inception_features(real, batch_size=batch_size, progress=progress, desc=desc)
    path.parent.mkdir(parents=True, exist_ok=True)
    mu, sigma = gaussian_stats(feats) if len(feats) >= 2 else (feats.mean(0), np.zeros((1, 1)))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez would add ".npz" to a bare temp name
            np.savez(fh, features=feats.astype(np.float32), mu=mu, sigma=sigma)

    storage.atomic_write(path, write)
    return feats, "miss"


def evaluate(
    fake,
    real,
    *,
    metrics: tuple[str, ...] | list[str] = DEFAULT_METRICS,
    seed: int = 0,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    kid_subset_size: int | None = None,
    kid_subsets: int = KID_SUBSETS,
    prdc_k: int = PRDC_K,
    novelty_threshold: float | None = None,
    pairs_png: str | Path | None = None,
    palette: list | None = None,
    alpha_levels: list | None = None,
    progress: bool | None = None,
    pipeline=None,
    ppl_samples: int = 200,
    fake_labels=None,
) -> dict:
    """Compare uint8 fake (N,C,H,W) with uint8 real (M,C,H,W) images; returns a JSON-ready dict.

    `kid_subset_size=None` uses min(1000, N, M); an explicit size larger than either set is an error.
    `palette` / `alpha_levels` (the manifest's) default to those of the real images. `progress` shows tqdm
    bars for feature extraction and status lines on stderr (None: bars only on a terminal). `fake_labels`,
    the (N, cond_dim) labels a conditional `pipeline` drew the fakes with, lets a metric check asked traits.
    Keys: counts, seed, preprocessing convention, extractor id, "fid_label", "metrics", "real_floor" (the
    same pixel-art and sprite measures on the real images), "timings_s" per part and "seconds" in all.
    """
    names = registry.check_names(metrics)
    fake_np, real_np = _numpy(fake), _numpy(real)
    if fake_np.shape[1] != real_np.shape[1]:
        raise DataError(
            f"generated images have {fake_np.shape[1]} channels but real ones have {real_np.shape[1]}; "
            "compare sets of the same mode (both RGBA, both RGB or both grayscale)"
        )
    n_fake, n_real = len(fake_np), len(real_np)
    options = {
        "kid_subset_size": kid_subset_size or min(KID_SUBSET_SIZE, n_fake, n_real),
        "kid_subset_explicit": kid_subset_size is not None,
        "kid_subsets": kid_subsets,
        "prdc_k": prdc_k,
        "novelty_threshold": novelty_threshold,
        "pairs_png": pairs_png,
        "palette": palette,
        "alpha_levels": alpha_levels,
        "batch_size": batch_size,
        "ppl_samples": ppl_samples,
    }
    registry.check_counts(names, n_fake, n_real, options)

    start = time.perf_counter()
    out: dict = {
        "n_fake": n_fake,
        "n_real": n_real,
        "image_shape": list(fake_np.shape[1:]),
        "seed": seed,
        "metrics_requested": [m for m in names if registry.METRICS[m].needs != "generator"],
        "metrics": {},
        "real_floor": {},
        "timings_s": {},
    }
    timings = out["timings_s"]
    ctx = registry.Context(fake_np, real_np, seed, options, pipeline=pipeline, fake_labels=fake_labels)
    if any(registry.METRICS[m].needs == "features" for m in names):
        out["fid_label"] = fid_label(n_fake)
        out["standard_protocol"] = n_fake >= STANDARD_SAMPLES
        out["preprocessing"] = features.CONVENTION
        out["preprocessing_text"] = features.CONVENTION_TEXT
        out["extractor"] = features.extractor_id()
        out["engine"] = features.resolve_engine()  # fp32 engines agree to float summation order
        t0 = time.perf_counter()
        ctx.real_features, out["real_cache"] = real_features(
            real_np, batch_size=batch_size, cache_dir=cache_dir, use_cache=use_cache, progress=progress
        )
        timings["real_features"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        ctx.fake_features = features.inception_features(
            fake_np, batch_size=batch_size, progress=progress, desc=f"generated features ({n_fake})"
        )
        timings["fake_features"] = round(time.perf_counter() - t0, 3)
    for name in names:
        out["metrics"].update(registry.compute(name, ctx, timings))
        if registry.METRICS[name].needs == "generator" and "ppl_skipped" not in ctx.extra:
            out["metrics_requested"].append(name)
    out["real_floor"].update(ctx.real_floor)
    out.update(ctx.extra)
    out["seconds"] = round(time.perf_counter() - start, 3)
    return out


def pixelart_with_floor(fake: np.ndarray, real: np.ndarray, palette=None, alpha_levels=None) -> dict:
    """Pixel-art measures of the fakes and of the real images (the floor a perfect model reaches).

    Palette and alpha levels default to the real images' own (at most 256 colours / 16 alpha levels, as
    in the dataset manifest); beyond that the off-palette / off-alpha shares are left out. The colour
    coverage reads off-palette fakes (an RGB head's) snapped to the nearest palette colour, as `generate
    --palette` would draw them, so it counts colours G does not draw rather than its off-palette shades.
    """
    if palette is None:
        palette = palette_of(real)
    if alpha_levels is None and real.shape[1] == 4:
        levels = np.nonzero(np.bincount(real[:, 3].ravel(), minlength=256))[0]
        alpha_levels = [int(v) for v in levels] if len(levels) <= MAX_ALPHA_LEVELS else None
    out = {
        "metrics": pixelart_metrics(fake, palette, alpha_levels),
        "real_floor": pixelart_metrics(real, palette, alpha_levels),
        "palette_size": None if palette is None else len(palette),
    }
    if palette is not None and len(fake) and len(real) >= 2:
        # an RGB head's off-palette shades read as the palette colour each is nearest
        if out["metrics"].get("pixelart_off_palette", 0.0) > 0:
            import torch

            from spritegan.generate.postprocess import snap_palette

            fake = snap_palette(torch.from_numpy(np.ascontiguousarray(fake)), palette).numpy()
            out["colour_coverage_snapped"] = True
        real_hist, fake_hist = colour_histogram(real, palette), colour_histogram(fake, palette)
        out["metrics"].update(colour_coverage(fake_hist, real_hist))
        out["missing_colours"] = missing_colours(fake_hist, real_hist, palette)
        out["real_floor"].update(_coverage_floor(real, palette, len(fake)))
    return out


def _coverage_floor(real: np.ndarray, palette, n_fake: int) -> dict:
    """Colour coverage of one random half of the real images (at most n_fake of them) against the other
    half: what sampling alone costs a perfect model (seeded, so the floor is the same every time)."""
    order = np.random.default_rng(0).permutation(len(real))
    half = len(real) // 2
    probe, rest = real[order[: min(half, n_fake)]], real[order[half:]]
    return colour_coverage(colour_histogram(probe, palette), colour_histogram(rest, palette))


def training_data_options(manifest: dict) -> dict:
    """open_dataset options that rebuild the training images from a run's data manifest.

    The tile size of a sprite sheet is the stored image size (before any resize); resize and padding
    are repeated as recorded.
    """
    options: dict = {}
    size = manifest.get("size")
    fix = manifest.get("resize") or {}
    source = str(manifest.get("source", ""))
    if fix.get("resize_to"):
        h, w = fix["resize_to"]
        options.update(resize=f"{w}x{h}", resample=fix.get("resample", "nearest"))
    if fix.get("pad_to"):
        h, w = fix["pad_to"]
        options["pad_to"] = f"{w}x{h}"
    if size and not source.startswith("builtin:") and Path(source).is_file():
        h, w = (fix.get("from_sizes") or [size])[0]
        options["tile"] = f"{w}x{h}"
    if (manifest.get("sheet") or {}).get("labels_csv"):  # frames assembled into character sheets by a CSV
        options["labels_csv"] = manifest["sheet"]["labels_csv"]
        if "tile" in options:  # a sprite sheet of frames: cut at the frame size, not the sheet's
            h, w = (fix.get("from_sizes") or [manifest["sheet"]["frame_size"]])[0]
            options["tile"] = f"{w}x{h}"
    return options


def evaluate_run(
    run_dir: str | Path,
    real_spec: str | None = None,
    samples: int = 5000,
    seed: int = 0,
    *,
    metrics: tuple[str, ...] | list[str] | None = None,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    ppl_samples: int = 200,
    kid_subset_size: int | None = None,
    write: bool = True,
    progress: bool | None = None,
    agree: float | None = None,
    despeckle: int | None = None,
    traits: str | None = None,
    max_colours: int | None = None,
    refine: int | None = None,
    best_of: int | None = None,
) -> dict:
    """Sample `samples` images from a run and evaluate them; appends one JSON line to run_dir/metrics.jsonl.

    A conditional run is sampled as `spritegan generate` samples it: `traits` None draws each seed's traits
    from the training labels, 'none' uses the unconditional slot, other text asks for traits (see
    `SpritePipeline.labels_for`); the result's "conditioning" says which.

    The real set defaults to all of the run's training images (manifest "source", same tile size). By
    default FID, KID and the pixel-art measures are computed, plus the exact sprite metrics for the
    built-in sprites, the seam measure for --tileable runs and builtin:tiles and the whole-character
    measure for builtin:walkers; "seconds" counts everything from loading the model to the last metric.
    """
    run_dir = Path(run_dir)
    t0 = time.perf_counter()
    pipe = SpritePipeline.from_run(
        run_dir,
        agree=agree,
        despeckle=despeckle,
        max_colours=max_colours,
        refine=refine,
        best_of=best_of,
    )
    manifest = dict(getattr(pipe, "manifest", None) or {})
    spec = real_spec or manifest.get("source")
    if not spec:
        raise RunError(f"{run_dir}: the run's manifest has no data source; pass --real DATA")
    dataset = open_dataset(spec, **(training_data_options(manifest) if real_spec is None else {}))
    real = dataset.images
    matches = image_hash(real) == manifest.get("sha256") if manifest.get("sha256") else None
    _note(progress, f"sampling {samples} images from {run_dir} (seeds {seed}..{seed + samples - 1})")
    seeds = list(range(seed, seed + samples))
    labels = pipe.labels_for(traits, seeds, seed)  # None for an unconditional run (and for --traits none)
    fake = pipe(seeds, labels=labels)
    load_s = round(time.perf_counter() - t0, 3)
    wanted = list(metrics) if metrics is not None else list(DEFAULT_METRICS)
    if metrics is None and is_builtin_sprites(fake, manifest):
        wanted.append("sprites")
    if metrics is None and (pipe.model_config.tileable or str(spec).startswith("builtin:tiles")):
        wanted.append("tiles")  # the seam measure (metrics/tiles.py)
    if metrics is None and str(spec).startswith("builtin:walkers"):
        wanted.append("walkers")  # whole characters in every pose (metrics/walkers.py)
    result = evaluate(
        fake,
        real,
        metrics=wanted,
        seed=seed,
        batch_size=batch_size,
        cache_dir=cache_dir,
        kid_subset_size=kid_subset_size,
        pairs_png=run_dir / "eval" / f"closest_pairs_seed{seed}.png"
        if "novelty" in wanted and write
        else None,
        palette=manifest.get("palette") if real_spec is None else None,
        alpha_levels=manifest.get("alpha_levels") if real_spec is None else None,
        progress=progress,
        pipeline=pipe,
        ppl_samples=ppl_samples,
        fake_labels=labels,
    )
    result["timings_s"]["load_and_sample"] = load_s
    result.update(pipe.sampling_record)
    if pipe.label_spec:
        result["conditioning"] = (
            "unconditional slot"
            if labels is None
            else f"traits {traits}"
            if traits
            else "each seed's traits drawn from the training labels"
        )
    result["seconds"] = round(time.perf_counter() - t0, 3)
    result = make_record(result, real_matches_training=matches, run=str(run_dir), real=str(spec))
    if write:
        append_record(run_dir / "metrics.jsonl", result)
    return result
