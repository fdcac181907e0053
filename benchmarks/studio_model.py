"""A randomly initialised generator run for the studio benchmarks (speed does not depend on training)."""

from __future__ import annotations

from pathlib import Path


def make_bench_run(runs: Path, name: str = "bench", size: int = 32, preset: str = "sprite") -> Path:
    """runs/<name>/generator.safetensors: the preset's generator at size x size, RGBA, random weights."""
    import torch

    from spritegan.config import build_config
    from spritegan.models import build_generator
    from spritegan.storage import save_generator

    torch.manual_seed(0)
    cfg = build_config(preset)
    cfg.model.image_size = [size, size]
    cfg.model.channels = 4
    gen = build_generator(cfg.model)
    manifest = {
        "size": [size, size],
        "channels": 4,
        "mode": "RGBA",
        "alpha_levels": [0, 255],
        "palette": None,
        "labels": None,
        "source": "benchmark",
    }
    meta = {"model_config": cfg.to_dict()["model"], "manifest": manifest, "step": 0, "preset": preset}
    save_generator(runs / name / "generator.safetensors", gen, meta)
    return runs / name


def describe(run: Path) -> str:
    """One line naming the model: size, z_dim, widths, parameter count."""
    from spritegan.generate.pipeline import SpritePipeline

    pipe = SpritePipeline.from_run(run)
    cfg = pipe.model_config
    params = sum(p.numel() for p in pipe.generator.parameters())
    return f"{cfg.arch} {cfg.image_size[0]}x{cfg.image_size[1]}x{cfg.channels}, z_dim {cfg.z_dim}, g_width {cfg.g_width}, {params / 1e6:.2f}M params"
