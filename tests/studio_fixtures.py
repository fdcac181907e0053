"""Tiny generator runs for the studio, export and benchmark tests (random weights, seconds to build)."""

from __future__ import annotations

import json
from pathlib import Path

LABEL_SPEC = {
    "columns": {
        "type": {"kind": "categorical", "classes": ["alien", "zombie"]},
        "hat": {"kind": "binary"},
    }
}


def make_run(
    runs: Path,
    name: str,
    *,
    labels: dict | None = None,
    size: int = 16,
    width: int = 8,
    z_dim: int = 8,
    cond_mode: str = "input",
) -> Path:
    """Write runs/<name>/generator.safetensors for a small DCGAN (conditional when `labels` is given)."""
    import torch

    from spritegan.config import build_config
    from spritegan.labels import label_dim
    from spritegan.models import build_generator
    from spritegan.storage import save_generator

    torch.manual_seed(len(name))
    cfg = build_config("sprite", {"model.head": "rgb"})  # random RGB-head weights: varied colours to check
    cfg.model.image_size = [size, size]
    cfg.model.channels = 4
    cfg.model.g_width = width
    cfg.model.z_dim = z_dim
    cfg.model.cond_dim = label_dim(labels) if labels else 0
    cfg.model.cond_mode = cond_mode
    gen = build_generator(cfg.model)
    with torch.no_grad():  # label-driven norms start at zero; give them something to carry
        for name_, param in gen.named_parameters():
            if ".gain." in name_ or ".bias.weight" in name_:
                param.normal_(0.0, 0.3)
    manifest = {
        "size": [size, size],
        "channels": 4,
        "mode": "RGBA",
        "alpha_levels": [0, 255],
        "palette": [[0, 0, 0, 255], [255, 255, 255, 255], [200, 40, 40, 255], [40, 40, 200, 255]],
        "labels": labels,
        "source": "test",
    }
    run = runs / name
    meta = {"model_config": cfg.to_dict()["model"], "manifest": manifest, "step": 0, "preset": "sprite"}
    save_generator(run / "generator.safetensors", gen, meta)
    return run


def make_runs(root: Path) -> Path:
    """A runs folder with an unconditional model `plain` (with metrics and samples) and a conditional `cond`."""
    from PIL import Image

    runs = root / "runs"
    plain = make_run(runs, "plain")
    cond = make_run(runs, "cond", labels=LABEL_SPEC)
    write_label_table(cond)
    (plain / "metrics.jsonl").write_text(json.dumps({"step": 0, "fid": 123.4}) + "\n")
    (plain / "samples").mkdir()
    Image.new("RGBA", (8, 8), (255, 0, 0, 255)).save(plain / "samples" / "step-000000.png")
    (runs / "not-a-run").mkdir()
    return runs


def write_label_table(run: Path) -> None:
    """The training labels of the `cond` run (its label_table.json): three bare aliens and one zombie in a
    hat, so traits drawn from the data can be told from traits left off."""
    import torch

    from spritegan.generate.traits import TABLE_FILE, LabelTable

    rows = torch.tensor([[1.0, 0.0, 0.0]] * 3 + [[0.0, 1.0, 1.0]])  # type alien/zombie, hat
    (run / TABLE_FILE).write_text(json.dumps(LabelTable.from_matrix(rows).to_dict()))
