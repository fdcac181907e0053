"""`spritegan diagnose`: is a run collapsing, not learning, or healthy, and which rare modes did it drop?

Reads a run folder and returns a `Diagnosis`: the monitor signals over training (metrics.csv columns written
by the training loop's collapse monitor; for runs trained before it, the same signals read back from the
sample sheets, which show G_ema on the fixed latents), the signals of the final generator on the fixed
seeds, a verdict with its reasons, and, for the built-in sprites, the skin tones, eye and outfit colours the
real data has but the samples never show (kept apart from the verdict: a run can be healthy and still drop rare modes).
The thresholds are those of `metrics.monitor`.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from spritegan.config import RunConfig
from spritegan.data import procedural
from spritegan.data.dataset import open_dataset, open_from_config
from spritegan.errors import RunError, SpriteganError
from spritegan.generate.pipeline import SpritePipeline
from spritegan.generate.sheet import checkerboard
from spritegan.metrics import monitor as mon
from spritegan.metrics.sprites import is_builtin_sprites

HEALTHY = "healthy"
COLLAPSE = "mode collapse likely"
NOT_LEARNING = "not converging / never started to learn"
STEP_RE = re.compile(r"step-(\d+)\.png$")


@dataclass
class Diagnosis:
    """What `diagnose_run` found; `verdict` is HEALTHY, COLLAPSE or NOT_LEARNING."""

    run: Path
    verdict: str
    reasons: list[str]
    rows: list[dict[str, float]]  # metrics.csv, as numbers
    sheet_rows: list[dict[str, float]]  # monitor signals of G_ema read back from the sample sheets
    final: dict[str, float]  # monitor signals of the final generator on the fixed seeds
    first_flags: dict[str, int]  # signal -> first step it crossed its threshold (training curves)
    total_steps: int  # the last step logged
    sheets: list[tuple[int, Path]]
    dropped: list[str] = field(default_factory=list)  # traits of the real data the samples never show
    dropped_note: str = ""  # how the dropped traits were found (or why they could not be)
    fakes: torch.Tensor | None = None  # uint8 fixed-seed samples of the final generator
    real: torch.Tensor | None = None  # uint8 training images


def read_metrics(run: Path) -> list[dict[str, float]]:
    """metrics.csv rows as {column: float} (empty cells left out), in step order."""
    path = Path(run) / "metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        rows = []
        for raw in csv.DictReader(fh):
            try:
                rows.append({k: float(v) for k, v in raw.items() if k and v not in (None, "")})
            except ValueError as exc:
                raise RunError(f"{path}: not a metrics table ({exc})") from None
    return sorted((r for r in rows if "step" in r), key=lambda r: r["step"])


def sample_sheets(run: Path) -> list[tuple[int, Path]]:
    """(step, path) of RUN/samples/step-NNNNNN.png, in step order."""
    folder = Path(run) / "samples"
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.png") if (m := STEP_RE.search(p.name))]
    return sorted(found)


def read_sheet(path: Path, n: int, size: tuple[int, int], channels: int) -> torch.Tensor:
    """The uint8 (n, C, H, W) sprites of a sample sheet written by the training loop (make_sheet on a
    checkerboard, scale max(1, 96 // side), 1 px gaps): where a pixel block shows the checkerboard exactly
    it is transparent; where the block covers both checker shades the alpha is solved from their
    difference; otherwise it is opaque. Exact for hard alpha except opaque pixels of the checker's greys."""
    h, w = size
    scale = max(1, 96 // max(h, w))
    ncol = math.ceil(math.sqrt(n))
    sheet = np.asarray(Image.open(path).convert("RGB")).astype(np.float64)
    board = checkerboard(sheet.shape[0], sheet.shape[1], max(4, 4 * scale)).astype(np.float64)
    nrow = math.ceil(n / ncol)
    if sheet.shape[0] != nrow * (h * scale + 1) + 1 or sheet.shape[1] != ncol * (w * scale + 1) + 1:
        raise RunError(
            f"{path}: not a {n}-sprite sheet of {w}x{h} sprites (size {sheet.shape[1]}x{sheet.shape[0]})"
        )
    out = np.zeros((n, 4, h, w))
    for i in range(n):
        r, col = divmod(i, ncol)
        y0, x0 = 1 + r * (h * scale + 1), 1 + col * (w * scale + 1)
        tile = sheet[y0 : y0 + h * scale, x0 : x0 + w * scale].reshape(h, scale, w, scale, 3)
        bg = board[y0 : y0 + h * scale, x0 : x0 + w * scale, 0].reshape(h, scale, w, scale)
        out[i, :3] = tile.mean((1, 3)).transpose(2, 0, 1)
        out[i, 3] = 255.0
        shows_board = (tile == bg[..., None]).all(-1).all((1, 3))
        light = (bg == 255).any((1, 3)) & (bg == 204).any((1, 3))
        for y, x in zip(*np.nonzero(light & ~shows_board), strict=True):
            px, shade = tile[y, :, x].reshape(-1, 3), bg[y, :, x].reshape(-1)
            diff = float((px[shade == 255].mean(0) - px[shade == 204].mean(0)).mean())
            a = min(1.0, max(0.0, 1.0 - diff / 51.0))
            if a > 0:
                out[i, :3, y, x] = (px[shade == 204].mean(0) - (1 - a) * 204.0) / a
            out[i, 3, y, x] = 255.0 * a
        out[i, 3][shows_board] = 0.0
        out[i, :3, shows_board] = 0.0
    images = torch.from_numpy(np.clip(np.rint(out), 0, 255).astype(np.uint8))
    if channels == 4:
        return images
    if channels == 3:
        return images[:, :3]
    return images[:, :1] if channels == 1 else images[:, [0, 3]]


def _flag_steps(rows: list[dict[str, float]], relativistic: bool) -> dict[str, int]:
    """First step at which each signal crossed its threshold, by the same rules as the training warnings."""
    alarms = mon.Alarms(relativistic=relativistic)
    first: dict[str, int] = {}
    for row in rows:
        if "score_gap" not in row and "score_real" in row and "score_fake" in row:  # runs before the monitor
            row = {**row, "score_gap": row["score_real"] - row["score_fake"]}
        for name, crossed, _ in alarms.conditions(int(row["step"]), row):
            if crossed:
                first.setdefault(name, int(row["step"]))
    return first


def judge(final: dict[str, float], rows: list[dict[str, float]], relativistic: bool) -> tuple[str, list[str]]:
    """The verdict and its reasons from the final generator's signals and the training curves."""
    reasons, verdict = [], HEALTHY
    div, distinct, far = final["diversity"], final["distinct_nn"], final["nn_distance"]
    if div < mon.DIVERSITY_LOW or distinct < mon.DISTINCT_LOW:
        verdict = COLLAPSE
        reasons.append(
            f"the final generator's fixed batch is {div:.0%} as varied as real data (collapse below "
            f"{mon.DIVERSITY_LOW:.0%}) and resembles {distinct:.0%} as many distinct training images "
            f"(below {mon.DISTINCT_LOW:.0%})"
        )
    if far > mon.NN_FAR:
        verdict = verdict if verdict == COLLAPSE else NOT_LEARNING
        reasons.append(
            f"its samples are {far:.1f}x farther from their nearest training image than real images are "
            f"(above {mon.NN_FAR}): they do not look like the data"
        )
    tail = rows[len(rows) * 2 // 3 :]
    gaps = [r["score_real"] - r["score_fake"] for r in tail if "score_real" in r and "score_fake" in r]
    if gaps and float(np.median(gaps)) > mon.GAP_HIGH:
        reasons.append(
            f"over the last third of training D held real and fake {float(np.median(gaps)):.1f} apart "
            f"(median D(real) - D(fake), above {mon.GAP_HIGH}): D won, so G got little signal"
        )
    signs = [r["d_sign_real"] for r in tail if "d_sign_real" in r]
    if signs and not relativistic and float(np.median(signs)) > mon.SIGN_HIGH:
        reasons.append(
            f"E[sign D(real)] was {float(np.median(signs)):.2f} over the last third (above {mon.SIGN_HIGH}): "
            "D is overfitting the real images"
        )
    if verdict == HEALTHY:
        reasons.insert(
            0,
            f"the final generator's fixed batch is {div:.0%} as varied as real data, resembles {distinct:.0%} "
            f"as many distinct training images and lies {far:.1f}x as far from them as real images do",
        )
    return verdict, reasons


COLOUR_TRAITS = ("skin", "eyes", "outfit_colour")  # what `shown_traits` reads


def trait_regions() -> dict[str, tuple[np.ndarray, np.ndarray, list[str]]]:
    """trait -> (pixel mask where a rendered sprite draws it, (K, 3) RGB of its K options, option names),
    for the built-in sprites' colour traits, found by rendering a plain sprite in each option."""
    base = {name: options[0] for name, options in procedural.TRAITS.items()}
    base |= {"hair": "none", "accessory": "none", "outfit": "shirt"}
    out = {}
    for name in COLOUR_TRAITS:
        renders = [
            procedural.render_sprite(base | {name: o}).astype(np.int32) for o in procedural.TRAITS[name]
        ]
        differs = (renders[0] != renders[1]).any(-1)  # where this trait's colour is drawn
        colours = np.stack([r[differs].reshape(-1, 4)[:, :3].mean(0) for r in renders])
        out[name] = (differs, colours, list(procedural.TRAITS[name]))
    return out


def shown_traits(images: torch.Tensor) -> list[set[tuple[str, str]]]:
    """For uint8 (N, 4, 32, 32) images, the skin tone, eye colour and outfit colour each one shows: the
    option whose colour is nearest the mean colour of the opaque pixels where a sprite draws that trait
    (so a blended or partly drawn sample is still read as its nearest tone; a sample with under half of
    those pixels opaque shows none)."""
    regions = trait_regions()
    out = []
    for img in images.permute(0, 2, 3, 1).numpy().astype(np.float64):
        shown = set()
        for name, (mask, colours, options) in regions.items():
            px = img[mask]
            opaque = px[px[:, 3] >= 128, :3]
            if len(opaque) * 2 >= len(px):
                shown.add((name, options[int(((colours - opaque.mean(0)) ** 2).sum(1).argmin())]))
        out.append(shown)
    return out


def dropped_traits(
    fakes: torch.Tensor, real: torch.Tensor, min_expected: float = 3.0
) -> tuple[list[str], str]:
    """Skin tones, eye and outfit colours of the built-in sprites that real images show and no fake does,
    among those the fakes where the trait can be read should show at least `min_expected` times at the real
    share (`shown_traits` reads both sets the same way, so a fake need not be a pixel-exact sprite)."""
    real_shown, fake_shown = shown_traits(real), shown_traits(fakes)
    note = (
        f"{len(fakes)} samples against {len(real)} real sprites, reading their {', '.join(COLOUR_TRAITS)} "
        "from the mean colour where each is drawn"
    )
    dropped, unread = [], []
    for name in COLOUR_TRAITS:
        real_read = [r for r in real_shown if any(k[0] == name for k in r)]
        n = sum(any(k[0] == name for k in f) for f in fake_shown)  # samples where the trait could be read
        if n < 20 or not real_read:
            unread.append(name)
            continue
        for option in procedural.TRAITS[name]:
            share = sum((name, option) in r for r in real_read) / len(real_read)
            if share * n >= min_expected and not any((name, option) in f for f in fake_shown):
                dropped.append(
                    f"{name}={option} ({share:.1%} of the real sprites, expected {share * n:.0f} of {n})"
                )
    if unread:
        note += f"; too few samples show {', '.join(unread)} to tell"
    return dropped, note


def _open_real(run: Path, data: str | None, tile: str | None) -> torch.Tensor:
    try:
        if data:
            return open_dataset(data, tile=tile).images
        return open_from_config(RunConfig.load(run / "config.yaml").data).images
    except SpriteganError as exc:
        raise RunError(f"{run}: cannot read its training data ({exc}); pass --data (and --tile)") from None


def diagnose_run(
    run: str | Path, data: str | None = None, tile: str | None = None, trait_samples: int = 256
) -> Diagnosis:
    """Diagnose a run folder (see the module docstring); `data`/`tile` override the run's training data."""
    run = Path(run)
    if not (run / "generator.safetensors").is_file():
        raise RunError(f"{run}: no generator.safetensors (not a run folder, or it saved no checkpoint yet)")
    pipe = SpritePipeline.from_run(run)
    real = _open_real(run, data, tile)
    cfg = RunConfig.load(run / "config.yaml") if (run / "config.yaml").is_file() else RunConfig()
    n = cfg.train.sample_grid
    relativistic = cfg.train.loss == "rpgan"
    if tuple(real.shape[1:]) != (pipe.model_config.channels, *pipe.model_config.image_size):
        raise RunError(
            f"{run}: its generator draws {tuple(pipe.model_config.image_size)} images but the data "
            f"is {tuple(real.shape[2:])}; pass the run's --data and --tile"
        )
    monitor = mon.TrainingMonitor.from_images(real, n)
    traits = "random" if pipe.label_spec else None
    fakes = pipe(list(range(n)), traits=traits)
    final = monitor.measure(fakes)
    rows = read_metrics(run)
    sheets = sample_sheets(run)
    size = tuple(pipe.model_config.image_size)
    sheet_rows = []
    for step, path in sheets:
        try:
            sheet_rows.append(
                {"step": float(step), **monitor.measure(read_sheet(path, n, size, real.shape[1]))}
            )
        except (RunError, OSError):
            continue  # a sheet of another layout (sample_grid changed): skip it
    curve = rows if rows and "diversity" in rows[-1] else _merge(rows, sheet_rows)
    verdict, reasons = judge(final, curve, relativistic)
    first = _flag_steps(curve, relativistic)
    diag = Diagnosis(
        run,
        verdict,
        reasons,
        rows,
        sheet_rows,
        final,
        first,
        int(curve[-1]["step"]) if curve else 0,
        sheets,
        fakes=fakes,
        real=real,
    )
    if is_builtin_sprites(fakes, pipe.manifest):
        more = pipe(list(range(n, max(n, trait_samples))), traits=traits) if trait_samples > n else fakes[:0]
        diag.dropped, diag.dropped_note = dropped_traits(torch.cat([fakes, more])[:trait_samples], real)
    return diag


def _merge(rows: list[dict[str, float]], sheet_rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """Training rows with each sheet's signals added to the row at (or just before) the sheet's step."""
    if not rows:
        return sheet_rows
    out = [dict(r) for r in rows]
    for s in sheet_rows:
        at = max((i for i, r in enumerate(out) if r["step"] <= s["step"]), default=0)
        out[at].update({k: v for k, v in s.items() if k != "step"})
    return out
