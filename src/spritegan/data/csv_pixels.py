"""Pixel-CSV datasets: one image per row, its pixel values in row-major order (issue 19).

A row holds H*W*C numbers: pixel (0, 0), (0, 1), ... (0, W-1), (1, 0), ... with the C channels of a pixel
next to each other (r, g, b, r, g, b, ... for RGB). C is 1 (L, the default when the row length says so),
3 (RGB) or 4 (RGBA). Values are whole numbers 0..255; a file written with decimals whose values all lie in
0..1 is scaled by 255 and rounded. One column may be a label (a header named `label`, or the column given),
read as a categorical label. Every problem is a one-line DataError naming the file and line.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spritegan.data.sources import _is_number
from spritegan.errors import DataError

CHANNEL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
CHANNELS = ("auto", "1", "3", "4")
HEADERS = ("auto", "yes", "no")
AUTO_LABEL = "label"  # a header column of this name (any case) is the label column unless one is given
MIN_SIDE = 2  # suggested shapes have both sides at least this long (squarest first)


@dataclass
class PixelTable:
    """What a pixel CSV holds: uint8 (N, H, W, C) images, their mode, labels and notes for `inspect`."""

    images: np.ndarray
    mode: str
    labels: dict | None = None
    lines: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fitting_shapes(count: int, limit: int = 4) -> list[str]:
    """Sizes (W x H, with --csv-channels when not 1) whose pixel count fits `count` values, squarest first."""
    found: list[tuple[float, int, str]] = []
    for c in (1, 3, 4):
        if count % c:
            continue
        pixels = count // c
        for h in range(MIN_SIDE, math.isqrt(pixels) + 1):
            if pixels % h == 0 and pixels // h >= MIN_SIDE:
                w = pixels // h
                extra = "" if c == 1 else f" --csv-channels {c}"
                found.append((math.log(w / h), c, f"{w}x{h}{extra}"))
                if w != h:
                    found.append((math.log(w / h), c, f"{h}x{w}{extra}"))
    found.sort(key=lambda t: (round(t[0], 6), t[1]))  # squarest first, then fewer channels
    return [text for _, _, text in found[:limit]]


def _shapes_hint(count: int) -> str:
    shapes = fitting_shapes(count)
    return (
        f"shapes that fit {count} values: {', '.join(shapes)}" if shapes else f"no shape fits {count} values"
    )


def _label_index(path: Path, header: list[str] | None, wanted: str | None) -> int | None:
    if wanted is None:
        if header is None:
            return None
        names = [h.strip().lower() for h in header]
        return names.index(AUTO_LABEL) if AUTO_LABEL in names else None
    text = wanted.strip()
    if header is not None and text in [h.strip() for h in header]:
        return [h.strip() for h in header].index(text)
    if text.isdigit() and (header is None or int(text) < len(header)):
        return int(text)
    if header is None:
        raise DataError(
            f"{path}: the file has no header row, so --csv-label-column takes a column number (0 is the "
            f"first), not {wanted!r}"
        )
    raise DataError(f"{path}: no column {wanted!r} in the header (it starts {', '.join(header[:4])}, ...)")


def _column(header: list[str] | None, file_col: int) -> str:
    """'column 12' or 'column 12 (pixel11)': 1-based, with the header's name when there is one."""
    name = f" ({header[file_col].strip()})" if header is not None and file_col < len(header) else ""
    return f"column {file_col + 1}{name}"


