"""Trait sets for conditional generation: parse "type=alien,earring", describe, sample, check if seen.

A trait set is a label vector in the layout of `spritegan.labels` (categorical one-hot, binary 0/1). The
training data's joint distribution is kept as a `LabelTable`: the distinct label rows with their counts,
small enough to live in a generator file's metadata ("label_table") or in the run folder.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from spritegan.config import RunConfig
from spritegan.data.dataset import open_from_config
from spritegan.errors import SpriteganError
from spritegan.labels import LabelColumn, asked_classes, label_dim, label_layout, label_matrix

TABLE_FILE = "label_table.json"
TABLE_KEY = "label_table"


@dataclass
class LabelTable:
    """Distinct label rows of the training data (as sets of active indices) with how often each occurs."""

    dim: int
    rows: list[tuple[int, ...]]
    counts: list[int]

    @classmethod
    def from_matrix(cls, labels: torch.Tensor) -> LabelTable:
        """Build from a float (N, D) label matrix."""
        uniq, counts = torch.unique(labels > 0.5, dim=0, return_counts=True)
        rows = [tuple(torch.nonzero(u).flatten().tolist()) for u in uniq]
        return cls(int(labels.shape[1]), rows, [int(c) for c in counts])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"dim": self.dim, "rows": [list(r) for r in self.rows], "counts": self.counts}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LabelTable:
        """Inverse of `to_dict`."""
        return cls(int(raw["dim"]), [tuple(r) for r in raw["rows"]], [int(c) for c in raw["counts"]])

    def matrix(self) -> torch.Tensor:
        """The distinct rows as a float (R, D) matrix."""
        out = torch.zeros(len(self.rows), self.dim)
        for i, r in enumerate(self.rows):
            out[i, list(r)] = 1.0
        return out

    def frequencies(self) -> torch.Tensor:
        """How many training images have each label index on, float (D,)."""
        return (self.matrix() * torch.tensor(self.counts, dtype=torch.float32)[:, None]).sum(0)


def label_table(labels: torch.Tensor) -> dict[str, Any]:
    """The JSON-ready table of distinct label rows and counts; what a generator file stores as metadata."""
    return LabelTable.from_matrix(labels).to_dict()


def load_label_table(run: str | Path, meta: dict[str, Any] | None = None) -> LabelTable | None:
    """The training data's label table: from the generator metadata, the run folder, or the run's data."""
    if meta and meta.get(TABLE_KEY):
        return LabelTable.from_dict(meta[TABLE_KEY])
    run_dir = Path(run) if Path(run).is_dir() else Path(run).parent
    cached = run_dir / TABLE_FILE
    if cached.is_file():
        return LabelTable.from_dict(json.loads(cached.read_text()))
    if not (run_dir / "config.yaml").is_file():
        return None
    d = RunConfig.load(run_dir / "config.yaml").data
    try:
        ds = open_from_config(d)
    except SpriteganError:
        return None
    spec = ds.manifest.get("labels")
    if not label_dim(spec) or (meta and meta.get("manifest", {}).get("sha256") != ds.manifest["sha256"]):
        return None
    table = LabelTable.from_matrix(label_matrix(ds.labels, spec))
    try:
        cached.write_text(json.dumps(table.to_dict()))
    except OSError:
        pass
    return table


def valid_traits(spec: dict | None) -> list[str]:
    """Every accepted token: col=class for categorical columns, the bare name for binary ones."""
    out = []
    for col in label_layout(spec):
        if col.kind == "categorical":
            out += [f"{col.name}={c}" for c in col.classes]
        else:
            out.append(col.name)
    return out


def _unknown(token: str, spec: dict | None) -> SpriteganError:
    valid = valid_traits(spec)
    close = difflib.get_close_matches(token.lower(), [v.lower() for v in valid], n=1, cutoff=0.6)
    hint = f" (did you mean {valid[[v.lower() for v in valid].index(close[0])]!r}?)" if close else ""
    listing = ", ".join(valid) if len(valid) <= 120 else ", ".join(valid[:120]) + ", ..."
    return SpriteganError(f"unknown trait {token!r}{hint}; valid traits: {listing}")


def _find(layout: list[LabelColumn], name: str) -> LabelColumn | None:
    for col in layout:
        if col.name.lower() == name.lower():
            return col
    return None


def parse_traits(text: str, spec: dict | None) -> torch.Tensor:
    """'type=alien,earring,hoodie' -> float (cond_dim,) label vector; unknown traits raise SpriteganError."""
    return parse_trait_request(text, spec)[0]


def parse_trait_request(text: str, spec: dict | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(label vector, asked mask): the mask marks every label index the text decides, on or off
    ('earring=0' asks for no earring), so the traits left unasked can be drawn from the data."""
    layout = label_layout(spec)
    if not layout:
        raise SpriteganError(
            "this model has no labels, so --traits cannot be used (train with --conditional)"
        )
    vec = torch.zeros(label_dim(spec))
    asked = torch.zeros(label_dim(spec), dtype=torch.bool)
    for raw in text.split(","):
        token = raw.strip()
        if not token:
            continue
        name, sep, value = (s.strip() for s in token.partition("="))
        col = _find(layout, name)
        if col is None and not sep:
            hits = [
                c for c in layout if c.kind == "categorical" and name.lower() in map(str.lower, c.classes)
            ]
            if len(hits) == 1:
                col, value, sep = hits[0], name, "="
        if col is None:
            raise _unknown(token, spec)
        if col.kind == "binary":
            if sep and value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise SpriteganError(
                    f"trait {token!r}: {col.name} is a yes/no trait; use {col.name} or {col.name}=0"
                )
            _assign(vec, asked, col, 0 if value.lower() in ("0", "false", "no") else 1)
            continue
        lower = [c.lower() for c in col.classes]
        if not sep or value.lower() not in lower:
            raise _unknown(token, spec)
        _assign(vec, asked, col, lower.index(value.lower()))
    return vec, asked


