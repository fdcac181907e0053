"""Palette-exact generator heads: exact colours by construction, straight-through gradients, k-means palettes."""

from __future__ import annotations

import math

import pytest
import torch

from spritegan.config import ModelConfig
from spritegan.data.palette import dataset_palette, exact_palette, kmeans_palette
from spritegan.generate.pipeline import SpritePipeline
from spritegan.models import build_generator
from spritegan.models.palette_head import PaletteHead, SnapHead
from spritegan.tensors import to_uint8

PALETTE = torch.tensor(
    [[0, 0, 0, 0], [255, 0, 0, 255], [10, 200, 30, 128], [7, 7, 7, 255]], dtype=torch.uint8
)


def _head(embed: int = 6) -> PaletteHead:
    torch.manual_seed(0)
    head = PaletteHead(embed, len(PALETTE), 4, temperature=1.0)
    head.set_palette(PALETTE)
    return head


def _colours(images_uint8: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(p) for p in images_uint8.permute(0, 2, 3, 1).reshape(-1, images_uint8.shape[1]).tolist()}


def test_argmax_output_is_exactly_palette_colours():
    head = _head()
    with torch.no_grad():
        out = head(torch.randn(5, 6, 7, 9) * 3)
    assert out.shape == (5, 4, 7, 9)
    assert _colours(to_uint8(out)) <= {tuple(p) for p in PALETTE.tolist()}


def test_forward_value_is_hard_and_gradient_is_the_softmax_mixture():
    head = _head()
    f = torch.randn(2, 6, 3, 3, requires_grad=True)
    out = head(f)
    with torch.no_grad():
        hard = head(f)
    assert torch.equal(out.detach(), hard)  # straight-through: the value is the hard colour, exactly
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    f2 = f.detach().clone().requires_grad_(True)
    probs = torch.softmax(head.logits(f2), dim=1)
    soft = torch.einsum("nkhw,kc->nchw", probs, head.palette)
    (soft * weights).sum().backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    assert torch.allclose(f.grad, f2.grad, rtol=1e-4, atol=1e-4)
    assert 0.0 < float(head.confidence) <= 1.0


@pytest.mark.parametrize("keep_bytes", [64 << 20, 0])  # probabilities kept for the backward, or recomputed
def test_mixture_training_outputs_the_softmax_mixture_and_samples_stay_exact(monkeypatch, keep_bytes):
    from spritegan.models import palette_head

    monkeypatch.setattr(palette_head, "KEEP_PROBS_BYTES", keep_bytes)
    monkeypatch.setattr(palette_head, "CPU_ROWS", 7)  # several blocks, the last one partial
    head = _head()
    head.soft_training = True
    f = torch.randn(2, 6, 5, 3) * 2
    f.requires_grad_(True)
    head.train()
    out = head(f)
    probs = torch.softmax(head.logits(f), dim=1)
    soft = torch.einsum("nkhw,kc->nchw", probs, head.palette)
    assert torch.allclose(out, soft, atol=1e-6)  # D sees the mixture, unsure pixels included
    w = torch.randn_like(out)
    got = torch.autograd.grad((out * w).sum(), f)[0]
    want = torch.autograd.grad((soft * w).sum(), f)[0]
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-5)
    head.eval()  # sampling (G_ema, generate, export) is the argmax whatever the training output was
    with torch.no_grad():
        sampled = head(f)
    assert _colours(to_uint8(sampled)) <= {tuple(p) for p in PALETTE.tolist()}
    assert not torch.allclose(sampled, out.detach())


def test_logits_are_negative_scaled_distances_to_the_keys():
    head = _head(embed=4)
    f = torch.randn(1, 4, 2, 2)
    scale = head.log_scale.exp()
    dist = ((f.permute(0, 2, 3, 1)[..., None, :] - head.keys) ** 2).sum(-1)  # (1, 2, 2, K)
    expected = (-scale * dist + head.bias).permute(0, 3, 1, 2)
    got = head.logits(f)
    # equal up to the per-pixel constant -scale * ||f||^2, which the softmax and the argmax ignore
    assert torch.allclose(torch.softmax(got, 1), torch.softmax(expected, 1), atol=1e-5)


def test_initial_head_picks_the_nearest_colour_of_the_first_channels():
    head = _head(embed=4)
    with torch.no_grad():
        head.keys[:, 4:] = 0
    target = PALETTE[2].float().div(127.5).sub(1.0)
    f = (target + 0.01)[None, :, None, None].expand(1, 4, 2, 2).contiguous()
    with torch.no_grad():
        out = to_uint8(head(f))
    assert _colours(out) == {tuple(PALETTE[2].tolist())}


