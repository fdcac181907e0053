"""Collapse and convergence signals, cheap enough to compute while training.

Every signal is a pure function of tensors:

- `diversity`: mean pairwise distance of a batch in a cheap pixel feature space (`monitor_features`:
  colour premultiplied by alpha plus alpha, area-downsampled to at most 12 px a side), divided by the
  same measure on a fixed batch of real images; 1.0 reads "as varied as the real data", a batch of one
  repeated sprite reads 0 (Salimans et al. 2016 argue for batch-level statistics against collapse).
- `distinct_neighbours`: the share of a batch whose nearest real images (in a real pool) are distinct,
  divided by the same share for a held-out real batch: a collapsed G maps every latent near one real.
- `nn_distance`: how far the batch is from its nearest real image, as a multiple of how far held-out
  real images are from theirs; far above 1 means the samples look like no training image at all.
- `sign_real`: E[sign D(real)], the overfitting heuristic r_t of ADA (Karras et al. 2020, eq. 1):
  near 1 when D is confident on every real image (not meaningful under a relativistic loss, whose scores
  have no zero point).
- `score_gap`: mean D(real) - mean D(fake): how far apart D holds the two sets.
- `missing_colours` (palette-exact output only): palette colours with at least 1% of the real visible
  pixels that the fixed batch draws at under 1/8 of that share, the palette head's dead colours (a
  colour it stopped choosing early gets almost no gradient again); stricter than `eval`'s measure
  (`metrics/pixelart.colour_coverage`) because 64 sprites are few; it warns only after COLOURS_ROWS rows
  in a row, since a young G's colours come and go.

`TrainingMonitor` holds the real references for one dataset and `Alarms` turns rows of these signals
into one-line warnings at the thresholds below (chosen from measured runs, see README "Is my run
collapsing?").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from spritegan.metrics.pixelart import colour_coverage, colour_histogram
from spritegan.tensors import to_uint8

FEATURE_SIDE = 12  # longest side of the downsampled images the distances are taken on
POOL = 2048  # real images searched for nearest neighbours
EXACT = "donot_use_mm_for_euclid_dist"  # cdist without the matrix-product shortcut: identical rows give 0

# Thresholds of the warnings and of `spritegan diagnose`'s verdict (README "Is my run collapsing?").
DIVERSITY_LOW = 0.35  # fixed batch less varied than this share of the real data's: mode collapse likely
DISTINCT_LOW = 0.30  # nearest-real neighbours this much less distinct than real images': collapse likely
COLLAPSE_SIGNALS = frozenset({"diversity", "distinct_nn"})  # the Alarms names that mean mode collapse
NN_FAR = 4.0  # samples this many times farther from any real image than real ones: not learning
NN_ROWS = 3  # ... for that many rows in a row (a learning G's distance flickers around 4 for single rows)
SIGN_HIGH = 0.95  # E[sign D(real)] above this: D is sure of every real image (overfitting, ADA's r_t)
GAP_HIGH = 4.0  # D(real) - D(fake) above this: D separates the sets completely, G gets little signal
WARMUP_IMAGES = 6400  # no warning before G has seen this many images: a random G draws one blurry sprite
COLOURS_MIN_SHARE = 0.01  # missing_colours: colours with at least this share of real visible pixels ...
COLOURS_FACTOR = 8.0  # ... that the fixed batch draws at under 1/8 of it
# and only after that many rows in a row with a colour missing: early on G's colours come and go
COLOURS_ROWS = 10

MONITOR_FIELDS = ("d_sign_real", "score_gap", "diversity", "distinct_nn", "nn_distance", "missing_colours")


def monitor_features(images: torch.Tensor, side: int = FEATURE_SIDE) -> torch.Tensor:
    """(N, F) float features of uint8 images (N, C, H, W) or model output in [-1, 1]: colour times alpha
    plus alpha (what is seen, not the colour under transparent pixels), area-downsampled so the longer
    side is at most `side`, flattened."""
    x = images.float()
    x = x / 255.0 if images.dtype == torch.uint8 else (x.clamp(-1, 1) + 1) / 2
    c = x.shape[1]
    if c in (2, 4):  # LA, RGBA: premultiply so hidden colours do not count
        alpha = x[:, -1:]
        x = torch.cat([x[:, :-1] * alpha, alpha], dim=1)
    h, w = x.shape[-2:]
    if max(h, w) > side:
        scale = side / max(h, w)
        x = F.adaptive_avg_pool2d(x, (max(1, round(h * scale)), max(1, round(w * scale))))
    return x.reshape(len(x), -1)


def mean_pairwise_distance(features: torch.Tensor) -> float:
    """Mean Euclidean distance over all distinct pairs of rows of (N, F) features; 0 for fewer than 2."""
    n = len(features)
    if n < 2:
        return 0.0
    d = torch.cdist(features.double(), features.double(), compute_mode=EXACT)
    return float(d.sum() / (n * (n - 1)))


def diversity(fake_features: torch.Tensor, real_features: torch.Tensor) -> float:
    """Mean pairwise distance of the fakes as a share of the reals' (1.0: as varied as the real batch)."""
    ref = mean_pairwise_distance(real_features)
    if ref <= 0:
        raise ValueError("the real batch has no spread (all images identical); diversity is undefined")
    return mean_pairwise_distance(fake_features) / ref