def trait_mapping(
    traits: dict[str, Any], spec: dict | None, show: Callable[[Any], str] = repr
) -> tuple[torch.Tensor, torch.Tensor]:
    """{column: class name | class index | 0/1/true/false} -> (label vector, asked mask), the JSON form of
    `parse_trait_request` (the studio's); columns left out stay zero. `show` formats values in errors."""
    layout = {c.name: c for c in label_layout(spec)}
    vec = torch.zeros(label_dim(spec))
    asked = torch.zeros(label_dim(spec), dtype=torch.bool)
    for key, value in traits.items():
        col = layout.get(key)
        if col is None:
            raise SpriteganError(f"unknown trait {show(key)}; valid traits: {', '.join(layout) or 'none'}")
        if col.kind == "categorical":
            if isinstance(value, str) and value in col.classes:
                _assign(vec, asked, col, col.classes.index(value))
            elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(col.classes):
                _assign(vec, asked, col, value)
            else:
                raise SpriteganError(
                    f"trait {key}={show(value)} is not a class; valid classes: {', '.join(col.classes)}"
                )
        elif value in (0, 1, True, False):
            _assign(vec, asked, col, int(value))
        else:
            raise SpriteganError(f"trait {key} is binary: give 0, 1, true or false (got {show(value)})")
    return vec, asked


def _assign(vec: torch.Tensor, asked: torch.Tensor, col: LabelColumn, value: int) -> None:
    """Set one column: a categorical column to class `value` (one-hot), a binary one to 0/1; mark it asked."""
    if col.kind == "binary":
        vec[col.offset] = float(value)
        asked[col.offset] = True
        return
    vec[col.offset : col.offset + col.width] = 0.0
    vec[col.offset + value] = 1.0
    asked[col.offset : col.offset + col.width] = True


def describe(vec: torch.Tensor, spec: dict | None) -> str:
    """'type=alien, earring' for a label vector; '(unconditional)' for the all-zero vector."""
    parts = [f"{name}={value}" for name, value in asked_classes(vec, spec).items()]
    parts += [c.name for c in label_layout(spec) if c.kind == "binary" and float(vec[c.offset]) > 0.5]
    return ", ".join(parts) if parts else "(unconditional)"


def random_traits(n: int, table: LabelTable, generator: torch.Generator | None = None) -> torch.Tensor:
    """n label rows drawn from the training data's joint distribution, float (n, D)."""
    weights = torch.tensor(table.counts, dtype=torch.float64)
    idx = torch.multinomial(weights, n, replacement=True, generator=generator)
    return table.matrix()[idx]


def independent_traits(
    n: int, layout: list[LabelColumn], table: LabelTable, generator: torch.Generator | None = None
) -> torch.Tensor:
    """n label rows with every trait drawn on its own: each categorical column by its class frequency in the
    data, each binary trait by its share; float (n, D). Pairs of traits come out as often as chance makes them."""
    rows = torch.zeros(n, table.dim)
    freq = table.frequencies()
    share = freq / max(1, sum(table.counts))
    for c in layout:
        seg = slice(c.offset, c.offset + c.width)
        if c.kind == "categorical":
            pick = torch.multinomial(freq[seg].double() + 1e-9, n, True, generator=generator)
            rows[torch.arange(n), c.offset + pick] = 1.0
        else:
            rows[:, c.offset] = (torch.rand(n, generator=generator) < share[c.offset]).float()
    return rows


