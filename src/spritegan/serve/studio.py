"""The studio's model registry and rendering: run folders -> cached pipelines -> PNG/GIF/ZIP bytes.

Everything here is synchronous and framework-free; `spritegan.serve.app` runs it in a worker thread.
Sampling goes through `SpritePipeline`, so a sprite from the studio equals the CLI's for the same request.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from spritegan import __version__
from spritegan.errors import SpriteganError
from spritegan.generate.pipeline import SpritePipeline, best_of_rank
from spritegan.generate.traits import trait_mapping
from spritegan.labels import label_layout
from spritegan.metrics import records
from spritegan.serve.guard import inside, read_inside
from spritegan.storage import read_direction

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_SHEET_BYTES = 64 * 1024 * 1024  # a training sample sheet larger than this is not served


class StudioError(Exception):
    """A request the studio refuses: carries the HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Limits:
    """Bounds on the work one request may ask for (all configurable)."""

    max_count: int = 256  # sprites per generate request
    max_scale: int = 16  # nearest-neighbour upscale factor
    max_frames: int = 64  # morph frames
    max_output_pixels: int = 16_000_000  # pixels in any one image returned (sheet, strip, or all sprites)
    max_body_bytes: int = 64 * 1024  # request body size
    max_truncation: float = 2.0
    max_edit: float = 20.0  # |amount| per latent direction
    max_best_of: int = 16  # latents tried per seed (generate's best_of)
    timeout_s: float = 30.0  # per request: waiting for the generator lock plus generating
    body_timeout_s: float = 10.0  # slow clients: seconds allowed for the whole request body
    cache_size: int = 4  # pipelines kept loaded (LRU)


def shown(value: Any, width: int = 60) -> str:
    """A request value for an error message: huge integers as ~10^N, anything else clipped to `width`."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"{'-' if value < 0 else ''}~10^{int(abs(value).bit_length() * 0.30103)}"
    text = f"{value:g}" if isinstance(value, float) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def validate_name(name: str) -> str:
    """Reject names that could leave the runs folder (.., slashes, backslashes, absolute paths)."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise StudioError(400, f"invalid model name {shown(name)}: use letters, digits, '.', '_' or '-' only")
    return name


def labels_for_request(
    pipe: SpritePipeline, traits: str | dict[str, Any] | None, seeds: list[int]
) -> torch.Tensor | None:
    """The label rows (len(seeds), cond_dim) of a conditional model for a request's traits, as `spritegan
    generate --traits` makes them: none given, each seed's traits drawn from the training data; some given,
    the unasked ones drawn from the training rows that agree with them (per seed); text also takes 'random',
    'new' and 'none' (the unconditional slot: None). A bad trait is a 400."""
    try:
        if isinstance(traits, dict) and traits:
            return pipe.complete_labels(*trait_mapping(traits, pipe.label_spec, shown), seeds)
        text = traits if isinstance(traits, str) and traits.strip() else None
        return pipe.labels_for(text, seeds, seeds[0] if seeds else 0)
    except (SpriteganError, ValueError, KeyError) as exc:
        if not isinstance(traits, str):
            raise StudioError(400, str(exc)) from exc
        reason = "; ".join(str(exc).split("\n")).strip("'\"")
        raise StudioError(400, f"traits {shown(traits)}: {reason}") from exc