def test_snap_head_moves_to_nearest_colour_with_identity_gradient():
    head = SnapHead(len(PALETTE), 4)
    head.set_palette(PALETTE)
    x = (PALETTE[1].float().div(127.5).sub(1.0) + 0.05)[None, :, None, None].repeat(1, 1, 2, 2)
    x.requires_grad_(True)
    out = head(x)
    assert _colours(to_uint8(out)) == {tuple(PALETTE[1].tolist())}
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_kmeans_palette_is_deterministic_and_keeps_transparency():
    gen = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (20, 4, 8, 8), generator=gen, dtype=torch.uint8)
    images[:, 3] = torch.where(images[:, 3] > 128, 255, 0).to(torch.uint8)
    images[:, :3] *= (images[:, 3:] > 0).to(torch.uint8)
    a = kmeans_palette(images, 16, seed=3)
    b = kmeans_palette(images, 16, seed=3)
    assert torch.equal(a, b)
    assert len(a) <= 16 and a.shape[1] == 4
    assert a[0].tolist() == [0, 0, 0, 0]
    assert (a[1:, 3] > 0).all()


def test_kmeans_finds_well_separated_colours_exactly():
    colours = torch.tensor([[0, 0, 0], [255, 255, 255], [200, 10, 10]], dtype=torch.uint8)
    idx = torch.arange(3 * 64).remainder(3)
    images = colours[idx].reshape(3, 8, 8, 3).permute(0, 3, 1, 2)
    pal = kmeans_palette(images.repeat(2, 1, 1, 1), 3, seed=0)
    assert {tuple(p) for p in pal.tolist()} == {tuple(c) for c in colours.tolist()}


def test_exact_palette_from_manifest_rows():
    rows = [[1, 2, 3, 255], [4, 5, 6, 128]]
    assert exact_palette(rows, 4, transparent=True).tolist() == [[0, 0, 0, 0], [1, 2, 3, 255], [4, 5, 6, 128]]
    assert exact_palette(rows, 3, transparent=False).tolist() == [[1, 2, 3], [4, 5, 6]]
    assert exact_palette([[9, 9, 9, 255]], 1, transparent=False).tolist() == [[9]]
    images = torch.zeros(2, 4, 4, 4, dtype=torch.uint8)
    pal, exact = dataset_palette({"palette": rows, "alpha_levels": [0, 128, 255]}, images, 8)
    assert exact and len(pal) == 3


def _model_config(arch: str, head: str = "palette") -> ModelConfig:
    return ModelConfig(
        arch=arch,
        image_size=[12, 20],
        channels=4,
        z_dim=8,
        g_width=8,
        d_width=8,
        max_channels=16,
        w_dim=8,
        mapping_layers=1,
        head=head,
        palette_colors=len(PALETTE),
        palette_embed=5,
    )


def test_every_architecture_samples_only_palette_colours_through_the_pipeline():
    allowed = {tuple(p) for p in PALETTE.tolist()}
    for arch in ("dcgan", "mlp", "stylegan"):
        for head in ("palette", "snap"):
            cfg = _model_config(arch, head)
            torch.manual_seed(0)
            G = build_generator(cfg)
            G.set_palette(PALETTE)
            meta = {"model_config": cfg.__dict__, "manifest": {"alpha_levels": [0, 128, 255]}}
            pipe = SpritePipeline(G, meta)
            images = pipe(n=6, seed=0)
            assert images.shape == (6, 4, 12, 20), (arch, head)
            assert _colours(images) <= allowed, (arch, head)
            assert torch.equal(images, pipe(n=6, seed=0))


def test_stylegan_palette_generator_keeps_w_space_tools():
    cfg = _model_config("stylegan")
    G = build_generator(cfg)
    G.set_palette(PALETTE)
    G.eval()
    z = torch.randn(2, 8)
    with torch.no_grad():
        ws = G.ws_from_z(z)
        assert ws.shape == (2, G.num_ws, 8)
        assert torch.equal(G.synthesis(ws), G(z))
    assert G.supports_truncation


def test_rgb_head_state_dict_is_unchanged():
    cfg = _model_config("dcgan", head="rgb")
    keys = set(build_generator(cfg).state_dict())
    assert not any(k.startswith(("body.", "head.")) for k in keys)