def nearest(features: torch.Tensor, pool: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index into `pool` of each row's nearest neighbour and its Euclidean distance (found with the
    matrix-product shortcut in float32, 12x faster here; the distance to the one found is then exact)."""
    index = torch.cdist(features.float(), pool.float()).argmin(1)
    dist = (features.double() - pool[index].double()).norm(dim=1)
    return index, dist


def distinct_share(features: torch.Tensor, pool: torch.Tensor) -> float:
    """Share of rows whose nearest pool row is a different one (distinct nearest neighbours / N)."""
    index, _ = nearest(features, pool)
    return len(torch.unique(index)) / max(len(features), 1)


def sign_real(real_scores: torch.Tensor) -> float:
    """E[sign D(real)]: ADA's overfitting heuristic r_t, in [-1, 1]."""
    return float(torch.sign(real_scores.detach().float()).mean())


def score_gap(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> float:
    """mean D(real) - mean D(fake)."""
    return float(real_scores.detach().float().mean() - fake_scores.detach().float().mean())


def split_real(
    images: torch.Tensor, n: int, seed: int = 0, pool: int = POOL
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed real batch of up to `n` images and a disjoint pool of up to `pool` others (seeded)."""
    if len(images) < 2:
        raise ValueError(f"the monitor needs at least 2 real images, got {len(images)}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    k = min(n, len(images) // 2)
    return images[order[:k]], images[order[k : k + pool]]


@dataclass
class TrainingMonitor:
    """The real references (fixed batch and pool features) of one dataset, and `measure` for a fake batch."""

    real_batch: torch.Tensor  # (n, F) features of the fixed real batch
    pool: torch.Tensor  # (M, F) features of the disjoint real pool
    real_spread: float = 0.0
    real_distinct: float = 0.0
    real_nn: float = 0.0
    palette: list[list[int]] | None = None  # palette-exact output: the colours missing_colours counts
    real_colours: torch.Tensor | None = None  # each palette colour's share of all real visible pixels

    @classmethod
    def from_images(
        cls, images: torch.Tensor, n: int = 64, seed: int = 0, palette: list[list[int]] | None = None
    ) -> TrainingMonitor:
        """References from uint8 real images (N, C, H, W): a batch the size of the fixed fake batch; with
        the palette of a palette-exact G, the real colour shares too."""
        batch, pool = split_real(images, n, seed)
        mon = cls(monitor_features(batch), monitor_features(pool))
        mon.real_spread = mean_pairwise_distance(mon.real_batch)
        mon.real_distinct = distinct_share(mon.real_batch, mon.pool)
        mon.real_nn = float(nearest(mon.real_batch, mon.pool)[1].mean())
        if palette is not None:
            mon.palette, mon.real_colours = palette, colour_histogram(images, palette)
        return mon

    def measure(self, fakes: torch.Tensor) -> dict[str, float]:
        """diversity, distinct_nn and nn_distance of a fake batch (uint8 or [-1, 1]), each relative to the
        real batch's own value (1.0 = like real data)."""
        f = monitor_features(fakes).to(self.pool.device)
        index, dist = nearest(f, self.pool)
        distinct = len(torch.unique(index)) / max(len(f), 1)
        out = {
            "diversity": mean_pairwise_distance(f) / max(self.real_spread, 1e-12),
            "distinct_nn": distinct / max(self.real_distinct, 1e-12),
            "nn_distance": float(dist.mean()) / max(self.real_nn, 1e-12),
        }
        if self.real_colours is not None:
            out["missing_colours"] = self.missing_colours(fakes)
        return out

    def missing_colours(self, fakes: torch.Tensor) -> int:
        """Palette colours with >= COLOURS_MIN_SHARE of the real pixels drawn at under 1/COLOURS_FACTOR of it."""
        if fakes.dtype != torch.uint8:
            fakes = to_uint8(fakes.float())
        hist = colour_histogram(fakes.cpu(), self.palette)
        coverage = colour_coverage(hist, self.real_colours, COLOURS_MIN_SHARE, COLOURS_FACTOR)
        return int(coverage["pixelart_missing_colours"])


@dataclass
class Alarms:
    """One-line warnings when a signal crosses its threshold; each warns once until it recovers."""

    relativistic: bool = False  # rpgan: D's scores have no zero point, so sign_real says nothing
    active: set[str] = field(default_factory=set)
    streak: dict[str, int] = field(default_factory=dict)  # consecutive warm rows a slow signal has crossed

    def check(self, step: int, row: dict[str, float]) -> list[str]:
        """Warnings for this row of metrics (the MONITOR_FIELDS present, and `images`, the images seen, for
        the warm-up); empty when all is well."""
        out = []
        for name, crossed, text in self.conditions(step, row):
            if crossed and name not in self.active:
                self.active.add(name)
                out.append(f"warning: at step {step:,}, {text}")
            elif not crossed:  # recovered: warn again at the next crossing
                self.active.discard(name)
        return out

    def _held(self, name: str, crossed: bool) -> int:
        """Rows in a row, this one included, that `name` has crossed its threshold (0 when it has not)."""
        self.streak[name] = self.streak.get(name, 0) + 1 if crossed else 0
        return self.streak[name]

    def conditions(self, step: int, row: dict[str, float]) -> list[tuple[str, bool, str]]:
        """(signal, crossed, message) for each signal in `row`; nothing crosses during the warm-up."""
        conds = []
        warm = row.get("images", math.inf) >= WARMUP_IMAGES
        div, distinct = row.get("diversity"), row.get("distinct_nn")
        if div is not None:
            conds.append(
                (
                    "diversity",
                    div < DIVERSITY_LOW,
                    f"diversity fell to {div:.0%} of the real data's (below {DIVERSITY_LOW:.0%}): mode collapse "
                    "likely; try a lower learning rate (--lr), more augmentation (--set train.diffaug="
                    "translation,color) or a stronger R1 (--set train.r1_gamma=1)",
                )
            )
        if distinct is not None:
            conds.append(
                (
                    "distinct_nn",
                    distinct < DISTINCT_LOW,
                    f"the fixed batch resembles only {distinct:.0%} as many distinct training images as real "
                    f"data does (below {DISTINCT_LOW:.0%}): mode collapse likely; try a stronger R1 (--set "
                    "train.r1_gamma=1) or end with the last healthy checkpoint (--set train.keep_healthy=true)",
                )
            )
        far = row.get("nn_distance")
        if far is not None:
            streak = self._held("nn_distance", far > NN_FAR and warm)
            conds.append(
                (
                    "nn_distance",
                    streak >= NN_ROWS,
                    f"samples are {far:.1f}x farther from any training image than real ones are (above "
                    f"{NN_FAR}): not learning yet; check the sample sheets, try a lower R1 gamma or augmentation",
                )
            )
        dead = row.get("missing_colours")
        if dead is not None:
            streak = self._held("missing_colours", dead >= 1 and warm)
            conds.append(
                (
                    "missing_colours",
                    streak >= COLOURS_ROWS,
                    f"for the last {streak} rows G has not drawn {dead:.0f} palette colour(s) that each make "
                    f"up at least {COLOURS_MIN_SHARE:.0%} of the real pixels (a colour the palette head stops "
                    "choosing gets almost no gradient again); `spritegan eval RUN --metrics pixelart` names "
                    "them, and --set train.colour_usage=1 pulls every colour toward its real share",
                )
            )
        sign = row.get("d_sign_real")
        if sign is not None and not self.relativistic:
            conds.append(
                (
                    "d_sign_real",
                    sign > SIGN_HIGH,
                    f"D is sure of nearly every real image (E[sign D(real)] = {sign:.2f}, above {SIGN_HIGH}): "
                    "D is overfitting; try augmentation (--set train.ada_target=0.6) or a lower D learning rate",
                )
            )
        gap = row.get("score_gap")
        if gap is not None:
            conds.append(
                (
                    "score_gap",
                    gap > GAP_HIGH,
                    f"D(real) - D(fake) is {gap:.1f} (above {GAP_HIGH}): D has won and G gets little signal; "
                    "try a stronger R1 (--set train.r1_gamma=1)",
                )
            )
        return [(name, crossed and warm, text) for name, crossed, text in conds]