def new_traits(
    n: int,
    spec: dict | None,
    table: LabelTable,
    generator: torch.Generator | None = None,
    tries: int = 64,
) -> torch.Tensor:
    """n label rows that are not training rows: `independent_traits`, with the rows that some training image
    has redrawn (up to `tries` draws in all). New combinations of known traits, so a sample cannot be a
    memorised training sprite; float (n, D). Where every draw is a training row (a tiny trait space), the last
    draw is kept."""
    layout = label_layout(spec)
    seen = set(table.rows)
    rows = independent_traits(n, layout, table, generator)
    again = range(n)  # only redrawn rows can have become training rows: check just those each round
    for _ in range(max(1, tries) - 1):
        again = [i for i in again if tuple(torch.nonzero(rows[i]).flatten().tolist()) in seen]
        if not again:
            break
        rows[again] = independent_traits(len(again), layout, table, generator)
    return rows


def seen_combination(vec: torch.Tensor, table: LabelTable, exact: bool = False) -> bool:
    """Whether the traits on in `vec` occur together in some training image (or, exact: as a whole row)."""
    on = set(torch.nonzero(vec > 0.5).flatten().tolist())
    if exact:
        return tuple(sorted(on)) in set(table.rows)
    return any(on.issubset(r) for r in table.rows)


def complete_traits(
    vec: torch.Tensor,
    n: int,
    spec: dict | None,
    table: LabelTable | None,
    generator: torch.Generator | None = None,
    asked: torch.Tensor | None = None,
) -> torch.Tensor:
    """n label rows that keep the asked traits of `vec` and draw every other trait from the training rows that
    agree with them, so `type=zombie` gives zombies with the accessories zombies have, not bare heads.

    asked: bool (D,) of the indices the user decided (from `parse_trait_request`); default: the categorical
    columns with a class set and the binary traits that are on. With no agreeing row, unasked categorical
    columns are drawn by class frequency and unasked binary traits by their frequency.
    """
    layout = label_layout(spec)
    asked = _asked_mask(vec, layout) if asked is None else asked
    out = vec.expand(n, -1).clone()
    if table is None or bool(asked.all()):
        return out
    mat = table.matrix()
    on, off = asked & (vec > 0.5), asked & (vec <= 0.5)
    agree = ((mat[:, on] > 0.5).all(1) & (mat[:, off] <= 0.5).all(1)).nonzero().flatten()
    if len(agree):
        weights = torch.tensor(table.counts, dtype=torch.float64)[agree]
        rows = mat[agree[torch.multinomial(weights, n, replacement=True, generator=generator)]]
    else:
        rows = independent_traits(n, layout, table, generator)
    return torch.where(asked, out, rows)


def complete_traits_for_seeds(
    vec: torch.Tensor,
    seeds: list[int],
    spec: dict | None,
    table: LabelTable | None,
    asked: torch.Tensor | None = None,
) -> torch.Tensor:
    """`complete_traits` with one draw per seed from the seed's own generator, float (len(seeds), D): the
    sprite of seed s asked for the same traits is the same whatever the batch (as `traits_for_seeds`)."""
    out = vec.expand(len(seeds), -1).clone()
    if table is None or not len(seeds):
        return out
    layout = label_layout(spec)
    asked = _asked_mask(vec, layout) if asked is None else asked
    if bool(asked.all()):
        return out
    mat = table.matrix()
    on, off = asked & (vec > 0.5), asked & (vec <= 0.5)
    agree = ((mat[:, on] > 0.5).all(1) & (mat[:, off] <= 0.5).all(1)).nonzero().flatten()
    weights = torch.tensor(table.counts, dtype=torch.float64)[agree]
    rows = []
    for s in seeds:
        gen = torch.Generator().manual_seed(int(s))
        if len(agree):
            rows.append(mat[agree[torch.multinomial(weights, 1, generator=gen)]])
        else:
            rows.append(independent_traits(1, layout, table, gen))
    return torch.where(asked, out, torch.cat(rows))


def _asked_mask(vec: torch.Tensor, layout: list[LabelColumn]) -> torch.Tensor:
    """The indices a label vector decides when no mask came with it: the categorical columns with a class set
    and the binary traits that are on."""
    asked = vec > 0.5
    for c in layout:
        if c.kind == "categorical" and float(vec[c.offset : c.offset + c.width].sum()) > 0:
            asked[c.offset : c.offset + c.width] = True
    return asked


def traits_for_seeds(seeds: list[int], table: LabelTable) -> torch.Tensor:
    """One label row per seed, drawn from the training data's joint distribution with the seed's own
    generator: free sampling of a conditional model keeps the data's trait shares, and sprite s is the same
    whatever the batch."""
    weights = torch.tensor(table.counts, dtype=torch.float64)
    picks = [torch.multinomial(weights, 1, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    return table.matrix()[torch.cat(picks)] if picks else torch.zeros(0, table.dim)
