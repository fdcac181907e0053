"""Label vectors for conditional models: categorical columns one-hot, binary columns as they are.

The layout comes from the dataset manifest's label spec, so training, generation, the studio and the ONNX
export all build the same vector. An all-zero vector is the "no label" (unconditional) slot.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LabelColumn:
    name: str
    kind: str  # categorical | binary
    classes: tuple[str, ...]  # categorical: class names; binary: (name,)
    offset: int  # first index of this column in the label vector

    @property
    def width(self) -> int:
        return len(self.classes)


def columns_of(spec: dict | None) -> dict:
    """The {name: {'kind', 'classes'?}} mapping, whether given bare or under a 'columns' key."""
    if not spec:
        return {}
    return spec.get("columns", spec) if isinstance(spec, dict) else {}


def label_layout(spec: dict | None) -> list[LabelColumn]:
    """Columns in a fixed order (categorical first, then binary, each sorted by name)."""
    cols = columns_of(spec)
    layout, offset = [], 0
    ordered = sorted(cols.items(), key=lambda kv: (kv[1]["kind"] != "categorical", kv[0]))
    for name, col in ordered:
        classes = tuple(col["classes"]) if col["kind"] == "categorical" else (name,)
        layout.append(LabelColumn(name, col["kind"], classes, offset))
        offset += len(classes)
    return layout


def categorical_groups(spec: dict | None) -> list[tuple[int, int]]:
    """(offset, width) of each categorical column in the label vector; every other index is a binary trait."""
    return [(col.offset, col.width) for col in label_layout(spec) if col.kind == "categorical"]


def binary_mask(spec: dict | None) -> torch.Tensor:
    """bool (label_dim,): the label indices that are binary traits (accessories), not categorical classes."""
    binary = torch.ones(label_dim(spec), dtype=torch.bool)
    for offset, width in categorical_groups(spec):
        binary[offset : offset + width] = False
    return binary


def label_loss_terms(
    logits: torch.Tensor, target: torch.Tensor, groups: list[tuple[int, int]]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The two parts of a label-classification loss, for callers to weight: cross-entropy summed over the
    categorical groups, and element-wise binary cross-entropy (N, n_binary) of the other indices (None if none)."""
    binary = torch.ones(target.shape[1], dtype=torch.bool, device=target.device)
    ce = logits.new_zeros(())
    for offset, width in groups:
        seg = slice(offset, offset + width)
        binary[seg] = False
        ce = ce + torch.nn.functional.cross_entropy(logits[:, seg], target[:, seg].argmax(1))
    if not bool(binary.any()):
        return ce, None
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        logits[:, binary], target[:, binary], reduction="none"
    )
    return ce, bce


def label_dim(spec: dict | None) -> int:
    return sum(c.width for c in label_layout(spec))


def label_matrix(values: dict[str, torch.Tensor], spec: dict | None) -> torch.Tensor:
    """Per-image label values (class index or 0/1 per column) -> float (N, label_dim)."""
    layout = label_layout(spec)
    if not layout:
        raise ValueError("the dataset has no label columns")
    n = len(next(iter(values.values())))
    out = torch.zeros(n, label_dim(spec))
    for col in layout:
        v = torch.as_tensor(values[col.name]).long()
        if col.kind == "categorical":
            out[torch.arange(n), col.offset + v] = 1.0
        else:
            out[:, col.offset] = v.float()
    return out


def class_table(values: dict[str, torch.Tensor], spec: dict | None) -> tuple[torch.Tensor, list[int]]:
    """Per-image label values -> long (N, columns) of each column's class (a binary column: 0 or 1), in
    `label_layout` order, and each column's number of classes: what the sheet reader learns to read."""
    layout = label_layout(spec)
    if not layout:
        raise ValueError("the dataset has no label columns")
    table = torch.stack([torch.as_tensor(values[col.name]).long() for col in layout], dim=1)
    return table, [col.width if col.kind == "categorical" else 2 for col in layout]


def asked_classes(vec: torch.Tensor, spec: dict | None) -> dict[str, str]:
    """{column: class} for the categorical columns a label vector (label_dim,) asks for; a column left
    all-zero (the unconditional slot) asks for nothing."""
    out = {}
    for col in label_layout(spec):
        seg = vec[col.offset : col.offset + col.width]
        if col.kind == "categorical" and float(seg.max()) > 0.5:
            out[col.name] = col.classes[int(seg.argmax())]
    return out
