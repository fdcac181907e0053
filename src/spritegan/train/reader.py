"""Training the sheet reader (models/reader.py) on a run's own training sheets and their labels.

Each step reads a batch of training sheets, lightly corrupted as the refiner's are (`corrupt_indices`: edge
shifts, specks and small patches of other sheets), so a generated frame a few pixels off still reads as the
trait it draws; the target of every frame is its sheet's label set (an identity reader's: its own sheet, among
the batch's others).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from spritegan.labels import class_table
from spritegan.models.palette_head import ColourLookup, PaletteOutput
from spritegan.models.reader import SheetReader
from spritegan.tensors import to_model
from spritegan.train.refine import RefineResult, corrupt_indices, fit_steps

READ_BATCH = 16  # sheets per step


def read_steps(mpix: float, image_size: tuple[int, int], batch_size: int = READ_BATCH) -> int:
    """Optimiser steps in which the reader sees `mpix` million training pixels."""
    return math.ceil(mpix * 1e6 / (batch_size * image_size[0] * image_size[1])) if mpix > 0 else 0


def reader_classes(dataset: Any) -> list[int]:
    """The classes of each label column a sheet reader learns on this data (none: an identity reader)."""
    return class_table(dataset.labels, dataset.manifest.get("labels"))[1] if dataset.labels else []


def train_reader(
    reader: SheetReader,
    index: torch.Tensor,
    labels: torch.Tensor | None,
    steps: int,
    seed: int = 0,
    batch_size: int = READ_BATCH,
    lr: float = 1e-3,
    amp: bool = False,
    progress: bool = False,
    stop: Callable[[], bool] | None = None,
) -> RefineResult:
    """Train `reader` for `steps` on palette-index sheets (N, H, W) with their class labels (N, columns; None
    for an identity reader, which needs 2 or more sheets); `seed` fixes the batches and corruptions; `stop()`
    (Ctrl-C in `train`) ends it after the current step."""
    if reader.labelled and (labels is None or len(index) != len(labels)):
        rows = "no" if labels is None else len(labels)
        raise ValueError(f"{len(index)} sheets and {rows} label rows: the reader needs one row a sheet")
    if len(index) < (1 if reader.labelled else 2):
        raise ValueError(f"{len(index)} sheets: too few to train the sheet reader on")
    device = next(reader.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    index = index.long().cpu()

    def step_loss() -> torch.Tensor:
        if reader.labelled:
            pick = torch.randint(0, len(index), (batch_size,), generator=gen)
        else:  # distinct sheets: each is told apart from the others
            pick = torch.randperm(len(index), generator=gen)[:batch_size]
        noisy = corrupt_indices(index[pick], gen).to(device)
        target = labels[pick].long().to(device) if reader.labelled else None
        with torch.autocast(device.type, torch.bfloat16, enabled=amp):
            return reader.loss(noisy, target)

    return fit_steps(reader, step_loss, steps, lr, "reader", progress, stop)


def read_head(
    head: PaletteOutput,
    images: torch.Tensor,
    labels: dict[str, torch.Tensor],
    spec: dict | None,
    steps: int,
    seed: int,
    amp: bool = False,
    progress: bool = False,
    stop: Callable[[], bool] | None = None,
) -> RefineResult:
    """Train a palette head's sheet reader for `steps` on uint8 training sheets (N, C, H, W), read as indices
    of the head's palette, with their labels; seeded by `seed` and the steps the reader has had. What `train`
    runs at the end and `spritegan refine --reader` runs on a saved generator."""
    if head.reader is None:
        raise ValueError("this head has no sheet reader (model.palette_reader)")
    index = ColourLookup(images).index(to_model(images), head.palette)
    table = class_table(labels, spec)[0] if head.reader.labelled else None
    seed = seed * 1000 + 5 + int(head.reader.steps)
    return train_reader(head.reader, index, table, steps, seed=seed, amp=amp, progress=progress, stop=stop)
