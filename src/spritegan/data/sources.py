"""Reading user images (folders, sprite sheets, the built-in sprites) and label tables into arrays."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from spritegan.data import procedural, walkers
from spritegan.data import tiles as tile_set
from spritegan.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
MODES = ("L", "RGB", "RGBA")
RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
BUILTIN_DEFAULT_N = 4096
BUILTIN_TILES_N = 2304  # builtin:tiles: 256 tiles of each of the 9 materials
MAX_CATEGORIES = 64
MAX_PIXELS = 64_000_000  # per image, checked before decoding (8000x8000); $SPRITEGAN_MAX_PIXELS changes it
FITS = ("stretch", "pad")


@dataclass
class SourceImages:
    """Images read from one source, all the same size and mode, with optional labels."""

    images: np.ndarray
    names: list[str]
    mode: str
    source: str
    labels: dict | None = None
    resize: dict | None = None
    ids: list[int | None] = field(default_factory=list)
    dropped_empty: int = 0
    notes: list[str] = field(default_factory=list)
    sheet: dict | None = None  # character sheets (data/frame_sheets.py): rows, columns, frame_size


def natural_key(name: str) -> list:
    """Sort key that orders embedded numbers by value (punk2 before punk10)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def size_text(h: int, w: int) -> str:
    """A size as the flags take it and every message prints it: W x H ("96x128" is 96 wide, 128 high)."""
    return f"{w}x{h}"


class MixedSizesError(DataError):
    """Images of several sizes and no --resize/--pad-to; `sizes` maps (h, w) to how many images have it."""

    def __init__(self, message: str, sizes: dict[tuple[int, int], int]) -> None:
        super().__init__(message)
        self.sizes = sizes


