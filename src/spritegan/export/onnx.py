"""ONNX export of a generator with sprite post-processing inside the graph, for game engines.

Inputs: z float32 (N, z_dim) [, labels float32 (N, cond_dim)], truncation float32 (1,).
Output: sprites uint8 (N, H, W, C): tanh output -> round/clamp to 0..255, alpha snapped to the dataset's
levels (nearest level), RGB zeroed where alpha is 0, optionally every visible pixel snapped to the palette.
The model calls `SpritePipeline.synthesize`, so truncation means whatever it means for the architecture.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spritegan import __version__, storage
from spritegan.errors import RunError
from spritegan.generate.pipeline import SpritePipeline
from spritegan.labels import label_layout

SEED_CONVENTION = (
    "z for seed s is torch.randn(z_dim, generator=torch.Generator().manual_seed(s)) (float32, CPU); "
    "batch rows are independent"
)


class SpriteGraph(nn.Module):
    """Wraps a pipeline's generator: (z[, labels], truncation) -> uint8 (N, H, W, C) sprites."""

    def __init__(self, pipe: SpritePipeline, palette: bool = False) -> None:
        super().__init__()
        self.pipe = pipe
        self.generator = pipe.generator.eval()
        self.conditional = bool(pipe.model_config.cond_dim)
        self.channels = pipe.model_config.channels
        levels = sorted(pipe.manifest.get("alpha_levels") or [0, 255])
        self.register_buffer("alpha_levels", torch.tensor(levels, dtype=torch.float32))
        pal = pipe.manifest.get("palette") if palette else None
        self.use_palette = bool(pal)
        colour_ch = 1 if self.channels == 1 else 3
        rows = (
            torch.unique(torch.tensor([p[:colour_ch] for p in pal], dtype=torch.float32), dim=0)
            if pal
            else None
        )
        self.register_buffer("palette", rows if rows is not None else torch.zeros(1, colour_ch))

    def forward(self, z: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        """Generate and post-process; rest is (labels, truncation) or (truncation,)."""
        labels, truncation = (rest[0], rest[1]) if self.conditional else (None, rest[0])
        x = self.pipe.synthesize(z, labels, truncation)
        x = torch.clamp(torch.round((x + 1.0) * 127.5), 0.0, 255.0)
        x = x.permute(0, 2, 3, 1)  # (N, H, W, C)
        if self.channels == 4:
            alpha = x[..., 3:4]
            idx = torch.argmin(torch.abs(alpha.unsqueeze(-1) - self.alpha_levels), dim=-1)
            alpha = self.alpha_levels[idx]
            x = torch.cat([x[..., :3] * (alpha > 0).float(), alpha], dim=-1)
        if self.use_palette:
            colour_ch = 1 if self.channels == 1 else 3
            colour = x[..., :colour_ch]
            dist = ((colour.unsqueeze(-2) - self.palette) ** 2).sum(-1)
            snapped = self.palette[torch.argmin(dist, dim=-1)]
            if self.channels == 4:
                snapped = torch.where(x[..., 3:4] > 0, snapped, colour)
            x = torch.cat([snapped, x[..., colour_ch:]], dim=-1)
        return x.to(torch.uint8)


def label_layout_json(pipe: SpritePipeline) -> str:
    """The label vector layout as JSON: [{name, kind, classes, offset}], [] for unconditional models."""
    cols = label_layout(pipe.label_spec) if pipe.model_config.cond_dim else []
    return json.dumps(
        [{"name": c.name, "kind": c.kind, "classes": list(c.classes), "offset": c.offset} for c in cols]
    )


def export_metadata(pipe: SpritePipeline, palette_in_graph: bool) -> dict[str, str]:
    """String metadata_props written into the ONNX model."""
    cfg = pipe.model_config
    return {
        "spritegan_version": __version__,
        "size": json.dumps(list(cfg.image_size)),
        "channels": str(cfg.channels),
        "z_dim": str(cfg.z_dim),
        "cond_dim": str(cfg.cond_dim),
        "traits": label_layout_json(pipe),
        "palette": json.dumps(pipe.manifest.get("palette")),
        "palette_in_graph": json.dumps(palette_in_graph),
        "alpha_levels": json.dumps(sorted(pipe.manifest.get("alpha_levels") or [0, 255])),
        "output_layout": "uint8 (N, H, W, C), straight alpha when C == 4",
        "seed_convention": SEED_CONVENTION,
        "step": json.dumps(pipe.meta.get("step")),
        "preset": json.dumps(pipe.meta.get("preset")),
        "arch": cfg.arch,
    }


def export_onnx(run: str | Path, out: str | Path, opset: int = 17, palette: bool = False) -> dict[str, Any]:
    """Export a run's generator to `out` (.onnx); returns the metadata written."""
    return export_pipeline(SpritePipeline.from_run(run), out, opset=opset, palette=palette)


def export_pipeline(
    pipe: SpritePipeline, out: str | Path, opset: int = 17, palette: bool = False
) -> dict[str, Any]:
    """Export a loaded pipeline to `out` (.onnx); returns the metadata written."""
    import onnx

    graph = SpriteGraph(pipe, palette=palette).eval()
    cfg = pipe.model_config
    z = torch.randn(2, cfg.z_dim)
    trunc = torch.ones(1)
    args: tuple[torch.Tensor, ...] = (z, trunc)
    names = ["z", "truncation"]
    axes: dict[str, dict[int, str]] = {"z": {0: "batch"}, "sprites": {0: "batch"}}
    if graph.conditional:
        args = (z, torch.zeros(2, cfg.cond_dim), trunc)
        names = ["z", "labels", "truncation"]
        axes["labels"] = {0: "batch"}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            args,
            buf,
            dynamo=False,
            input_names=names,
            output_names=["sprites"],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
        )
    model = onnx.load_model_from_string(buf.getvalue())
    meta = export_metadata(pipe, graph.use_palette)
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "spritegan"
    model.producer_version = __version__
    onnx.checker.check_model(model)
    try:
        storage.atomic_write(out, lambda tmp: onnx.save_model(model, str(tmp)))
    except OSError as exc:
        raise RunError(f"{out}: cannot write the ONNX file ({exc})") from exc
    return meta