def test_onnx_export_keeps_palette_exact_output(tmp_path):
    import numpy as np

    ort = pytest.importorskip("onnxruntime")
    from spritegan.export.onnx import export_onnx
    from spritegan.storage import save_generator

    cfg = _model_config("dcgan")
    torch.manual_seed(0)
    G = build_generator(cfg)
    G.set_palette(PALETTE)
    manifest = {"alpha_levels": [0, 128, 255], "channels": 4, "mode": "RGBA", "size": [12, 20]}
    run = tmp_path / "run"
    save_generator(run / "generator.safetensors", G, {"model_config": cfg.__dict__, "manifest": manifest})
    export_onnx(run, tmp_path / "g.onnx")
    pipe = SpritePipeline.from_run(run)
    seeds = list(range(9))
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"z": pipe.latents(seeds).numpy(), "truncation": np.array([1.0], np.float32)}
    out = torch.from_numpy(sess.run(["sprites"], feeds)[0]).permute(0, 3, 1, 2)
    assert _colours(out) <= {tuple(p) for p in PALETTE.tolist()}
    assert (out != pipe(seeds)).float().mean() < 0.01


def test_key_scale_and_bias_gradients_match_autograd_of_the_mixture():
    head = _head()
    f = torch.randn(2, 6, 3, 3)
    w = torch.randn(2, 4, 3, 3)
    (head(f) * w).sum().backward()
    fused = [p.grad.clone() for p in (head.keys, head.bias, head.log_scale)]
    head.zero_grad()
    probs = torch.softmax(head.logits(f), dim=1)
    (torch.einsum("nkhw,kc->nchw", probs, head.palette) * w).sum().backward()
    for got, want in zip(fused, (head.keys.grad, head.bias.grad, head.log_scale.grad), strict=True):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-4)


def test_quantisation_loss_is_zero_on_palette_data_and_exact_on_a_known_case():
    from spritegan.data.palette import quantisation_loss, quantise

    palette = torch.tensor([[0, 0, 0, 0], [10, 20, 30, 255], [200, 100, 50, 255]], dtype=torch.uint8)
    rows = torch.randint(0, 3, (6, 8, 8), generator=torch.Generator().manual_seed(0))
    images = palette[rows].permute(0, 3, 1, 2).contiguous()
    assert torch.equal(quantise(images, palette), images)
    assert quantisation_loss(images, palette) == {
        "rgb_mae": 0.0,
        "alpha_levels": 2.0,
        "alpha_levels_after": 2.0,
    }
    # every visible pixel 4 levels off in each channel, and half of them at a soft alpha of 230
    shifted = images.clone()
    visible = shifted[:, 3] == 255
    shifted[:, :3] += 4 * visible[:, None].to(torch.uint8)
    shifted[:, 3, :, ::2] = torch.where(visible[:, :, ::2], 230, 0).to(torch.uint8)
    loss = quantisation_loss(shifted, palette)
    assert loss["rgb_mae"] == 4.0
    assert (loss["alpha_levels"], loss["alpha_levels_after"]) == (3.0, 2.0)


def test_painted_data_note_says_what_the_kmeans_palette_costs():
    from types import SimpleNamespace

    from spritegan.config import build_config
    from spritegan.train.loop import fit_model_to_data

    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 4, 8, 8), dtype=torch.uint8, generator=gen)  # ~1,000 colours
    images[:, 3] = torch.randint(1, 256, (16, 8, 8), dtype=torch.uint8, generator=gen)  # soft alpha
    data = SimpleNamespace(images=images, manifest={"alpha_levels": None}, labels=None)
    overrides = {"model.head": "palette", "model.palette_kmeans": 8, "model.palette_despeckle": 0}
    overrides["model.head_painted"] = "palette"  # the preset's painted art default is the RGB head
    cfg = build_config("sprite", overrides)  # speck removal off: its own note is tested elsewhere
    (note,) = fit_model_to_data(cfg, data, conditional=False)
    assert cfg.model.palette_colors == 8
    assert "8-colour k-means palette" in note and "per channel on average" in note
    assert "alpha levels become" in note and "model.head=rgb" in note


def test_agreeing_choice_flips_an_unsure_lone_pixel_and_keeps_a_confident_one():
    from spritegan.models.palette_head import agreeing_choice

    logits = torch.zeros(1, 2, 3, 3)
    logits[0, 0] = 1.0
    logits[0, 1, 1, 1] = 1.5  # centre prefers colour 1 by a log-probability margin of 0.5
    assert agreeing_choice(logits, 0.0)[0, 1, 1] == 1  # strength 0: the plain argmax
    assert agreeing_choice(logits, 0.05)[0, 1, 1] == 1  # 4 x 0.05 = 0.2 < 0.5: kept
    flipped = agreeing_choice(logits, 0.5)  # 4 x 0.5 = 2.0 > 0.5: joins its neighbours
    assert torch.equal(flipped, torch.zeros(1, 3, 3, dtype=torch.long))