def read_pixel_csv(
    path: str | Path,
    shape: tuple[int, int] | None,
    *,
    channels: str | int = "auto",
    label_column: str | None = None,
    header: str = "auto",
    shape_flag: str = "--csv-shape",
) -> PixelTable:
    """Read a pixel CSV into images of `shape` (height, width); see the module docstring for the format."""
    path = Path(path)
    channels, header = str(channels), str(header)
    if channels not in CHANNELS:
        raise DataError(f"--csv-channels {channels}: choose from {', '.join(CHANNELS)}")
    if header not in HEADERS:
        raise DataError(f"--csv-header {header}: choose from {', '.join(HEADERS)}")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    names: list[str] | None = None
    label_idx: int | None = None
    rows: list[tuple[int, np.ndarray]] = []
    label_values: list[str] = []
    decimals, fraction = False, None  # any cell written with a decimal point; the first non-whole value
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            first = True
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                line = reader.line_num
                if first:
                    first = False
                    is_header = header == "yes" or (
                        header == "auto" and not all(_is_number(c) for c in cells)
                    )
                    if is_header:
                        names = cells
                    label_idx = _label_index(path, names, label_column)
                    if is_header:
                        continue
                if label_idx is not None:
                    if label_idx >= len(cells):
                        raise DataError(
                            f"{path}: line {line} has {len(cells)} cells, too few for the label column "
                            f"{label_idx + 1}"
                        )
                    label_values.append(cells[label_idx].strip())
                    cells = cells[:label_idx] + cells[label_idx + 1 :]
                try:
                    values = np.array(cells, dtype=np.float64)
                    bad = np.flatnonzero(~np.isfinite(values))
                except ValueError:
                    bad = [next(j for j, c in enumerate(cells) if not _is_number(c))]
                if len(bad):
                    j = int(bad[0])
                    col = j + (1 if label_idx is not None and j >= label_idx else 0)
                    raise DataError(
                        f"{path}: line {line}, {_column(names, col)}: {cells[j].strip()!r} is not a number"
                    )
                out = np.flatnonzero((values < 0) | (values > 255))
                if len(out):
                    j = int(out[0])
                    col = j + (1 if label_idx is not None and j >= label_idx else 0)
                    raise DataError(
                        f"{path}: line {line}, {_column(names, col)}: value {cells[j].strip()} is outside "
                        "0..255"
                    )
                joined = ",".join(cells)
                decimals = decimals or "." in joined or "e" in joined.lower()
                if fraction is None:
                    whole = np.flatnonzero(values != np.rint(values))
                    if len(whole):
                        j = int(whole[0])
                        col = j + (1 if label_idx is not None and j >= label_idx else 0)
                        fraction = (line, _column(names, col), cells[j].strip())
                rows.append((line, values.astype(np.float32)))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read CSV ({exc})") from None
    if not rows:
        raise DataError(f"{path}: no image rows" + (" (only a header)" if names is not None else ""))
    counts = Counter(len(v) for _, v in rows)
    common, how_many = counts.most_common(1)[0]
    if shape is None:
        raise DataError(
            f"{path}: a pixel CSV needs {shape_flag} WxH (width x height); its rows have {common} pixel "
            f"values: {_shapes_hint(common)}"
        )
    h, w = shape
    c = int(channels) if channels != "auto" else (common // (h * w) if common % (h * w) == 0 else 0)
    size = f"{w}x{h}"
    if c not in CHANNEL_MODES or common != h * w * c:
        need = (
            f"{h * w} (L), {3 * h * w} (RGB) or {4 * h * w} (RGBA)"
            if channels == "auto"
            else f"{h * w * int(channels)} ({CHANNEL_MODES[int(channels)]})"
        )
        most = "every row has" if how_many == len(rows) else f"most rows ({how_many} of {len(rows)}) have"
        raise DataError(
            f"{path}: {shape_flag} {size} needs {need} pixel values per row, but {most} {common}; "
            f"{_shapes_hint(common)}"
        )
    expected = h * w * c
    for i, (line, values) in enumerate(rows):
        if len(values) != expected:
            plus = " plus the label column" if label_idx is not None else ""
            raise DataError(
                f"{path}: line {line} (image {i}) has {len(values)} pixel values, expected {expected}{plus} "
                f"for {shape_flag} {size} {CHANNEL_MODES[c]}"
            )
    data = np.stack([v for _, v in rows])
    top = float(data.max())
    notes = [f"pixel CSV: {len(rows)} rows of {expected} values read as {size} {CHANNEL_MODES[c]}"]
    if decimals and top <= 1.0:
        data = np.rint(data * 255.0)
        notes.append("values written as decimals within 0..1: scaled by 255")
    elif fraction is not None:
        line, col, text = fraction
        raise DataError(
            f"{path}: line {line}, {col}: {text} is not a whole number; values are whole numbers 0..255, or "
            f"decimals all within 0..1 (this file reaches {top:g})"
        )
    images = data.astype(np.uint8).reshape(len(rows), h, w, c)
    labels = None
    if label_idx is not None:
        name = names[label_idx].strip() if names is not None else AUTO_LABEL
        classes = sorted({v or "none" for v in label_values}, key=_natural)
        index = {k: i for i, k in enumerate(classes)}
        values = np.array([index[v or "none"] for v in label_values], dtype=np.int64)
        labels = {"columns": {name: {"kind": "categorical", "classes": classes}}, "values": {name: values}}
        notes.append(f"label column {name!r} ({len(classes)} classes)")
    return PixelTable(images, CHANNEL_MODES[c], labels, [line for line, _ in rows], notes)


def _natural(text: str) -> tuple:
    """Numbers by value before words ("2" before "10" before "cat")."""
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def merge_labels(own: dict, joined: dict, labels_csv: str | Path) -> dict:
    """The CSV's own label column together with the columns a --labels table joined to its rows."""
    clash = sorted(set(own["columns"]) & set(joined["columns"]))
    if clash:
        raise DataError(f"{labels_csv}: column {clash[0]!r} is also the pixel CSV's label column; rename one")
    return {
        "columns": {**own["columns"], **joined["columns"]},
        "values": {**own["values"], **joined["values"]},
    }
