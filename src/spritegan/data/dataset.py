"""Prepared datasets (safetensors + manifest.json), the in-memory dataset and seeded batch sampling."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spritegan import __version__, storage
from spritegan.config import DataConfig
from spritegan.data.clusters import add_cluster_labels
from spritegan.data.sources import SourceImages, load_source
from spritegan.errors import DataError

FORMAT_VERSION = 1
DATA_FILE = "data.safetensors"
MANIFEST_FILE = "manifest.json"
MAX_PALETTE = 256
MAX_ALPHA_LEVELS = 16


@dataclass
class PreparedDataset:
    """Images as uint8 (N, C, H, W), their manifest, and integer label tensors (N,) by column name."""

    images: torch.Tensor
    manifest: dict
    labels: dict[str, torch.Tensor]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def channels(self) -> int:
        """Number of channels: 1 (L), 3 (RGB) or 4 (RGBA)."""
        return int(self.images.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of every image."""
        return int(self.images.shape[2]), int(self.images.shape[3])

    @property
    def mode(self) -> str:
        """'L', 'RGB' or 'RGBA'."""
        return self.manifest["mode"]

    @property
    def label_spec(self) -> dict:
        """{column: {"kind": "categorical", "classes": [...]} | {"kind": "binary"}}; empty without labels."""
        return self.manifest.get("labels") or {}


def _palette(images: np.ndarray, mode: str) -> list[list[int]] | None:
    """Distinct colours (r, g, b, a) among visible pixels if there are at most 256, else None."""
    found: set[int] = set()
    chunk = max(1, 2_000_000 // max(1, images[0].size))
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk]
        if mode == "RGBA":
            px = part.reshape(-1, 4)
            px = px[px[:, 3] > 0]
        elif mode == "RGB":
            px = part.reshape(-1, 3)
            px = np.concatenate([px, np.full((len(px), 1), 255, np.uint8)], axis=1)
        else:
            px = np.repeat(part.reshape(-1, 1), 3, axis=1)
            px = np.concatenate([px, np.full((len(px), 1), 255, np.uint8)], axis=1)
        keys = px.astype(np.uint32) << np.array([24, 16, 8, 0], dtype=np.uint32)
        found.update(np.unique(keys.sum(axis=1, dtype=np.uint32)).tolist())
        if len(found) > MAX_PALETTE:
            return None
    return [[(k >> s) & 255 for s in (24, 16, 8, 0)] for k in sorted(found)]


def _alpha_levels(images: np.ndarray, mode: str) -> list[int] | None:
    """Every alpha value the data uses. Up to 16 levels, outputs are snapped to them (crisp pixel art);
    with more (soft, painted edges) the list holds them all, so snapping keeps soft alpha instead of
    forcing it to 0/255."""
    if mode != "RGBA":
        return None
    return [int(v) for v in np.nonzero(np.bincount(images[..., 3].ravel(), minlength=256))[0]]


def soft_alpha(manifest: dict) -> bool:
    """True when the data has more than MAX_ALPHA_LEVELS alpha levels (kept soft, not snapped to 0/255)."""
    return len(manifest.get("alpha_levels") or []) > MAX_ALPHA_LEVELS


def warn_about_data(manifest: dict) -> None:
    """One-line warnings, at data load, about what the data's pixels mean for outputs."""
    if soft_alpha(manifest):
        print(
            f"warning: {manifest.get('source')}: {len(manifest['alpha_levels'])} alpha levels (more than "
            f"{MAX_ALPHA_LEVELS}): soft edges are kept, outputs are not snapped to 0/255",
            file=sys.stderr,
        )


def image_hash(images: torch.Tensor) -> str:
    """sha256 of the contiguous uint8 (N, C, H, W) bytes."""
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()


def build_manifest(src: SourceImages, images_nchw: torch.Tensor) -> dict:
    """The manifest describing a dataset made from `src` (the same whether written to disk or not)."""
    n, c, h, w = images_nchw.shape
    return {
        "format_version": FORMAT_VERSION,
        "source": src.source,
        "n": int(n),
        "names_count": len(src.names),
        "names": list(src.names),
        "size": [int(h), int(w)],
        "channels": int(c),
        "mode": src.mode,
        "resize": src.resize,
        "dropped_empty": src.dropped_empty,
        "notes": list(src.notes),
        "palette": _palette(src.images, src.mode),
        "alpha_levels": _alpha_levels(src.images, src.mode),
        "labels": dict(src.labels["columns"]) if src.labels else None,
        **({"sheet": src.sheet} if src.sheet else {}),  # each image one character's sheet of frames
        "sha256": image_hash(images_nchw),
        "created_with": f"spritegan {__version__}",
    }


def _from_source(src: SourceImages) -> PreparedDataset:
    images = torch.from_numpy(np.ascontiguousarray(src.images.transpose(0, 3, 1, 2)))
    labels = {
        k: torch.from_numpy(np.asarray(v, dtype=np.int64))
        for k, v in (src.labels or {}).get("values", {}).items()
    }
    manifest = build_manifest(src, images)
    warn_about_data(manifest)
    return PreparedDataset(images=images, manifest=manifest, labels=labels)