def test_agreeing_choice_keeps_a_confident_outline_and_is_the_argmax_where_all_agree():
    from spritegan.models.palette_head import agreeing_choice

    torch.manual_seed(0)
    logits = torch.randn(2, 5, 8, 8)
    logits[:, 3, :, 4] = 20.0  # a one-pixel vertical line the head is sure of
    index = agreeing_choice(logits, 0.5, steps=3)
    assert (index[:, :, 4] == 3).all()
    flat = torch.zeros(1, 5, 4, 4)
    flat[:, 2] = 3.0
    assert (agreeing_choice(flat, 1.0) == 2).all()


def test_head_with_agreement_samples_palette_colours_and_trains_unchanged():
    head = _head()
    f = torch.randn(3, 6, 7, 9) * 0.3  # features the head is unsure of: small margins between colours
    with torch.no_grad():
        plain = head(f)
    head.agree = 2.0
    with torch.no_grad():
        agreed = head(f)
        index = agreeing_choice_of(head, f)
    assert _colours(to_uint8(agreed)) <= {tuple(p) for p in PALETTE.tolist()}
    assert torch.equal(agreed, head.palette[index].permute(0, 3, 1, 2))
    assert not torch.equal(agreed, plain)
    g = f.clone().requires_grad_(True)
    assert torch.equal(head(g).detach(), plain)  # training keeps the per-pixel choice


def agreeing_choice_of(head: PaletteHead, f: torch.Tensor) -> torch.Tensor:
    from spritegan.models.palette_head import agreeing_choice

    return agreeing_choice(head.logits(f), head.agree, head.agree_steps)


def test_sprite_prior_starts_as_the_plain_head_and_learns_a_per_sprite_shift():
    torch.manual_seed(0)
    plain = PaletteHead(6, len(PALETTE), 4, soft_training=True)
    plain.set_palette(PALETTE)
    torch.manual_seed(0)
    prior = PaletteHead(6, len(PALETTE), 4, soft_training=True, sprite_prior=3)
    prior.set_palette(PALETTE)
    prior.keys.data.copy_(plain.keys.data)
    f = torch.randn(2, 6, 4, 5)
    # the prior's last layer starts at zero, so its extra columns add nothing: equal up to the matmul's
    # summation order, which differs with the number of columns on some CPUs (AVX2: last digits)
    assert float(prior.prior.mlp[2].weight.abs().sum() + prior.prior.mlp[2].bias.abs().sum()) == 0
    assert torch.allclose(prior.logits(f), plain.logits(f), rtol=1e-6, atol=1e-5)
    f.requires_grad_(True)
    prior.train()
    prior(f).square().sum().backward()
    assert prior.prior.mlp[2].weight.grad.abs().sum() > 0  # it can learn
    with torch.no_grad():
        prior.prior.mlp[2].bias.copy_(torch.tensor([1.0, -2.0, 0.5]))
        shift = prior.logits(f) - plain.logits(f)
    expected = prior.prior.weight @ torch.tensor([1.0, -2.0, 0.5])  # V u, the same at every pixel
    assert torch.allclose(shift, expected.view(1, -1, 1, 1).expand_as(shift), atol=1e-5)


def _unsure_run(cfg: ModelConfig, run):
    """A run folder holding an untrained palette G made unsure and varied in its colour choice (an untrained
    G draws flat images), so sampling options have pixels to change."""
    from spritegan.storage import save_generator

    torch.manual_seed(0)
    G = build_generator(cfg)
    G.set_palette(PALETTE)
    with torch.no_grad():
        for p in G.body.parameters():
            p.add_(torch.randn_like(p) * 0.2)
        G.head.log_scale.fill_(0.0)
    manifest = {"alpha_levels": [0, 128, 255], "channels": 4, "mode": "RGBA", "size": [12, 20]}
    save_generator(run / "generator.safetensors", G, {"model_config": cfg.__dict__, "manifest": manifest})
    return run


