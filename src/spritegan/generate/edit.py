"""Editing in W: move latents along directions, and find the directions (labels, a trait judge, PCA).

`spritegan edit` and the studio's `/api/edit` both call `edit_ws`/`edit_strip`, so a W direction applies in
W everywhere and the two give the same sprite for the same (seed, truncation, direction, strength). Found
directions are written with `spritegan.storage.save_direction` (RUN/directions/<name>.safetensors).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from spritegan import storage
from spritegan.errors import SpriteganError
from spritegan.generate import latent as L
from spritegan.generate.pipeline import SpritePipeline
from spritegan.metrics.judge import load_judge
from spritegan.metrics.sprites import is_builtin_sprites


def shift(ws: torch.Tensor, direction: torch.Tensor, strengths: Sequence[float]) -> torch.Tensor:
    """ws (R, num_ws, w_dim) moved by every strength along `direction`: (R, S, num_ws, w_dim)."""
    s = torch.tensor(list(strengths), dtype=ws.dtype)
    return ws[:, None] + s[None, :, None, None] * direction.to(ws.dtype)


def check_direction(pipe: SpritePipeline, direction: torch.Tensor, name: str) -> None:
    """A one-line error when a direction does not fit this generator's W."""
    w_dim = pipe.generator.w_dim
    if direction.numel() != w_dim:
        raise SpriteganError(f"direction {name!r} has {direction.numel()} values; this run's W has {w_dim}")


@torch.no_grad()
def edit_strip(
    pipe: SpritePipeline, ws: torch.Tensor, direction: torch.Tensor, strengths: Sequence[float]
) -> torch.Tensor:
    """uint8 images (R * S, C, H, W): each row's ws moved by every strength along `direction`."""
    moved = shift(ws, direction, strengths)  # (R, S, num_ws, w_dim)
    return pipe.postprocess(pipe.render(moved.flatten(0, 1)))


@torch.no_grad()
def edit_ws(
    pipe: SpritePipeline, ws: torch.Tensor, moves: Sequence[tuple[torch.Tensor, float]]
) -> torch.Tensor:
    """ws (N, num_ws, w_dim) moved along each (direction, strength) in turn."""
    for direction, strength in moves:
        ws = shift(ws, direction, [strength])[:, 0]
    return ws


def find_directions(
    pipe: SpritePipeline,
    run_dir: str | Path,
    labels_from_data: bool,
    pca: int,
    samples: int,
    judge: str | Path | None = None,
) -> list[str]:
    """Compute and save directions; returns '<name> (<kind>)' lines."""
    G = pipe.generator
    made: list[str] = []
    if not labels_from_data and not pca and not judge:
        raise SpriteganError("--find-directions: add --labels-from-data, --judge FILE and/or --pca K")
    if judge:
        made += judged_label_directions(pipe, run_dir, judge, samples)
    if labels_from_data:
        if pipe.model_config.cond_dim and pipe.label_spec:
            found = L.conditional_directions(G, pipe.label_spec, n=samples)
            kind, note = "conditional", "label embedding: w(z, label) - w(z, none)"
        elif is_builtin_sprites(
            torch.zeros(1, pipe.model_config.channels, *pipe.model_config.image_size), pipe.manifest
        ):
            palette = pipe.manifest.get("palette")
            found, valid = L.judged_directions(G, lambda im: L.traits_judge(im, palette), n=samples)
            kind, note = "label", f"read_traits on {samples} generated sprites ({valid} readable)"
            if not found:
                raise SpriteganError(
                    f"only {valid} of {samples} generated sprites were readable: train longer, or use --pca"
                )
        else:
            raise SpriteganError(
                "--labels-from-data needs a conditional run (train --conditional) or the built-in sprites; "
                "use --pca K for unsupervised directions"
            )
        for name, vec in found.items():
            storage.save_direction(run_dir, name, vec, kind, note, "spritegan edit --find-directions")
            made.append(f"{name} ({kind})")
    if pca:
        _, w = L.sample_w(G, max(samples, 2 * pca))
        dirs, ratio = L.pca_directions(w, pca)
        for i, (vec, r) in enumerate(zip(dirs, ratio, strict=True)):
            note = f"PCA of {len(w)} mapped latents, component {i}, {100 * float(r):.1f}% of variance"
            storage.save_direction(
                run_dir, f"pca{i:02d}", vec, "pca", note, "spritegan edit --find-directions --pca"
            )
            made.append(f"pca{i:02d} (pca, {100 * float(r):.1f}%)")
    return made


def judged_label_directions(
    pipe: SpritePipeline, run_dir: str | Path, judge_path: str | Path, samples: int
) -> list[str]:
    """Label directions from a trait classifier run on `samples` generated sprites (unconditional runs)."""
    judge, _ = load_judge(judge_path)
    mc = pipe.model_config
    if judge.channels != mc.channels or list(judge.size) != list(mc.image_size):
        raise SpriteganError(
            f"{judge_path}: judge reads {judge.size[0]}x{judge.size[1]}x{judge.channels} sprites, the run makes "
            f"{mc.image_size[0]}x{mc.image_size[1]}x{mc.channels}"
        )
    found, counts = L.classifier_directions(pipe.generator, judge, n=samples)
    if not found:
        raise SpriteganError(
            f"{judge_path}: no trait was seen in enough of {samples} generated sprites; try more --samples"
        )
    made = []
    for name, vec in found.items():
        note = f"judge {judge_path} on {samples} generated sprites, {counts[name]} with the trait"
        storage.save_direction(run_dir, name, vec, "label", note, "spritegan edit --find-directions --judge")
        made.append(f"{name} (label, {counts[name]} of {samples})")
    return made
