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