def test_onnx_export_keeps_the_neighbour_agreement(tmp_path):
    import json

    import numpy as np
    from PIL import Image

    ort = pytest.importorskip("onnxruntime")
    from spritegan.export.onnx import export_onnx

    cfg = _model_config("dcgan")
    cfg.palette_agree = 1.0
    run = _unsure_run(cfg, tmp_path / "run")
    export_onnx(run, tmp_path / "g.onnx")
    pipe = SpritePipeline.from_run(run)
    plain = SpritePipeline.from_run(run, agree=0.0)
    seeds = list(range(9))
    assert not torch.equal(pipe(seeds), plain(seeds))  # the agreement changes some pixels here
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"z": pipe.latents(seeds).numpy(), "truncation": np.array([1.0], np.float32)}
    out = torch.from_numpy(sess.run(["sprites"], feeds)[0]).permute(0, 3, 1, 2)
    assert _colours(out) <= {tuple(p) for p in PALETTE.tolist()}
    assert (out != pipe(seeds)).float().mean() < 0.01
    from spritegan.cli import main
    from spritegan.errors import SpriteganError

    assert main(["generate", str(run), "--seeds", "0,1", "--agree", "0", "--out", str(tmp_path / "g")]) == 0
    written = torch.from_numpy(np.array(Image.open(tmp_path / "g" / "seed000001.png"))).permute(2, 0, 1)
    assert torch.equal(written, plain([1])[0])
    assert json.loads((tmp_path / "g" / "generation.json").read_text())["palette_agree"] == 0.0
    with pytest.raises(SpriteganError, match="--agree"):
        SpritePipeline.from_run(run, agree=-1.0)


def test_agreeing_choice_on_tiles_wraps_around_the_edges():
    from spritegan.models.palette_head import agreeing_choice

    torch.manual_seed(1)
    logits = torch.randn(3, 4, 6, 7) * 0.5
    base = agreeing_choice(logits, 1.0, wrap=True)
    rolled = agreeing_choice(logits.roll((2, 3), (2, 3)), 1.0, wrap=True)
    assert torch.equal(rolled, base.roll((2, 3), (1, 2)))  # a torus: no edge is special
    assert not torch.equal(
        agreeing_choice(logits.roll((2, 3), (2, 3)), 1.0), agreeing_choice(logits, 1.0).roll((2, 3), (1, 2))
    )


def test_identity_codes_are_fixed_distinct_and_scaled():
    from spritegan.models.palette_head import identity_codes

    codes = identity_codes(48, 16)
    assert codes.shape == (48, 16) and torch.equal(codes, identity_codes(48, 16))
    assert torch.allclose(codes.norm(dim=1), torch.full((48,), 2.0))  # 0.5 * sqrt(16)
    gaps = torch.cdist(codes, codes) + torch.eye(48) * 99
    assert gaps.min() > 0.5  # every two colours are apart, however close their RGB values are
    assert identity_codes(5, 0).shape == (5, 0)


def test_training_output_carries_the_chosen_colours_codes_and_sampling_does_not():
    torch.manual_seed(0)
    head = PaletteHead(6, len(PALETTE), 4, identity=3, soft_training=False)
    head.set_palette(PALETTE)
    f = (torch.randn(2, 6, 5, 4) * 3).requires_grad_(True)
    out = head(f)
    assert out.shape == (2, 7, 5, 4)
    chosen = head.logits(f.detach()).argmax(1)  # (N, H, W)
    assert torch.equal(out[:, 4:].detach(), head.identity[chosen].permute(0, 3, 1, 2))
    assert torch.equal(out[:, :4].detach(), head.palette[chosen].permute(0, 3, 1, 2))
    out[:, 4:].sum().backward()  # the codes pass the straight-through gradient to G's features
    assert f.grad is not None and f.grad.abs().sum() > 0
    with torch.no_grad():
        assert head.eval()(f).shape == (2, 4, 5, 4)  # samples: colours only
    assert "identity" not in head.state_dict()  # rebuilt from the sizes, never saved


def test_real_images_get_the_codes_of_their_exact_colours():
    head = PaletteHead(6, len(PALETTE), 4, identity=3)
    head.set_palette(PALETTE)
    index = torch.tensor([[[0, 1], [3, 2]]])  # (1, 2, 2)
    real = PALETTE[index].permute(0, 3, 1, 2).float().div(127.5).sub(1)
    seen = head.identity_channels(real)
    assert seen.shape == (1, 7, 2, 2) and torch.equal(seen[:, :4], real)
    assert torch.allclose(seen[:, 4:], head.identity[index].permute(0, 3, 1, 2))
    assert PaletteHead(6, len(PALETTE), 4).identity_channels(real) is real  # off: unchanged


