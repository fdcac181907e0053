"""A user's animation frames as character sheets: a labels CSV with character, direction and frame columns.

Each row names a frame image (joined by file name or id, as any labels CSV: `sources.read_labels`) and says
whose frame it is, which way the character faces and where in the cycle it is. `assemble` lays each
character's frames out as one image, rows = directions, columns = frames, so a model trained on the sheets
draws a whole character from one seed (the design in README "One character in every pose"). Directions named
down, left, right, up keep that order (the built-in walkers' rows); other names, and frames, sort naturally.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from spritegan.data import walkers
from spritegan.data.sources import natural_key, read_labels, size_text
from spritegan.errors import DataError

FRAME_COLUMNS = ("character", "direction", "frame")


def is_frames_table(csv_path: str | Path) -> bool:
    """True when the CSV's header has the character, direction and frame columns."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False  # read_labels reports the problem in its own words
    return set(FRAME_COLUMNS) <= {h.strip() for h in header}


def check_sizes(arrays: list[np.ndarray], names: list[str], csv_path: str | Path) -> None:
    """Every frame one size, else a one-line error naming a frame of each size."""
    first = arrays[0].shape[:2]
    for a, name in zip(arrays, names, strict=True):
        if a.shape[:2] != first:
            raise DataError(
                f"{csv_path}: frame {name} is {size_text(*a.shape[:2])} but {names[0]} is {size_text(*first)}; "
                "every frame of a character sheet must be one size (or pass --resize SIZE)"
            )


def _texts(table: dict, column: str) -> list[str]:
    """A joined label column's values as text (binary 0/1 columns come back as their digits)."""
    spec, values = table["columns"][column], table["values"][column]
    if spec["kind"] == "binary":
        return [str(int(v)) for v in values]
    return [spec["classes"][int(v)] for v in values]


def _order(values: set[str]) -> list[str]:
    if values <= set(walkers.DIRECTIONS):
        return [d for d in walkers.DIRECTIONS if d in values]
    return sorted(values, key=natural_key)


def assemble(
    csv_path: str | Path,
    arrays: list[np.ndarray],
    names: list[str],
    ids: list[int | None],
    files: list[Path] | None,
    label_columns: list[str] | None = None,
) -> tuple[list[np.ndarray], list[str], dict | None, dict]:
    """Each character's frames (H, W, C arrays of one size) as one sheet: (sheets, character names, the
    labels of `label_columns` per character or None, the sheet layout). A missing or doubled frame is a
    one-line DataError naming the CSV and a file."""
    extra = [c for c in label_columns or [] if c not in FRAME_COLUMNS]
    table = read_labels(csv_path, names, ids, files, [*FRAME_COLUMNS, *extra])
    who, way, when = (_texts(table, c) for c in FRAME_COLUMNS)
    rows, cols = _order(set(way)), _order(set(when))
    grid: dict[str, dict[tuple[str, str], int]] = {}
    for i, key in enumerate(zip(way, when, strict=True)):
        cells = grid.setdefault(who[i], {})
        if key in cells:
            raise DataError(
                f"{csv_path}: {names[cells[key]]} and {names[i]} are both character {who[i]!r} facing {key[0]}, "
                f"frame {key[1]}; keep one"
            )
        cells[key] = i
    characters = sorted(grid, key=natural_key)
    sheets, first = [], []
    for c in characters:
        cells = grid[c]
        for d in rows:
            for f in cols:
                if (d, f) not in cells:
                    raise DataError(
                        f"{csv_path}: character {c!r} has no frame facing {d}, frame {f} (its frames include "
                        f"{names[next(iter(cells.values()))]}); every character needs all {len(rows)} x "
                        f"{len(cols)} directions x frames"
                    )
        sheets.append(
            np.concatenate([np.concatenate([arrays[cells[d, f]] for f in cols], 1) for d in rows], 0)
        )
        first.append(next(iter(cells.values())))
    labels = None
    if extra:
        for column in extra:
            text = _texts(table, column)
            for c in characters:
                seen = {text[i]: i for i in grid[c].values()}
                if len(seen) > 1:
                    a, b = list(seen.values())[:2]
                    raise DataError(
                        f"{csv_path}: label {column!r} differs within character {c!r} ({names[a]}: "
                        f"{text[a]!r}, {names[b]}: {text[b]!r}); a character's labels are one set"
                    )
        labels = {
            "columns": {c: table["columns"][c] for c in extra},
            "values": {c: np.asarray(table["values"][c])[first] for c in extra},
        }
    h, w = arrays[0].shape[:2]
    layout = {"rows": rows, "columns": cols, "frame_size": [int(h), int(w)], "labels_csv": str(csv_path)}
    return sheets, characters, labels, layout
