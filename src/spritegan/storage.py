"""The ground floor for files: atomic writes, the generator file, directions, latents and trait judges.

Every file spritegan writes goes through `atomic_write` (a temporary name in the same folder, fsync, rename,
fsync of the folder), so a process killed mid-write leaves the previous file intact. safetensors is read and
written here only (the resume checkpoint in `train/checkpoint.py` builds on `save_tensors`/`read_tensors`);
nothing is ever unpickled. This module imports no other spritegan module but `errors`, so every layer may
use it.

Files:
- `generator.safetensors`: the shareable model, G_ema's weights with JSON metadata (model config, data
  manifest, step, preset); `SpritePipeline.from_pretrained`/`save_pretrained` read and write it.
- `RUN/directions/<name>.safetensors`: one W-space direction (`direction`, (w_dim,)) with its kind/source.
- a projected latent (`w`, (1, w_dim) or (1, num_ws, w_dim)) from `spritegan project`.
- a trait judge: classifier weights with its config and held-out report.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from spritegan.errors import RunError, SpriteganError

GENERATOR_FILE = "generator.safetensors"
GENERATOR_FORMAT = "spritegan-generator-1"
JUDGE_FORMAT = "spritegan-judge-1"
DIRECTIONS_DIR = "directions"
_NAME_RE = re.compile(r"^[A-Za-z0-9_.+=-]{1,80}$")


# ---- atomic writes -------------------------------------------------------------------------------------------


def file_mode() -> int:
    """rw for everyone the umask allows (0644 under the usual 022): generators are meant to be shared."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(
    path: str | Path, write: Callable[[Path], None], before_rename: Callable[[], None] | None = None
) -> Path:
    """`write(tmp)` to `.NAME.tmp-PID` beside `path`, fsync, then rename over `path` and fsync the folder.

    `before_rename` runs between the two (the kill -9 tests stop the process there). On any error the
    temporary file is removed and `path` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """A UTF-8 text file, written atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# ---- safetensors ---------------------------------------------------------------------------------------------


def save_tensors(
    path: str | Path,
    tensors: dict[str, torch.Tensor],
    metadata: dict[str, str],
    before_rename: Callable[[], None] | None = None,
) -> Path:
    """Tensors (moved to contiguous CPU memory) and string metadata as one safetensors file, atomically."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata), before_rename)


def read_tensors(
    path: str | Path, error: type[SpriteganError] = RunError
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors and the string metadata of a safetensors file; `error` names the file when unreadable."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise error(f"{path}: cannot read, not a readable safetensors file ({exc})") from exc
    return tensors, metadata


def read_header(path: str | Path) -> dict[str, str]:
    """The string metadata of a safetensors file from its header only ({} when unreadable)."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError):
        return {}


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a checkpoint or generator file ('format' stays a string; {} when unreadable)."""
    try:
        return {k: (v if k == "format" else json.loads(v)) for k, v in read_header(path).items()}
    except ValueError:
        return {}


# ---- the generator file --------------------------------------------------------------------------------------


def resolve_generator_path(path: str | Path) -> Path:
    """A run folder (its generator.safetensors) or a generator file itself."""
    p = Path(path)
    if p.is_dir():
        p = p / GENERATOR_FILE
    if not p.exists():
        raise RunError(f"{path}: no generator.safetensors here (train a run first, or give the file)")
    return p


def save_generator(path: str | Path, generator: torch.nn.Module, meta: dict[str, Any]) -> Path:
    """Write the shareable generator: weights plus JSON metadata (model config, data manifest, step)."""
    metadata = {"format": GENERATOR_FORMAT}
    metadata.update({k: json.dumps(v) for k, v in meta.items()})
    return save_tensors(path, dict(generator.state_dict()), metadata)


def load_generator_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Weights and decoded metadata of a `generator.safetensors`."""
    tensors, metadata = read_tensors(path)
    if metadata.get("format") != GENERATOR_FORMAT:
        raise RunError(f"{path}: not a spritegan generator file (format {metadata.get('format')!r})")
    return tensors, {k: json.loads(v) for k, v in metadata.items() if k != "format"}