def test_learned_colours_are_looked_up_exactly_and_unseen_ones_measured():
    from spritegan.models.palette_head import nearest_colours

    head = PaletteHead(6, len(PALETTE), 4, identity=3)
    head.set_palette(PALETTE)
    # the data: every palette colour plus one off-palette colour, which maps to its nearest entry
    data = torch.cat([PALETTE, torch.tensor([[250, 5, 5, 250]], dtype=torch.uint8)])
    images = data[torch.tensor([[[0, 1, 2], [3, 4, 1]]])].permute(0, 3, 1, 2)  # (1, 4, 2, 3) uint8
    real = images.float().div(127.5).sub(1)
    before = head.identity_channels(real)
    head.learn_colours(images)
    assert torch.equal(head.identity_channels(real), before)
    assert torch.equal(head._lookup.index(real, head.palette), nearest_colours(real, head.palette))
    assert int(head._lookup.index(real, head.palette)[0, 1, 1]) == 1  # (250, 5, 5, 250) -> red
    # colours never seen (a shifted image, as after colour augmentation) take the measured path
    shifted = (real + 0.013).clamp(-1, 1)
    assert torch.equal(head._lookup.index(shifted, head.palette), nearest_colours(shifted, head.palette))
    # a palette loaded later (a resumed run) is picked up, not the one first looked up with
    swapped = PALETTE[[3, 2, 1, 0]]
    head.set_palette(swapped)
    assert torch.equal(head._lookup.index(real, head.palette), nearest_colours(real, head.palette))


def test_a_run_with_colour_codes_trains_and_its_d_reads_them(tmp_path):
    from spritegan.cli import main
    from spritegan.train.checkpoint import load_checkpoint

    argv = ["train", "--data", "builtin:sprites:32", "--steps", "2", "--no-progress", "--out"]
    small = [
        "--set",
        "train.batch_size=8",
        "--set",
        "train.sample_grid=4",
        "--set",
        "model.palette_identity=5",
    ]
    assert main(argv + [str(tmp_path / "run")] + small) == 0
    pipe = SpritePipeline.from_run(tmp_path / "run")
    assert pipe(n=2).shape == (2, 4, 32, 32)
    state = load_checkpoint(next((tmp_path / "run" / "checkpoints").glob("*.safetensors")))["modules"]["D"]
    first = [v for k, v in state.items() if v.dim() == 4][0]
    assert first.shape[1] == 4 + 5
    assert main(argv + [str(tmp_path / "c")] + small + ["--set", "train.diffaug=color,translation"]) == 0


def test_colour_augmentation_leaves_the_colour_codes_alone():
    from spritegan.data.augment import diff_augment

    x = torch.rand(3, 4 + 5, 8, 8) * 2 - 1
    out = diff_augment(x, "color", torch.Generator().manual_seed(0), image_channels=4)
    assert torch.equal(out[:, 4:], x[:, 4:]) and not torch.equal(out[:, :4], x[:, :4])
    moved = diff_augment(x, "translation", torch.Generator().manual_seed(1), image_channels=4)
    again = diff_augment(x[:, :4], "translation", torch.Generator().manual_seed(1))
    assert torch.equal(moved[:, :4], again)  # spatial policies move the codes with their pixels


def test_capped_logits_keep_each_images_most_used_colours_and_move_the_rest_to_their_best_kept():
    from spritegan.models.palette_head import capped_logits

    logits = torch.zeros(2, 4, 3, 3)
    logits[0, 0] = 2.0  # image 0: colour 0 everywhere ...
    logits[0, 1, 0, :] = 3.0  # ... but colour 1 in the top row (3 pixels)
    logits[0, 2, 2, 2] = 5.0  # ... and colour 2 in one corner, where colour 3 is its second choice
    logits[0, 3, 2, 2] = 4.0
    logits[1, 3] = 1.0  # image 1: colour 3 only
    capped = capped_logits(logits, 2)
    assert torch.equal(capped.argmax(1)[1], torch.full((3, 3), 3))  # one colour used: unchanged
    index = capped.argmax(1)[0]
    assert (index[0] == 1).all() and index[2, 2] == 0 and (index[1] == 0).all()  # the corner joins colour 0
    assert torch.isinf(capped[0, 2]).all() and torch.isinf(capped[0, 3]).all()
    assert torch.equal(capped_logits(logits, 3).argmax(1)[0, 2, 2], torch.tensor(2))  # 3 kept: unchanged
    assert capped_logits(logits, 0) is logits and capped_logits(logits, 4) is logits
    chosen = torch.tensor([[3, 3, 0], [0, 1, 2]])  # colours 3 and 0 two pixels each, 1 and 2 one each
    tied = torch.nn.functional.one_hot(chosen, 4).permute(2, 0, 1)[None].float() * 2.0
    tied[0, 0] += 1.0  # colour 0 the second choice everywhere else
    assert capped_logits(tied, 3).argmax(1).tolist() == [
        [[3, 3, 0], [0, 1, 0]]
    ]  # the tie of 1 and 2 goes to 1


