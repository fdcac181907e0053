"""Training the palette refiner (models/refiner.py) on a run's own training sprites.

The refiner learns to undo `corrupt_indices`: pixels that take a 4-neighbour's colour (an edge a pixel
off), pixels that take another colour of the same sprite (a speck), and small patches of another training
sprite copied in at the same place (a piece of a neighbouring shape: a shoulder of another body type, a
longer brim). On the built-in sprites the patches were what made it work: trained on pixel noise alone it
fixed 0.8 of a conditional G's 3.6 wrong pixels per sprite, with the patches 2.0 (docs/pixel-exact.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from spritegan.models.palette_head import ColourLookup, PaletteOutput
from spritegan.models.refiner import RefinerBase
from spritegan.tensors import to_model


def corrupt_indices(
    index: torch.Tensor,
    generator: torch.Generator,
    pixel_rate: float = 0.03,
    patches: int = 3,
    patch_size: int = 4,
) -> torch.Tensor:
    """A copy of palette-index sprites (N, H, W) with generator-like misses, reproducible from `generator`.

    Each sprite gets a share of pixels drawn from [0, pixel_rate), each copying a random 4-neighbour
    (70%) or a random pixel of the same sprite (30%), then `patches` tries (each taken with chance 1/2)
    at a rectangle of 1 to `patch_size` pixels a side copied from another sprite of the batch at the same
    place. With one sprite in the batch the patches come from itself (no change)."""
    n, h, w = index.shape
    out = index.clone()
    rate = torch.rand(n, 1, 1, generator=generator) * pixel_rate
    picked = torch.rand(n, h, w, generator=generator) < rate
    direction = torch.randint(0, 4, (n, h, w), generator=generator)
    for k, (dy, dx) in enumerate(((0, 1), (0, -1), (1, 0), (-1, 0))):
        moved = picked & (direction == k)
        out[moved] = torch.roll(index, shifts=(dy, dx), dims=(1, 2))[moved]
    speck = picked & (torch.rand(n, h, w, generator=generator) < 0.3)
    anywhere = torch.randint(0, h * w, (n, h * w), generator=generator)
    others = index.reshape(n, -1).gather(1, anywhere).reshape(n, h, w)
    out[speck] = others[speck]
    donor = index[torch.randperm(n, generator=generator)]
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    for _ in range(patches):
        ph = torch.randint(1, patch_size + 1, (n, 1, 1), generator=generator)
        pw = torch.randint(1, patch_size + 1, (n, 1, 1), generator=generator)
        y0 = torch.randint(0, h, (n, 1, 1), generator=generator)
        x0 = torch.randint(0, w, (n, 1, 1), generator=generator)
        used = torch.rand(n, 1, 1, generator=generator) < 0.5
        inside = (rows >= y0) & (rows < y0 + ph) & (cols >= x0) & (cols < x0 + pw) & used
        out[inside] = donor[inside]
    return out


@dataclass
class RefineResult:
    steps: int  # optimiser steps this call
    seconds: float  # CPU seconds of this process
    loss: float  # mean cross-entropy over the last 50 steps


def refine_steps(mpix: float, image_size: tuple[int, int], batch_size: int = 64) -> int:
    """Optimiser steps in which the refiner sees `mpix` million training pixels."""
    return math.ceil(mpix * 1e6 / (batch_size * image_size[0] * image_size[1])) if mpix > 0 else 0


def train_refiner(
    refiner: RefinerBase,
    index: torch.Tensor,
    steps: int,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = 2e-3,
    amp: bool = False,
    progress: bool = False,
    stop: Callable[[], bool] | None = None,
) -> RefineResult:
    """Train `refiner` for `steps` on palette-index sprites (N, H, W): each step a batch of corrupted
    sprites, cross-entropy against the originals. `seed` fixes the batches and the corruption (so the same
    seed gives the same refiner); `amp` runs the forward in bf16 autocast; when `stop()` turns true (Ctrl-C
    in `train`) it ends after the current step, with the steps done so far counted."""
    if len(index) == 0:
        raise ValueError("no sprites to train the refiner on")
    device = next(refiner.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    index = index.long().cpu()

    def step_loss() -> torch.Tensor:
        batch = index[torch.randint(0, len(index), (batch_size,), generator=gen)]
        noisy = corrupt_indices(batch, gen)
        with torch.autocast(device.type, torch.bfloat16, enabled=amp):
            logits = refiner.pixel_logits(noisy.to(device))
        return F.cross_entropy(logits, batch.to(device).reshape(-1))

    return fit_steps(refiner, step_loss, steps, lr, "refiner", progress, stop)


def fit_steps(
    module: nn.Module,
    step_loss: Callable[[], torch.Tensor],
    steps: int,
    lr: float,
    desc: str,
    progress: bool = False,
    stop: Callable[[], bool] | None = None,
) -> RefineResult:
    """Adam on `module` for `steps` of `step_loss()` (a batch's loss), counted in its `steps` buffer, with a
    progress bar; ends early when `stop()` turns true; the module is left in eval mode, an EMA copy's frozen
    parameters frozen again. The loop of the refiner's and the sheet reader's training."""
    frozen = [p for p in module.parameters() if not p.requires_grad]  # an EMA copy's: thawed meanwhile
    module.requires_grad_(True)
    opt = torch.optim.Adam(module.parameters(), lr=lr, betas=(0.9, 0.99))
    module.train()
    losses: list[float] = []
    done = 0
    start = time.process_time()
    bar = tqdm(total=steps, unit="step", desc=desc, disable=not progress, dynamic_ncols=True)
    try:
        for _ in range(steps):
            if stop is not None and stop():
                break
            loss = step_loss()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            module.steps += 1
            done += 1
            losses = (losses + [float(loss.detach())])[-50:]
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    finally:
        bar.close()
        module.eval()
        for p in frozen:
            p.requires_grad_(False)
    return RefineResult(done, time.process_time() - start, sum(losses) / max(len(losses), 1))


def refine_head(
    head: PaletteOutput,
    images: torch.Tensor,
    steps: int,
    seed: int,
    amp: bool = False,
    progress: bool = False,
    stop: Callable[[], bool] | None = None,
) -> RefineResult:
    """Train a palette head's refiner for `steps` on uint8 training images (N, C, H, W), read as indices of
    the head's palette; seeded by `seed` and the steps the refiner has had, so training it again goes on
    with fresh batches. What `train` runs at the end and `spritegan refine` runs on a saved generator."""
    index = ColourLookup(images).index(to_model(images), head.palette)
    seed = seed * 1000 + 4 + int(head.refiner.steps)
    return train_refiner(head.refiner, index, steps, seed=seed, amp=amp, progress=progress, stop=stop)


@dataclass
class RefinedGenerator:
    path: Path  # the generator file written
    result: RefineResult | None  # the refiner's training (None with mpix 0)
    added: bool  # a refiner was added (the run had none), not trained further
    reader: RefineResult | None = None  # the sheet reader's training (reader_mpix > 0)
    reader_added: bool = False


def refine_generator(
    source: str | Path,
    out: str | Path,
    mpix: float = 100.0,
    width: int = 48,
    seed: int = 0,
    progress: bool = False,
    stack: bool = False,
    reader_mpix: float = 0.0,
    reader_width: int = 64,
    reader_identity: bool = False,
    new: bool = False,
) -> RefinedGenerator:
    """A copy of a palette-head run's generator file at `out` (a folder) with its refiner trained on the run's
    training images for `mpix` million pixels: added at `width` when the run has none (with `stack`, a posed
    run's sheet refiner, which sees every frame at each pixel), else trained further; with `reader_mpix`, a
    posed run's sheet reader trained on the sheets' labels too (added at `reader_width` when it has none; an
    identity reader when the data has no labels or `reader_identity` asks). With `new` (and `mpix` > 0, which
    `spritegan refine` checks) a fresh refiner at `width` replaces the run's own.
    The source run is only read."""
    from spritegan.config import ModelConfig
    from spritegan.data.dataset import image_hash, open_dataset
    from spritegan.errors import RunError, SpriteganError
    from spritegan.metrics.evaluate import training_data_options
    from spritegan.models import build_generator
    from spritegan.precision import bf16_autocast_ok
    from spritegan.storage import GENERATOR_FILE, load_generator_file, resolve_generator_path, save_generator
    from spritegan.train.reader import read_head, read_steps, reader_classes

    file = resolve_generator_path(source)
    weights, meta = load_generator_file(file)
    config = dict(meta.get("model_config") or {})
    if config.get("head") != "palette":
        raise SpriteganError(f"{file}: the refiner cleans up a palette head's sprites; this run draws RGB")
    added = mpix > 0 and (new or not config.get("palette_refiner"))
    if stack and config.get("arch") != "posed":
        raise SpriteganError(f"{file}: --stack refines character sheets; this run's G is not posed")
    if added:  # a replaced refiner's weights are left behind
        weights = {k: v for k, v in weights.items() if not k.startswith("head.refiner.")}
        config["palette_refiner"] = width
        config["palette_refiner_stack"] = stack
    elif stack and mpix > 0 and not config.get("palette_refiner_stack"):
        raise SpriteganError(
            f"{file}: the run has a refiner that does not stack frames; --stack adds one only"
        )
    manifest = meta.get("manifest") or {}
    if not manifest.get("source"):
        raise RunError(f"{file}: the run's manifest names no data source to train the refiner on")
    dataset = open_dataset(manifest["source"], **training_data_options(manifest))
    if manifest.get("sha256") and image_hash(dataset.images) != manifest["sha256"]:
        raise RunError(f"{manifest['source']}: the data is not what {file} was trained on (its hash differs)")
    reader_added = reader_mpix > 0 and not config.get("palette_reader")
    if reader_mpix > 0 and config.get("arch") != "posed":
        raise SpriteganError(f"{file}: --reader reads character sheets; this run's G is not posed")
    if reader_added:
        config["palette_reader"] = reader_width
        config["palette_reader_classes"] = [] if reader_identity else reader_classes(dataset)
    generator = build_generator(ModelConfig(**config))
    missing, unexpected = generator.load_state_dict(weights, strict=False)
    new = tuple(prefix for prefix, on in (("head.refiner.", added), ("head.reader.", reader_added)) if on)
    if unexpected or any(not k.startswith(new) for k in missing):  # only the parts added here may be new
        raise RunError(f"{file}: weights do not match the stored model config ({(missing + unexpected)[:3]})")
    amp = bf16_autocast_ok(torch.device("cpu"))
    result = reader = None
    if mpix > 0:
        steps = refine_steps(mpix, tuple(config["image_size"]))
        result = refine_head(generator.head, dataset.images, steps, seed, amp, progress)
    if reader_mpix > 0:
        spec = dataset.manifest.get("labels")
        steps = read_steps(reader_mpix, tuple(config["image_size"]))
        reader = read_head(generator.head, dataset.images, dataset.labels, spec, steps, seed, amp, progress)
    path = save_generator(Path(out) / GENERATOR_FILE, generator, {**meta, "model_config": config})
    return RefinedGenerator(path, result, added, reader, reader_added)