# ---- W-space directions and projected latents ----------------------------------------------------------------


def directions_dir(run: str | Path) -> Path:
    """RUN/directions (the run folder, or the folder holding a generator file)."""
    p = Path(run)
    return (p if p.is_dir() else p.parent) / DIRECTIONS_DIR


def save_direction(
    run: str | Path, name: str, vector: torch.Tensor, kind: str, source: str, created_with: str
) -> Path:
    """Write RUN/directions/<name>.safetensors with its kind (label | pca | conditional) and source."""
    if not _NAME_RE.match(name):
        raise SpriteganError(f"direction name {name!r}: use letters, digits, _ . + = - (at most 80)")
    meta = {
        "kind": kind,
        "source": source,
        "created_with": created_with,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "norm": f"{float(vector.norm()):.4f}",
    }
    path = directions_dir(run) / f"{name}.safetensors"
    return save_tensors(path, {"direction": vector.float().reshape(-1)}, meta)


def read_direction(path: str | Path) -> tuple[torch.Tensor | None, dict[str, str]]:
    """A direction file's vector (its 'direction' tensor, else its only tensor; None when neither) and
    metadata."""
    tensors, meta = read_tensors(path)
    vec = tensors.get("direction", next(iter(tensors.values())) if len(tensors) == 1 else None)
    return (None if vec is None else vec.float().reshape(-1)), meta


def load_direction(run: str | Path, name: str) -> tuple[torch.Tensor, dict[str, str]]:
    """A saved direction (w_dim,) and its metadata; a path to a .safetensors file works too."""
    path = Path(name) if name.endswith(".safetensors") else directions_dir(run) / f"{name}.safetensors"
    if not path.exists():
        known = ", ".join(d["name"] for d in list_directions(run)) or "none yet: run edit --find-directions"
        raise RunError(f"no direction {name!r} in {directions_dir(run)} (known: {known})")
    vec, meta = read_direction(path)
    if vec is None:
        raise RunError(f"{path}: not a direction file (no 'direction' tensor)")
    return vec, meta


def list_directions(run: str | Path) -> list[dict[str, str]]:
    """Name, kind, source and creation time of every saved direction, sorted by name."""
    return [
        {"name": path.stem, **read_header(path)} for path in sorted(directions_dir(run).glob("*.safetensors"))
    ]


def save_latent(path: str | Path, w: torch.Tensor, meta: dict[str, object]) -> Path:
    """A projected latent w (1, w_dim) or ws (1, num_ws, w_dim) as safetensors, with JSON metadata."""
    return save_tensors(path, {"w": w.detach().float()}, {k: json.dumps(v) for k, v in meta.items()})


def read_latent(path: str | Path) -> torch.Tensor:
    """The `w` tensor of a latent file written by `spritegan project`."""
    try:
        return load_file(str(path))["w"]
    except (OSError, SafetensorError, KeyError) as exc:
        raise SpriteganError(f"{path}: not a latent file from `spritegan project` ({exc})") from exc


# ---- trait judges --------------------------------------------------------------------------------------------


def save_judge_file(
    path: str | Path, state: dict[str, torch.Tensor], config: dict[str, Any], report: dict[str, Any]
) -> Path:
    """A trait judge's weights with its constructor config and held-out report in the metadata."""
    meta = {"format": JUDGE_FORMAT, "config": json.dumps(config), "report": json.dumps(report)}
    return save_tensors(path, state, meta)


def load_judge_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """(weights, config, report) of a judge file written by `save_judge_file`."""
    p = Path(path)
    if not p.is_file():
        raise SpriteganError(f"{p}: no judge file here (train one with `spritegan traits judge`)")
    tensors, meta = read_tensors(p, SpriteganError)
    if meta.get("format") != JUDGE_FORMAT:
        raise SpriteganError(f"{p}: not a spritegan trait judge (format {meta.get('format')!r})")
    return tensors, json.loads(meta["config"]), json.loads(meta["report"])