def png_bytes(image: Any) -> bytes:
    """A PIL image as PNG bytes."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


class ModelStore:
    """Runs under one folder: listing, metadata, directions and an LRU cache of loaded pipelines."""

    def __init__(self, runs_dir: str | Path, limits: Limits) -> None:
        self.runs_dir = Path(runs_dir).resolve()
        self.limits = limits
        self._cache: OrderedDict[str, tuple[float, SpritePipeline]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def names(self) -> list[str]:
        """Model names: sub-folders holding a generator.safetensors."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.runs_dir.iterdir()
            if NAME_RE.match(p.name) and self.inside(p / "generator.safetensors")
        )

    def inside(self, path: Path) -> Path | None:
        """path's real location when it is a file inside RUNS_DIR; None for anything a symlink leads out."""
        return inside(path, self.runs_dir)

    def run_dir(self, name: str) -> Path:
        """The folder of a listed model, or a 404 StudioError."""
        validate_name(name)
        if name not in self.names():
            raise StudioError(404, f"no model {name!r}; available: {', '.join(self.names()) or 'none'}")
        return self.runs_dir / name

    def pipeline(self, name: str) -> SpritePipeline:
        """A loaded pipeline, reloaded when the generator file changed."""
        file = self.run_dir(name) / "generator.safetensors"
        mtime = file.stat().st_mtime
        with self._cache_lock:
            hit = self._cache.get(name)
            if hit and hit[0] == mtime:
                self._cache.move_to_end(name)
                return hit[1]
        pipe = SpritePipeline.from_run(file)
        with self._cache_lock:
            self._cache[name] = (mtime, pipe)
            self._cache.move_to_end(name)
            while len(self._cache) > max(1, self.limits.cache_size):
                self._cache.popitem(last=False)
        return pipe

    def sheet_file(self, name: str) -> Path | None:
        """The run's latest training sample sheet inside RUNS_DIR, if any (symlinks out are skipped)."""
        samples = [p for p in sorted((self.run_dir(name) / "samples").glob("*.png")) if self.inside(p)]
        return samples[-1] if samples else None

    def sheet_bytes(self, name: str) -> bytes | None:
        """The latest sample sheet's bytes, read without leaving RUNS_DIR; None when there is none."""
        path = self.sheet_file(name)
        return read_inside(path, self.runs_dir, MAX_SHEET_BYTES) if path else None

    def directions(self, name: str) -> dict[str, Path]:
        """Latent directions saved as run_dir/directions/<name>.safetensors."""
        folder = self.run_dir(name) / "directions"
        return {
            p.stem: p
            for p in sorted(folder.glob("*.safetensors"))
            if NAME_RE.match(p.stem) and self.inside(p)
        }

    def direction(self, name: str, direction: str, size: int) -> torch.Tensor:
        """One direction vector (size,): the file's 'direction' tensor, else its only tensor."""
        found = self.directions(name)
        if direction not in found:
            raise StudioError(400, f"unknown direction {direction!r}; available: {', '.join(found)}")
        try:
            vec, _ = read_direction(found[direction])
        except SpriteganError as exc:
            raise StudioError(500, f"direction {direction!r}: {exc}") from exc
        if vec is None or vec.numel() != size:
            raise StudioError(500, f"direction {direction!r} is not a single vector of size {size}")
        return vec

    def metrics(self, name: str) -> dict[str, Any]:
        """Scalars of the newest evaluation record (`spritegan.metrics.records`): the last line of
        metrics.jsonl (`spritegan eval`) or eval.jsonl (`train --eval-every`), whichever was written last,
        metrics merged in; empty when missing or unreadable."""
        found = [
            p for p in (self.run_dir(name) / f for f in ("metrics.jsonl", "eval.jsonl")) if self.inside(p)
        ]
        if not found:
            return {}
        path = max(found, key=lambda p: p.stat().st_mtime)
        try:
            with open(path, "rb") as fh:
                fh.seek(max(0, path.stat().st_size - 65536))
                lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
            return records.scalars(records.parse_line(lines[-1])) if lines else {}
        except (OSError, ValueError):
            return {}

    def describe(self, name: str) -> dict[str, Any]:
        """What the page and API clients need to know about one model."""
        pipe = self.pipeline(name)
        cfg = pipe.model_config
        traits = [
            {"name": c.name, "kind": c.kind, "classes": list(c.classes)}
            for c in label_layout(pipe.label_spec)
        ]
        return {
            "name": name,
            "size": list(cfg.image_size),
            "channels": cfg.channels,
            "z_dim": cfg.z_dim,
            "arch": cfg.arch,
            "conditional": bool(cfg.cond_dim),
            "traits": traits,
            "palette": bool(pipe.manifest.get("palette")),
            "step": pipe.meta.get("step"),
            "preset": pipe.meta.get("preset"),
            "metrics": self.metrics(name),
            "sheet_url": f"/api/models/{name}/sheet" if self.sheet_file(name) else None,
            "directions": list(self.directions(name)),
            "tileable": bool(cfg.tileable),  # trained with --tileable: the page shows each tile 3x3
            "best_of_rank": best_of_rank(pipe.generator),  # what ranks best_of's candidates; None: no best_of
        }


def zip_bundle(sprites: list[tuple[int, bytes]], sheet: bytes, manifest: dict[str, Any]) -> bytes:
    """PNG per sprite, the sheet and manifest.json (everything needed to regenerate them) as one zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for seed, data in sprites:
            zf.writestr(f"seed{seed:06d}.png", data)
        zf.writestr("sheet.png", sheet)
        zf.writestr("manifest.json", json.dumps({**manifest, "spritegan_version": __version__}, indent=1))
    return buf.getvalue()


def gif_bytes(frames: list[Any], duration_ms: int = 120) -> bytes:
    """RGBA frames as a looping GIF (fully transparent pixels stay transparent)."""
    buf = io.BytesIO()
    frames[0].save(
        buf, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0, disposal=2
    )
    return buf.getvalue()