def check_prepare_out(out_dir: str | Path, overwrite: bool = False) -> Path:
    """The output folder of `prepare`: new, empty, or (with overwrite) one whose two files are replaced."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: exists and is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise DataError(
            f"--out {out}: folder exists and is not empty; choose a new folder or add --overwrite"
        )
    return out


def prepare(src: SourceImages, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write out_dir/data.safetensors and out_dir/manifest.json (each atomically); return out_dir.

    A folder that already holds files is refused unless `overwrite` (then only those two files are replaced).
    """
    out = check_prepare_out(out_dir, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    ds = _from_source(src)
    tensors = {"images": ds.images, **{f"label/{k}": v.contiguous() for k, v in ds.labels.items()}}
    storage.save_tensors(out / DATA_FILE, tensors, {"format": "spritegan"})
    storage.atomic_write_text(out / MANIFEST_FILE, json.dumps(ds.manifest, indent=1) + "\n")
    return out


def load_prepared(directory: str | Path) -> PreparedDataset:
    """Load a prepared dataset folder, checking the format version and the images' sha256."""
    d = Path(directory)
    mpath, dpath = d / MANIFEST_FILE, d / DATA_FILE
    if not mpath.is_file():
        raise DataError(f"{d}: not a prepared dataset (no {MANIFEST_FILE}); run `spritegan data prepare`")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{mpath}: cannot read manifest ({exc})") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{mpath}: format version {manifest.get('format_version')} is not {FORMAT_VERSION}; prepare again"
        )
    if not dpath.is_file():
        raise DataError(f"{dpath}: missing; run `spritegan data prepare` again")
    tensors, _ = storage.read_tensors(dpath, DataError)
    images = tensors.get("images")
    if images is None or images.dtype != torch.uint8 or images.ndim != 4:
        raise DataError(f"{dpath}: no uint8 (N, C, H, W) 'images' tensor")
    if image_hash(images) != manifest.get("sha256"):
        raise DataError(
            f"{dpath}: images do not match the sha256 in {MANIFEST_FILE}; the file changed or is damaged"
        )
    labels = {k.removeprefix("label/"): v for k, v in tensors.items() if k.startswith("label/")}
    warn_about_data(manifest)
    return PreparedDataset(images=images, manifest=manifest, labels=labels)


def open_dataset(
    spec: str | Path,
    *,
    tile: int | str | None = None,
    resize: int | str | None = None,
    resample: str = "nearest",
    pad_to: int | str | None = None,
    labels_csv: str | Path | None = None,
    label_columns: list[str] | None = None,
    progress: bool = False,
    fit: str = "stretch",
    **csv_options,
) -> PreparedDataset:
    """Open a prepared folder, or read any source `load_source` accepts into memory.

    csv_options are load_source's csv_shape, csv_channels, csv_label_column and csv_header (pixel CSVs).
    """
    p = Path(str(spec))
    if not str(spec).startswith("builtin:") and (p / MANIFEST_FILE).is_file():
        given = [
            n
            for n, v in (("tile", tile), ("resize", resize), ("pad_to", pad_to), ("labels", labels_csv))
            + tuple((k, v) for k, v in csv_options.items() if k in ("csv_shape", "csv_label_column"))
            if v
        ]
        if given:
            raise DataError(
                f"{p}: is already prepared; {', '.join(given)} cannot be applied (prepare again instead)"
            )
        return load_prepared(p)
    src = load_source(
        spec,
        tile=tile,
        resize=resize,
        resample=resample,
        pad_to=pad_to,
        labels_csv=labels_csv,
        label_columns=label_columns,
        progress=progress,
        fit=fit,
        **csv_options,
    )
    return _from_source(src)


def open_from_config(data: DataConfig, progress: bool = False) -> PreparedDataset:
    """open_dataset with every option of a run's DataConfig (train, resume, label tables), with its cluster
    labels when data.clusters asks for them."""
    dataset = open_dataset(
        data.source,
        tile=data.tile,
        resize=data.resize,
        resample=data.resample,
        pad_to=data.pad_to,
        labels_csv=data.labels_csv,
        label_columns=data.label_columns,
        progress=progress,
        fit=getattr(data, "fit", "stretch"),
        csv_shape=getattr(data, "csv_shape", None),
        csv_channels=getattr(data, "csv_channels", "auto"),
        csv_label_column=getattr(data, "csv_label_column", None),
        csv_header=getattr(data, "csv_header", "auto"),
    )
    clusters = getattr(data, "clusters", 0)
    if clusters:
        if clusters < 2:
            raise DataError(f"data.clusters={clusters}: choose 0 (no cluster labels) or at least 2")
        add_cluster_labels(dataset, clusters)
    return dataset