def parse_size(value: int | str | None, what: str) -> tuple[int, int] | None:
    """Parse 24, "24" or "24x32" (W x H) into (height, width)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d+)(?:x(\d+))?", text)
    if not match:
        raise DataError(f"{what} must be a number like 24 or a size like 24x24, got {value!r}")
    w = int(match.group(1))
    h = int(match.group(2)) if match.group(2) else w
    if w <= 0 or h <= 0:
        raise DataError(f"{what} must be positive, got {value!r}")
    return h, w


def _looks_windows(text: str) -> bool:
    return "\\" in text or re.match(r"^[A-Za-z]:[\\/]", text) is not None


def _existing(path: str | Path, what: str) -> Path:
    text = str(path)
    p = Path(text).expanduser()
    if p.exists():
        return p
    if _looks_windows(text):
        raise DataError(f"{what} {text!r} looks like a Windows path and was not found; use / separators")
    raise DataError(f"{what} {text} does not exist")


def _max_pixels() -> int:
    try:
        return int(os.environ.get("SPRITEGAN_MAX_PIXELS", MAX_PIXELS))
    except ValueError:
        raise DataError("$SPRITEGAN_MAX_PIXELS must be a whole number of pixels") from None


def _normalised(im: Image.Image) -> Image.Image:
    """The image in L, RGB or RGBA: 16-bit greyscale (modes I;16*, I) scaled from 0..65535 to 0..255, not
    clipped at 255; palette and other modes converted to RGB, or RGBA when they carry transparency."""
    if im.mode.startswith("I;16") or im.mode == "I":
        wide = np.asarray(im).astype(np.int64)
        return Image.fromarray(((np.clip(wide, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8), "L")
    if im.mode not in MODES:
        has_alpha = "A" in im.getbands() or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB")
    return im


@contextmanager
def _decoded(path: Path) -> Iterator[Image.Image]:
    """The first frame of an image file, decoded, in L/RGB/RGBA; every problem is a one-line DataError."""
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    try:
        with Image.open(path) as im:
            limit = _max_pixels()
            if im.width * im.height > limit:  # from the header: nothing decoded yet
                raise DataError(
                    f"{path}: image is {size_text(im.height, im.width)} ({im.width * im.height:,} pixels), above "
                    f"the {limit:,}-pixel limit; split it, or raise $SPRITEGAN_MAX_PIXELS"
                )
            im.seek(0)
            im.load()
            if im.width == 0 or im.height == 0:
                raise DataError(f"{path}: image has zero size ({im.width}x{im.height})")
            yield _normalised(im)
    except DataError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot read image, it is corrupt or truncated ({exc})") from None


def _open_image(path: Path) -> np.ndarray:
    """Read one image (first frame) as an (H, W, C) uint8 array, C = 1, 3 or 4."""
    with _decoded(path) as im:
        arr = np.asarray(im, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def _channels_to_mode(arr: np.ndarray, mode: str) -> np.ndarray:
    """Convert an (..., H, W, C) array between L/RGB/RGBA."""
    c = arr.shape[-1]
    if MODES[[1, 3, 4].index(c)] == mode:
        return arr
    if c == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif c == 4:
        arr = arr[..., :3]
    if mode == "L":
        gray = arr[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None]
    if mode == "RGBA":
        alpha = np.full(arr.shape[:-1] + (1,), 255, dtype=np.uint8)
        return np.concatenate([arr, alpha], axis=-1)
    return arr


def _mode_of(arr: np.ndarray) -> str:
    return MODES[[1, 3, 4].index(arr.shape[-1])]


def _resize_one(arr: np.ndarray, size: tuple[int, int], resample: str) -> np.ndarray:
    mode = _mode_of(arr)
    im = Image.fromarray(arr[..., 0] if mode == "L" else arr, mode)
    out = np.asarray(im.resize((size[1], size[0]), RESAMPLE[resample]), dtype=np.uint8)
    return out[..., None] if out.ndim == 2 else out


def _fit_one(arr: np.ndarray, size: tuple[int, int], resample: str) -> np.ndarray:
    """Resize to fit inside `size` keeping the aspect ratio, then pad centred to exactly `size`."""
    h, w = arr.shape[:2]
    k = min(size[0] / h, size[1] / w)
    inner = (max(1, min(size[0], round(h * k))), max(1, min(size[1], round(w * k))))
    if inner != (h, w):
        arr = _resize_one(arr, inner, resample)
    return _pad_one(arr, size)


def _pad_one(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w, c = arr.shape
    out = np.zeros((size[0], size[1], c), dtype=np.uint8)
    top, left = (size[0] - h) // 2, (size[1] - w) // 2
    out[top : top + h, left : left + w] = arr
    return out


def _number_in(name: str) -> int | None:
    numbers = re.findall(r"\d+", Path(name).stem)
    return int(numbers[-1]) if numbers else None


def _read_folder(folder: Path, progress: bool) -> tuple[list[np.ndarray], list[str], list[Path]]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(f"{folder}: folder has no images ({', '.join(IMAGE_SUFFIXES)})")
    files.sort(key=lambda p: natural_key(p.name))
    if not progress:
        return [_open_image(p) for p in files], [p.name for p in files], files
    # leave=False clears the bar on a terminal; disable=None shows none in logs, where the clearing "\r" would
    # glue the next line (an error) to it
    bar = tqdm(files, desc=f"reading {folder.name}", unit="img", leave=False, disable=None)
    try:
        arrays = [_open_image(p) for p in bar]
    except BaseException:
        bar.leave = True  # the bar ends with its own newline, so an error line is never glued to it
        raise
    finally:
        bar.close()
    return arrays, [p.name for p in files], files


def _cut_sheet(path: Path, tile: tuple[int, int]) -> tuple[np.ndarray, list[int], int]:
    """Tiles of a sprite sheet in reading order, fully transparent ones dropped. Only the alpha band and the
    kept tiles become arrays: a big, mostly empty sheet costs its decoded image plus the kept tiles, not
    several full-size copies."""
    th, tw = tile
    with _decoded(path) as im:
        w, h = im.size
        if h % th or w % tw:
            raise DataError(
                f"{path}: sheet size {size_text(h, w)} is not a multiple of the tile {size_text(th, tw)}; "
                "check --tile"
            )
        rows, cols = h // th, w // tw
        if im.mode == "RGBA":
            alpha = np.asarray(im.getchannel("A")).reshape(rows, th, cols, tw)
            keep = (alpha.max(axis=(1, 3)) > 0).ravel()
            del alpha
        else:
            keep = np.ones(rows * cols, dtype=bool)
        kept = np.nonzero(keep)[0]
        c = len(im.getbands())
        tiles = np.empty((len(kept), th, tw, c), dtype=np.uint8)
        for j, i in enumerate(kept):
            r, col = divmod(int(i), cols)
            box = (col * tw, r * th, col * tw + tw, r * th + th)
            tiles[j] = np.asarray(im.crop(box), dtype=np.uint8).reshape(th, tw, c)
    return tiles, [int(i) for i in kept], int(len(keep) - len(kept))


def _builtin_tiles(spec: str, parts: list[str]) -> SourceImages:
    """builtin:tiles[:N[:SIZE]]: N seamless tiles (data/tiles.py) labelled by material."""
    n = int(parts[2]) if len(parts) > 2 else BUILTIN_TILES_N
    size = int(parts[3]) if len(parts) > 3 else tile_set.DEFAULT_SIZE
    if n <= 0:
        raise DataError(f"{spec}: the number of tiles must be positive")
    if size not in tile_set.SIZES:
        raise DataError(f"{spec}: tile size {size}; choose from {', '.join(map(str, tile_set.SIZES))}")
    images, materials = tile_set.make_tiles(n, seed=0, size=size)
    classes = sorted(tile_set.MATERIALS)
    return SourceImages(
        images=images,
        names=[f"tile{i}" for i in range(n)],
        mode="RGB",
        source=spec,
        labels={
            "columns": {"material": {"kind": "categorical", "classes": classes}},
            "values": {"material": np.array([classes.index(m) for m in materials], dtype=np.int64)},
        },
        ids=list(range(n)),
    )


def _builtin(spec: str) -> SourceImages:
    parts = spec.split(":")
    if parts[1] == "tiles" and len(parts) <= 4 and all(p.isdigit() for p in parts[2:]):
        return _builtin_tiles(spec, parts)
    if parts[1] in ("walkers", "walker-frames"):
        made = walkers.builtin(spec)
        return SourceImages(**made, mode="RGBA", source=spec, ids=list(range(len(made["names"]))))
    if len(parts) > 3 or parts[1] != "sprites" or (len(parts) == 3 and not parts[2].isdigit()):
        raise DataError(
            f"unknown built-in source {spec!r}; use builtin:sprites[:N], builtin:tiles[:N[:SIZE]], "
            "builtin:walkers[:N] or builtin:walker-frames[:N]"
        )
    n = int(parts[2]) if len(parts) == 3 else BUILTIN_DEFAULT_N
    if n <= 0:
        raise DataError(f"{spec}: the number of sprites must be positive")
    images, traits = procedural.make_sprites(n, seed=0)
    columns, values = {}, {}
    for name, options in procedural.TRAITS.items():
        classes = sorted(options)
        columns[name] = {"kind": "categorical", "classes": classes}
        values[name] = np.array([classes.index(t[name]) for t in traits], dtype=np.int64)
    return SourceImages(
        images=images,
        names=[f"sprite{i}" for i in range(n)],
        mode="RGBA",
        source=spec,
        labels={"columns": columns, "values": values},
        ids=list(range(n)),
    )


def load_source(
    path: str | Path,
    *,
    tile: int | str | None = None,
    resize: int | str | None = None,
    resample: str = "nearest",
    pad_to: int | str | None = None,
    labels_csv: str | Path | None = None,
    label_columns: list[str] | None = None,
    mode: str | None = None,
    progress: bool = False,
    fit: str = "stretch",
    csv_shape: int | str | None = None,
    csv_channels: str = "auto",
    csv_label_column: str | None = None,
    csv_header: str = "auto",
) -> SourceImages:
    """Read a folder of images, a sprite sheet cut into tiles, a pixel CSV, builtin:sprites[:N] or builtin:tiles.

    fit="pad" with a resize fits each image inside the size keeping its aspect ratio, then pads it.
    A pixel CSV (data/csv_pixels.py) takes its image size from csv_shape, or from tile (each row is one tile;
    what a run's manifest rebuilds its training images with).
    """
    if resample not in RESAMPLE:
        raise DataError(f"unknown resample {resample!r}; choose from {', '.join(RESAMPLE)}")
    if fit not in FITS:
        raise DataError(f"unknown --fit {fit!r}; choose from {', '.join(FITS)}")
    if fit == "pad" and resize is None:
        raise DataError("--fit pad needs --resize SIZE: the size each image is fitted inside and padded to")
    if mode is not None and mode not in MODES:
        raise DataError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    tile_hw, resize_hw, pad_hw = (
        parse_size(tile, "--tile"),
        parse_size(resize, "--resize"),
        parse_size(pad_to, "--pad-to"),
    )
    csv_hw = parse_size(csv_shape, "--csv-shape")
    text = str(path)
    is_csv = text.lower().endswith(".csv")
    csv_given = [f for f, v in (("--csv-shape", csv_hw), ("--csv-label-column", csv_label_column)) if v]
    if csv_given and not is_csv:
        raise DataError(f"{csv_given[0]} reads a pixel CSV (a .csv file); {text} is not one")
    csv_labels = None
    if text.startswith("builtin:"):
        if tile_hw is not None:
            raise DataError(f"--tile cuts one sprite-sheet image; {text} is not one")
        src = _builtin(text)
        arrays, names, files = list(src.images), src.names, None
    else:
        p = _existing(path, "data source")
        notes: list[str] = []
        if p.is_dir():
            if tile_hw is not None:
                raise DataError(f"{p}: --tile cuts a single sprite-sheet image, but this is a folder")
            arrays, names, files = _read_folder(p, progress)
            ids = [_number_in(n) for n in names]
            dropped = 0
        elif p.suffix.lower() in IMAGE_SUFFIXES:
            files = None
            if tile_hw is None:
                arrays, names, ids, dropped = [_open_image(p)], [p.name], [_number_in(p.name)], 0
            else:
                tiles, ids, dropped = _cut_sheet(p, tile_hw)
                if len(tiles) == 0:
                    raise DataError(f"{p}: every {tile_hw[1]}x{tile_hw[0]} tile is fully transparent")
                arrays, names = list(tiles), [f"{p.name}#{i}" for i in ids]
                if dropped:
                    notes.append(f"dropped {dropped} fully transparent tiles")
        elif is_csv:
            from spritegan.data.csv_pixels import read_pixel_csv  # csv_pixels imports this module

            if csv_hw is not None and tile_hw is not None and csv_hw != tile_hw:
                raise DataError(f"{p}: give --csv-shape or --tile, not both")
            table = read_pixel_csv(
                p,
                csv_hw or tile_hw,
                channels=csv_channels,
                label_column=csv_label_column,
                header=csv_header,
                shape_flag="--csv-shape" if csv_hw is not None or tile_hw is None else "--tile",
            )
            files, arrays, csv_labels, notes = None, list(table.images), table.labels, table.notes
            names, ids, dropped = [f"{p.name}#{i}" for i in range(len(arrays))], list(range(len(arrays))), 0
        else:
            raise DataError(
                f"{p}: not an image ({', '.join(IMAGE_SUFFIXES)}), a pixel CSV (.csv) or a folder of images"
            )
        src = SourceImages(np.zeros(0), names, "L", str(path), ids=ids, dropped_empty=dropped, notes=notes)
        src.labels = csv_labels
    modes = {_mode_of(a) for a in arrays}
    target = mode or max(modes, key=MODES.index)
    if len(modes) > 1:
        src.notes.append(f"mixed modes {'/'.join(sorted(modes, key=MODES.index))} promoted to {target}")
    arrays = [_channels_to_mode(a, target) for a in arrays]
    frames_csv = False  # a labels CSV with character, direction and frame columns: one sheet per character
    if labels_csv is not None and not text.startswith("builtin:"):
        from spritegan.data import frame_sheets  # frame_sheets imports this module

        frames_csv = frame_sheets.is_frames_table(labels_csv)
        if frames_csv and resize_hw is None and pad_hw is None:
            frame_sheets.check_sizes(arrays, names, labels_csv)
    arrays, src.resize = _fix_sizes(arrays, names, resize_hw, resample, pad_hw, fit)
    if frames_csv:
        arrays, names, src.labels, src.sheet = frame_sheets.assemble(
            labels_csv, arrays, names, src.ids, files, label_columns
        )
        src.names, src.ids, labels_csv, label_columns = names, list(range(len(names))), None, None
    images = np.stack(arrays)
    if target == "RGBA":
        images[..., :3][images[..., 3] == 0] = 0
    src.images, src.mode = images, target
    if labels_csv is not None:
        joined = read_labels(labels_csv, names, src.ids, files, label_columns)
        if csv_labels is not None:
            from spritegan.data.csv_pixels import merge_labels

            joined = merge_labels(csv_labels, joined, labels_csv)
        src.labels = joined
    elif label_columns and src.labels is None:
        raise DataError(f"{text}: label columns {', '.join(label_columns)} given but there is no labels CSV")
    elif label_columns and src.labels is not None:
        missing = [c for c in label_columns if c not in src.labels["columns"]]
        if missing:
            raise DataError(
                f"{text}: no label column {missing[0]!r}; have {', '.join(src.labels['columns'])}"
            )
        src.labels = {k: {c: v[c] for c in label_columns} for k, v in src.labels.items()}
    return src


def _fix_sizes(
    arrays: list[np.ndarray],
    names: list[str],
    resize_hw: tuple[int, int] | None,
    resample: str,
    pad_hw: tuple[int, int] | None,
    fit: str = "stretch",
) -> tuple[list[np.ndarray], dict | None]:
    sizes = [a.shape[:2] for a in arrays]
    distinct = sorted(set(sizes))
    if len(distinct) > 1 and resize_hw is None and pad_hw is None:
        counts = {s: sizes.count(s) for s in distinct}
        shown = ", ".join(f"{size_text(*s)} ({counts[s]})" for s in distinct[:6])
        more = f" and {len(distinct) - 6} more" if len(distinct) > 6 else ""
        big = max(distinct, key=lambda s: (s[0] * s[1], s))
        i, j = sizes.index(distinct[0]), sizes.index(distinct[-1])
        raise MixedSizesError(
            f"images differ in size: {names[i]} is {size_text(*sizes[i])} but {names[j]} is "
            f"{size_text(*sizes[j])}; all sizes: {shown}{more}; pass --resize SIZE [--fit pad], or --pad-to "
            f"{size_text(max(s[0] for s in distinct), max(s[1] for s in distinct))} (largest {size_text(*big)})",
            counts,
        )
    if resize_hw is None and pad_hw is None:
        return arrays, None
    info: dict = {"from_sizes": [list(s) for s in distinct]}
    if resize_hw is not None:
        if fit == "pad":
            arrays = [a if a.shape[:2] == resize_hw else _fit_one(a, resize_hw, resample) for a in arrays]
            info["fit"] = "pad"
        else:
            arrays = [a if a.shape[:2] == resize_hw else _resize_one(a, resize_hw, resample) for a in arrays]
        info.update(resize_to=list(resize_hw), resample=resample)
    if pad_hw is not None:
        over = [i for i, a in enumerate(arrays) if a.shape[0] > pad_hw[0] or a.shape[1] > pad_hw[1]]
        if over:
            need = (max(arrays[i].shape[0] for i in over), max(arrays[i].shape[1] for i in over))
            big = max(over, key=lambda i: arrays[i].shape[0] * arrays[i].shape[1])
            raise DataError(
                f"{len(over)} of {len(arrays)} images are larger than --pad-to {size_text(*pad_hw)}, the "
                f"largest {names[big]} at {size_text(*arrays[big].shape[:2])}; use --pad-to {size_text(*need)} or "
                "--resize SIZE --fit pad"
            )
        arrays = [_pad_one(a, pad_hw) for a in arrays]
        info["pad_to"] = list(pad_hw)
    return arrays, info


def _clean(value: str | None) -> str:
    return (value or "").strip().replace("\\", "/").removeprefix("./")


def _keys_for(name: str, file: Path | None, base: Path) -> set[str]:
    keys = {name}
    if file is not None:
        keys.add(Path(name).stem)
        try:
            keys.add(file.resolve().relative_to(base.resolve()).as_posix())
        except ValueError:
            pass
    return keys


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def read_labels(
    csv_path: str | Path,
    names: list[str],
    ids: list[int | None],
    files: list[Path] | None,
    label_columns: list[str] | None = None,
) -> dict:
    """Join a labels CSV to images by file name or by an integer id column; return the labels dict."""
    path = _existing(csv_path, "labels file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = []
            for row in reader:
                if None in row or None in row.values():  # extra cells land under None, missing ones are None
                    cells = len(header) + len(row.get(None) or []) - sum(v is None for v in row.values())
                    raise DataError(
                        f"{path}: line {reader.line_num} has {cells} cells but the header has {len(header)}"
                    )
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read labels CSV ({exc})") from None
    if not header or not rows:
        raise DataError(f"{path}: labels CSV has no header or no rows")
    base = path.parent
    image_keys = [_keys_for(n, files[i] if files else None, base) for i, n in enumerate(names)]
    join, hits, by_id = None, 0, False
    for col in header:
        values = {_clean(r[col]) for r in rows}
        col_hits = sum(1 for keys in image_keys if keys & values)
        if col_hits > hits:
            join, hits = col, col_hits
    id_col = next((c for c in header if c.strip().lower() == "id"), None)
    if id_col is not None and all(_clean(r[id_col]).isdigit() for r in rows):
        id_values = {int(r[id_col]) for r in rows}
        id_hits = sum(1 for i in ids if i is not None and i in id_values)
        if id_hits > hits:
            join, hits, by_id = id_col, id_hits, True
            image_keys = [{str(i)} if i is not None else set() for i in ids]
    if join is None:
        raise DataError(
            f"{path}: no column matches the image file names, and no integer id column matches their numbers"
        )
    by_key: dict[str, int] = {}
    for r_i, row in enumerate(rows):
        k = str(int(_clean(row[join]))) if by_id else _clean(row[join])
        if k in by_key:
            raise DataError(
                f"{path}: duplicate rows for {k!r} in column {join!r} (lines {by_key[k] + 2} and {r_i + 2})"
            )
        by_key[k] = r_i
    order, missing = [], []
    for n, keys in zip(names, image_keys, strict=True):
        hit = {by_key[k] for k in keys if k in by_key}
        if not hit:
            missing.append(n)
        elif len(hit) > 1:
            raise DataError(f"{path}: several rows match image {n} in column {join!r}")
        else:
            order.append(hit.pop())
    if missing:
        raise DataError(
            f"{path}: no row for {len(missing)} of {len(names)} images (joined on {join!r}), e.g. {', '.join(missing[:3])}"
        )
    chosen = [rows[i] for i in order]
    return _label_columns(path, header, chosen, join, label_columns)


def _label_columns(
    path: Path, header: list[str], rows: list[dict], join: str, wanted: list[str] | None
) -> dict:
    if wanted:
        unknown = [c for c in wanted if c not in header]
        if unknown:
            raise DataError(f"{path}: no column {unknown[0]!r}; columns are {', '.join(header)}")
    columns, values = {}, {}
    for col in wanted or header:
        if col == join and not wanted:
            continue
        raw = [(r[col] or "").strip() for r in rows]
        distinct = set(raw)
        if distinct <= {"0", "1"} and (wanted or len(distinct) == 2):
            columns[col] = {"kind": "binary"}
            values[col] = np.array([int(v) for v in raw], dtype=np.int64)
            continue
        numeric = all(_is_number(v) for v in distinct if v)
        if not wanted and (numeric or len(distinct) > MAX_CATEGORIES or len(distinct) < 2):
            continue
        classes = sorted({v or "none" for v in raw})
        columns[col] = {"kind": "categorical", "classes": classes}
        index = {c: i for i, c in enumerate(classes)}
        values[col] = np.array([index[v or "none"] for v in raw], dtype=np.int64)
    if not columns:
        raise DataError(
            f"{path}: names no usable label column (0/1 columns, or text columns with 2..{MAX_CATEGORIES} values)"
        )
    return {"columns": columns, "values": values}