def test_most_colours_per_image_counts_every_transparent_pixel_as_one_colour():
    from spritegan.data.palette import most_colours_per_image

    images = torch.zeros(3, 4, 4, 4, dtype=torch.uint8)
    images[0, :3] = torch.arange(16, dtype=torch.uint8).view(4, 4)  # 16 RGBs under alpha 0: one colour
    images[1, 3] = 255
    images[1, 0, 0, :] = torch.tensor([1, 2, 3, 4], dtype=torch.uint8)  # opaque: 4 new colours + black
    images[2, 3, 0, 0] = 255  # one opaque black pixel on clear
    assert most_colours_per_image(images) == 5
    assert most_colours_per_image(images[[0, 2]], chunk=1) == 2
    rgb = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    rgb[0, 1, 0, 0] = 9
    assert most_colours_per_image(rgb) == 2


def test_a_capped_run_samples_few_colours_per_sprite_in_cli_pipeline_and_onnx(tmp_path, capsys):
    import json

    import numpy as np
    from PIL import Image

    from spritegan.cli import main
    from spritegan.errors import SpriteganError

    cfg = _model_config("dcgan")
    cfg.palette_max_colours = 2
    run = _unsure_run(cfg, tmp_path / "run")
    seeds = list(range(9))
    capped, free = SpritePipeline.from_run(run)(seeds), SpritePipeline.from_run(run, max_colours=0)(seeds)
    assert max(len(_colours(free[i : i + 1])) for i in range(9)) > 2  # the cap has work to do here
    assert all(len(_colours(capped[i : i + 1])) <= 2 for i in range(9))
    assert SpritePipeline.from_run(run).sampling_record["palette_max_colours"] == 2
    with pytest.raises(SpriteganError, match="--max-colours -1"):
        SpritePipeline.from_run(run, max_colours=-1)
    out = tmp_path / "g"
    assert main(["generate", str(run), "--seeds", "0,1", "--max-colours", "0", "--out", str(out)]) == 0
    written = torch.from_numpy(np.array(Image.open(out / "seed000001.png"))).permute(2, 0, 1)
    assert torch.equal(written, free[1])
    assert json.loads((out / "generation.json").read_text())["palette_max_colours"] == 0

    ort = pytest.importorskip("onnxruntime")
    from spritegan.export.onnx import export_onnx

    export_onnx(run, tmp_path / "g.onnx")
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    pipe = SpritePipeline.from_run(run)
    feeds = {"z": pipe.latents(seeds).numpy(), "truncation": np.array([1.0], np.float32)}
    onnx_out = torch.from_numpy(sess.run(["sprites"], feeds)[0]).permute(0, 3, 1, 2)
    assert torch.equal(onnx_out, capped)


def test_training_caps_colours_per_sprite_at_the_datas_most_and_not_for_a_kmeans_palette():
    from spritegan.config import build_config
    from spritegan.data.dataset import open_dataset
    from spritegan.train.loop import fit_colour_cap

    images = open_dataset("builtin:sprites:256").images
    cfg = build_config("sprite", {})
    cfg.model.palette_colors = 48
    notes = fit_colour_cap(cfg.model, images, exact=True)
    assert cfg.model.palette_max_colours == 16 and "at most 16 colours" in notes[0]
    cfg.model.palette_max_colours = -1
    assert fit_colour_cap(cfg.model, images, exact=False) == [] and cfg.model.palette_max_colours == 0
    cfg.model.palette_max_colours, cfg.model.palette_colors = -1, 16  # the data's most is the whole palette
    assert fit_colour_cap(cfg.model, images, exact=True) == [] and cfg.model.palette_max_colours == 0


