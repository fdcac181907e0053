"""Progressive growing (model.progressive): the schedule, G and D at every phase, the fixed-resolution path at
the end, the reals' fade, resume mid-fade, logging, and generation / ONNX export from a grown or growing run."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from spritegan.cli import main
from spritegan.config import ModelConfig, build_config
from spritegan.errors import SpriteganError
from spritegan.generate.pipeline import SpritePipeline
from spritegan.models import build_discriminator, build_generator
from spritegan.models.progressive import Growth, fade_reals, growth_at, growth_end_kimg, growth_levels


def tiny(size=(24, 24), progressive: bool = True, **extra) -> ModelConfig:
    base = dict(arch="stylegan", image_size=list(size), channels=4, z_dim=8, w_dim=8, g_width=4, d_width=4)
    base.update(max_channels=8, mapping_layers=2, progressive=progressive)
    return ModelConfig(**{**base, **extra})


def pair(cfg: ModelConfig, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(seed)
    return build_generator(cfg).eval(), build_discriminator(cfg)


def every_state(levels: int) -> list[Growth]:
    return [Growth(0)] + [Growth(k, a) for k in range(1, levels + 1) for a in (0.0, 0.25, 1.0)]


# ---- the schedule ---------------------------------------------------------------------------------------
def test_schedule_phases_and_alpha() -> None:
    # stable 1 kimg at phase 0, then fade 2 + stable 1 for each of 3 phases
    at = [growth_at(i * 500, 3, 2.0, 1.0) for i in range(22)]
    assert at[0] == at[1] == Growth(0)  # 0 and 500 images: the first stable phase
    assert at[2] == Growth(1, 0.0)  # 1,000 images: fading 2x in from alpha 0
    assert at[3] == Growth(1, 0.25) and at[5] == Growth(1, 0.75)
    assert at[6] == at[7] == Growth(1, 1.0)  # 3,000..3,500: stable
    assert at[8] == Growth(2, 0.0) and at[14] == Growth(3, 0.0)
    assert at[18] == Growth(3, 1.0)  # 9,000 images: the last phase faded in
    assert all(g == Growth(3, 1.0) for g in at[18:])
    assert growth_end_kimg(3, 2.0, 1.0) == 9.0
    levels = [g.phase - 1 + g.alpha if g.phase else 0.0 for g in at]
    assert levels == sorted(levels)  # monotone: the model never shrinks


def test_schedule_is_a_pure_function_and_handles_edges() -> None:
    assert growth_at(12_345, 4, 3.0, 2.0) == growth_at(12_345, 4, 3.0, 2.0)
    assert growth_at(0, 3, 0.0, 0.0) == Growth(3)  # no schedule: full resolution at once
    assert growth_at(1500, 3, 0.0, 1.0) == Growth(1, 1.0)  # no fade: each phase jumps in
    assert growth_at(500, 0, 1.0, 1.0) == Growth(0)  # nothing to grow
    g = growth_at(1, 3, 1000.0, 0.0)  # a tiny alpha survives quantisation to 1/2**24
    assert g.phase == 1 and 0.0 < g.alpha < 1e-5


def test_growth_levels_follow_the_size_ladder() -> None:
    # 24 -> 3, 6, 12, 24; 32 -> 4..32; 64 -> 4..64; 18 is padded to 24 and cropped back
    assert [growth_levels(s) for s in ((24, 24), (32, 32), (64, 64), (18, 18), (24, 32))] == [3, 3, 4, 3, 3]


# ---- the networks --------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(24, 24), (32, 32), (18, 18), (24, 32)])
def test_full_size_out_at_every_phase_and_d_grows(size) -> None:
    G, D = pair(tiny(size))
    z = torch.randn(2, 8)
    for state in every_state(G.levels):
        G.set_growth(state)
        D.set_growth(state)
        x = G(z)
        assert x.shape == (2, 4, *size) and x.abs().max() <= 1.0, state
        assert D(x).shape == (2,)
        # D starts at the phase's resolution: fromRGB's map, then one per block down to the first block's
        assert len(D.feature_maps(x)) == 1 + state.phase, state


def test_lower_phase_is_nearest_upsampled_and_fades_continuously() -> None:
    G, D = pair(tiny((32, 32)))
    z = torch.randn(3, 8)
    G.set_growth(Growth(1, 1.0))  # 8x8 inside 32x32: constant 4x4 blocks
    x = G(z)
    assert torch.equal(x, x[..., ::4, ::4].repeat_interleave(4, -2).repeat_interleave(4, -1))
    real = torch.rand(3, 4, 32, 32) * 2 - 1
    for k in range(1, G.levels + 1):  # alpha 0 of phase k is phase k-1 at alpha 1 (no jump)
        outs = []
        for state in (Growth(k - 1, 1.0), Growth(k, 0.0)):
            G.set_growth(state)
            D.set_growth(state)
            r = fade_reals(real, (32, 32), state)
            outs.append((G(z), D(r), r))
        for a, b in zip(*outs, strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_faded_reals_match_the_phase_resolution() -> None:
    real = torch.rand(2, 4, 24, 24) * 2 - 1
    at_6 = fade_reals(real, (24, 24), Growth(1, 1.0))  # 6x6 blocks of 4
    pooled = torch.nn.functional.avg_pool2d(real, 4)
    torch.testing.assert_close(at_6[..., ::4, ::4], pooled)
    half = fade_reals(real, (24, 24), Growth(2, 0.5))  # halfway between 6x6 and 12x12
    torch.testing.assert_close(half, 0.5 * at_6 + 0.5 * fade_reals(real, (24, 24), Growth(2, 1.0)))
    assert torch.equal(fade_reals(real, (24, 24), Growth(3, 1.0)), real)  # full resolution: untouched


def test_end_of_growth_is_the_fixed_resolution_model() -> None:
    fixed_g, fixed_d = pair(tiny(progressive=False))
    grow_g, grow_d = pair(tiny())
    shared = grow_g.state_dict()
    assert {k for k in shared} - set(fixed_g.state_dict()) == {"growth"}
    z, x = torch.randn(4, 8), torch.rand(4, 4, 24, 24) * 2 - 1
    for state in (Growth(1, 0.3), Growth(2, 0.7), Growth(3, 0.5), Growth(3, 1.0)):  # grown, then done
        grow_g.set_growth(state)
        grow_d.set_growth(state)
    assert torch.equal(grow_g(z), fixed_g(z))  # no leftover blending once alpha is 1 at the last phase
    assert torch.equal(grow_d(x), fixed_d(x))
    for a, b in zip(grow_d.feature_maps(x), fixed_d.feature_maps(x), strict=True):
        assert torch.equal(a, b)


def test_d_trains_its_new_from_rgb_while_fading() -> None:
    _, D = pair(tiny())
    D.set_growth(Growth(2, 0.5))  # fading 12x12 in: fromRGB at 12 and at 6 both feed the blocks
    D(torch.rand(2, 4, 24, 24)).sum().backward()
    assert D.from_rgbs[2].weight.grad.abs().sum() > 0 and D.from_rgbs[1].weight.grad.abs().sum() > 0
    assert D.from_rgb.weight.grad is None and D.blocks[0].conv1.weight.grad is None  # 24x24: not yet


def test_growth_state_loads_with_the_weights() -> None:
    G, _ = pair(tiny())
    G.set_growth(Growth(2, 0.4))
    other, _ = pair(tiny(), seed=1)
    other.load_state_dict(G.state_dict())
    assert other.current_growth() == Growth(2, 0.4).quantised()
    assert torch.equal(other(torch.ones(1, 8)), G(torch.ones(1, 8)))


@pytest.mark.parametrize(
    "override, word",
    [
        ("model.arch=dcgan", "arch=stylegan"),
        ("model.style_d=dcgan", "style_d"),
        ("model.head=palette", "head"),
    ],
)
def test_unsupported_combinations_are_one_line_errors(tmp_path, capsys, override, word) -> None:
    key, value = override.split("=")
    with pytest.raises(SpriteganError, match=word):
        build_generator(tiny(**{key.split(".")[1]: value}))
    argv = ["train", "--data", "builtin:sprites:8", "--preset", "stylegan", "--out", str(tmp_path / "r")]
    argv += ["--no-progress", "--max-steps", "1", "--set", "model.progressive=true", "--set", override]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.progressive" in err[0], err


# ---- training, resume, outputs ---------------------------------------------------------------------------
TINY_RUN = {
    "data.source": "builtin:sprites:32",
    "model.z_dim": 8,
    "model.w_dim": 8,
    "model.g_width": 4,
    "model.d_width": 4,
    "model.max_channels": 8,
    "model.mapping_layers": 2,
    "model.progressive": True,
    "train.batch_size": 8,
    "train.threads": 1,
    "train.stable_kimg": 0.008,  # one step of 8 images per stable phase
    "train.fade_kimg": 0.032,  # four steps per fade
    "train.checkpoint_every": 3,
    "train.log_every": 1,
    "train.sample_every": 100,
    "train.sample_grid": 4,
}


def train_progressive(run: Path, steps: int, resume: bool = False):
    from spritegan.data.dataset import open_dataset
    from spritegan.train.loop import fit_model_to_data, train

    cfg = build_config("stylegan", {**TINY_RUN, "train.steps": steps})
    ds = open_dataset(cfg.data.source)
    fit_model_to_data(cfg, ds, conditional=False)
    return train(cfg, ds, run, resume=resume, progress=False)


def rows(run: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(open(run / "metrics.csv")))


def test_resume_mid_fade_continues_the_same_run(tmp_path) -> None:
    train_progressive(tmp_path / "straight", steps=6)
    train_progressive(tmp_path / "resumed", steps=3)  # checkpoint at step 3: 24 images, mid-fade of 8x8
    train_progressive(tmp_path / "resumed", steps=6, resume=True)
    a = load_file(tmp_path / "straight" / "checkpoints" / "step-000006.safetensors")
    b = load_file(tmp_path / "resumed" / "checkpoints" / "step-000006.safetensors")
    for key in a:
        assert torch.equal(a[key], b[key]), key
    straight, resumed = rows(tmp_path / "straight"), rows(tmp_path / "resumed")
    sequence = [(int(r["resolution"]), float(r["alpha"])) for r in resumed]
    # 32x32 sprites grow 4 -> 8 -> 16 -> 32; the state of each step is that of the images before it
    assert sequence == [(4, 1.0), (8, 0.0), (8, 0.25), (8, 0.5), (8, 0.75), (8, 1.0)]
    assert [(r["resolution"], r["alpha"], r["loss_d"]) for r in straight] == [
        (r["resolution"], r["alpha"], r["loss_d"]) for r in resumed
    ]
    assert all(np.isfinite(float(r[k])) for r in resumed for k in ("loss_d", "loss_g"))


def test_generation_and_onnx_use_the_state_the_run_stopped_at(tmp_path) -> None:
    train_progressive(tmp_path / "run", steps=4)  # stopped mid-fade of 8x8 (alpha 0.5 at its last step)
    pipe = SpritePipeline.from_run(tmp_path / "run")
    assert pipe.generator.current_growth() == Growth(1, 0.5)
    sprites = pipe(n=3)
    assert sprites.shape == (3, 4, 32, 32)
    ort = pytest.importorskip("onnxruntime")
    from spritegan.export.onnx import export_onnx

    export_onnx(tmp_path / "run", tmp_path / "g.onnx")
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    seeds = [0, 1, 2]
    feeds = {"z": pipe.latents(seeds).numpy(), "truncation": np.array([1.0], np.float32)}
    names = {i.name for i in sess.get_inputs()}  # a StyleGAN graph traced at psi 1 keeps no truncation input
    out = sess.run(["sprites"], {k: v for k, v in feeds.items() if k in names})[0]
    ref = pipe(seeds).permute(0, 2, 3, 1).numpy()
    assert out.shape == ref.shape and (out != ref).mean() <= 0.005