def test_d_sees_painted_reals_quantised_to_the_kmeans_palette_and_resume_keeps_them(tmp_path):
    """model.palette_quantise_reals: with a k-means palette, D's reals are the images moved to their nearest
    palette colours (so G is not asked for shades it cannot draw); the run's evaluation still uses the images
    as they are, and a resumed run quantises the same way with the palette it loads. Off by default."""
    from types import SimpleNamespace

    from spritegan.config import build_config
    from spritegan.data.palette import quantise
    from spritegan.train.loop import Trainer, fit_model_to_data

    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 4, 8, 8), dtype=torch.uint8, generator=gen)  # ~1,000 colours
    data = SimpleNamespace(images=images, manifest={"alpha_levels": None}, labels=None)
    small = {"model.g_width": 8, "model.d_width": 8, "model.max_channels": 16, "train.batch_size": 8}
    over = {**small, "train.device": "cpu", "model.palette_kmeans": 8, "model.palette_despeckle": 0}
    over["model.head_painted"] = "palette"
    cfg = build_config("sprite", {**over, "model.palette_quantise_reals": True})
    (note,) = fit_model_to_data(cfg, data, conditional=False)
    assert "D sees the real images quantised to it" in note
    trainer = Trainer(cfg, data, tmp_path / "run")
    palette = trainer.G.palette_uint8()
    assert torch.equal(palette, dataset_palette({}, images, 8)[0])
    assert _colours(trainer.images) <= {tuple(p) for p in palette.tolist()}
    assert torch.equal(trainer.images, quantise(images, palette)) and trainer.dataset.images is images
    assert len(_colours(trainer.images)) <= 8 < len(_colours(images))
    trainer.train_step()
    trainer.save()
    resumed = Trainer(cfg, data, tmp_path / "run", resume=True)
    assert torch.equal(resumed.images, trainer.images)

    kept = build_config("sprite", over)
    assert not kept.model.palette_quantise_reals
    fit_model_to_data(kept, data, conditional=False)
    assert Trainer(kept, data, tmp_path / "kept").images is images


def test_sprite_preset_draws_painted_art_in_full_colour_and_pixel_art_from_its_palette():
    """model.head_painted=rgb (the sprite preset's): data with more than 256 colours trains the RGB head, with
    a note; data with an exact palette keeps the palette head; head_painted=palette keeps it for both."""
    from types import SimpleNamespace

    from spritegan.config import build_config
    from spritegan.models import build_generator
    from spritegan.train.loop import fit_model_to_data

    images = torch.randint(
        0, 256, (16, 4, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    painted = SimpleNamespace(images=images, manifest={"alpha_levels": None}, labels=None)
    cfg = build_config("sprite", {"model.palette_despeckle": 0})
    notes = fit_model_to_data(cfg, painted, conditional=False)
    assert cfg.model.head == "rgb" and cfg.model.palette_colors == 0
    assert len(notes) == 1 and "RGB head" in notes[0] and "model.head_painted=palette" in notes[0]
    with torch.no_grad():
        out = build_generator(cfg.model).eval()(torch.randn(3, cfg.model.z_dim))
    assert out.shape == (3, 4, 8, 8)

    pixel_art = SimpleNamespace(
        images=images, manifest={"alpha_levels": None, "palette": PALETTE.tolist()}, labels=None
    )
    exact = build_config("sprite", {"model.palette_despeckle": 0})
    fit_model_to_data(exact, pixel_art, conditional=False)
    assert exact.model.head == "palette" and exact.model.palette_colors == len(PALETTE)

    kept = build_config("sprite", {"model.palette_despeckle": 0, "model.head_painted": "palette"})
    fit_model_to_data(kept, painted, conditional=False)
    assert kept.model.head == "palette" and kept.model.palette_colors == 64


def test_colour_shares_count_each_pixel_at_its_nearest_palette_colour() -> None:
    from spritegan.models.palette_head import colour_shares

    head = _head()
    image = torch.zeros(1, 4, 2, 4, dtype=torch.uint8)  # 8 pixels: 5 clear, 2 red, 1 near-black
    image[0, :, 0, 0] = torch.tensor([255, 0, 0, 255])
    image[0, :, 1, 3] = torch.tensor([250, 3, 0, 255])  # nearest: red
    image[0, :, 1, 1] = torch.tensor([7, 7, 7, 255])
    shares = colour_shares(torch.cat([image, image]), head.palette)
    assert torch.allclose(shares, torch.tensor([5 / 8, 2 / 8, 0.0, 1 / 8]))


def test_colour_usage_is_the_mean_softmax_over_strided_rows_that_reach_every_column() -> None:
    from spritegan.models.palette_head import USAGE_ROWS, colour_usage

    head = _head()
    weight, bias = head._affine()
    width = 32
    pixels = torch.randn(4 * USAGE_ROWS, 6)  # stride 4 shares a factor with 32: it becomes 5
    usage = colour_usage(pixels, weight, bias, 1.0, width)
    expected = torch.softmax(torch.addmm(bias, pixels[::5], weight.t()), 1).mean(0)
    assert torch.allclose(usage, expected, atol=1e-6)
    assert math.isclose(float(usage.detach().sum()), 1.0, rel_tol=1e-5)
    assert {i % width for i in range(0, len(pixels), 5)} == set(range(width))
    small = pixels[:100]  # under USAGE_ROWS rows: all of them
    assert torch.allclose(
        colour_usage(small, weight, bias, 2.0, width),
        torch.softmax((small @ weight.t() + bias) / 2, 1).mean(0),
        atol=1e-6,
    )
