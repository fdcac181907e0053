"""The palette-swap head: per image a few palette colours (slots), per pixel one slot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spritegan.config import ModelConfig
from spritegan.errors import SpriteganError
from spritegan.models import build_generator
from spritegan.models.swap_head import SwapPaletteHead, slot_colours

PALETTE = torch.tensor(
    [[0, 0, 0, 0], [20, 20, 20, 255], [250, 10, 10, 255], [10, 250, 10, 255], [10, 10, 250, 255]],
    dtype=torch.uint8,
)


LATENT = 5


def _head(slots: int = 3, **kwargs) -> SwapPaletteHead:
    torch.manual_seed(0)
    head = SwapPaletteHead(6, len(PALETTE), 4, slots, latent_dim=LATENT, **kwargs)
    head.set_palette(PALETTE)
    return head


def _as_uint8(images: torch.Tensor) -> torch.Tensor:
    return images.add(1).mul(127.5).round().to(torch.uint8)


def test_sampled_pixels_are_palette_colours_and_at_most_slots_per_image():
    head = _head(slots=2).eval()
    with torch.no_grad():
        head.table[2].weight.normal_(0, 3)  # slots take different colours in different images
        out = head(torch.randn(8, 6, 10, 12), torch.randn(8, LATENT))
    pixels = _as_uint8(out).permute(0, 2, 3, 1)
    palette = {tuple(c) for c in PALETTE.tolist()}
    assert {tuple(p) for p in pixels.reshape(-1, 4).tolist()} <= palette
    for image in pixels:
        assert len({tuple(p) for p in image.reshape(-1, 4).tolist()}) <= 2


def test_slot_colours_gathers_each_images_table():
    slots = torch.tensor([[[0, 1], [1, 1]], [[1, 0], [0, 0]]])
    colour_logits = torch.tensor(
        [[[0.0, 5, 0], [0, 0, 7]], [[9.0, 0, 0], [0, 1, 0]]]
    )  # (2 images, 2 slots, 3)
    assert slot_colours(slots, colour_logits).tolist() == [[[1, 2], [2, 2]], [[1, 0], [0, 0]]]


def test_the_straight_through_gradient_is_the_soft_mixtures():
    head = _head(slots=3, temperature=0.7).train()
    features = torch.randn(2, 6, 5, 4, requires_grad=True)
    latent = torch.randn(2, LATENT, requires_grad=True)
    out = head(features, latent)
    # forward: exact palette colours (the hard choice) ...
    assert {tuple(p) for p in _as_uint8(out.detach()).permute(0, 2, 3, 1).reshape(-1, 4).tolist()} <= {
        tuple(c) for c in PALETTE.tolist()
    }
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    grads = [features.grad.clone(), latent.grad.clone()] + [p.grad.clone() for p in head.parameters()]
    # ... backward: exactly the gradient of sum_s softmax(slots / T)_s sum_k softmax(colours / T)_sk p_k
    features.grad = latent.grad = None
    head.zero_grad()
    slot_logits, colour_logits = head.logits(features, latent)
    q = torch.softmax(slot_logits / 0.7, dim=1)
    r = torch.softmax(colour_logits / 0.7, dim=2)
    soft = torch.einsum("nshw,nsc->nchw", q, r @ head.palette)
    (soft * weights).sum().backward()
    expected = [features.grad, latent.grad] + [p.grad for p in head.parameters()]
    for got, want in zip(grads, expected, strict=True):
        assert torch.allclose(got, want, atol=1e-6)
    assert all(g.abs().sum() > 0 for g in grads)  # every parameter learns
    assert 1 / 3 <= float(head.confidence) <= 1


def test_soft_training_outputs_the_mixture_and_colour_codes_follow_the_colour():
    soft = _head(slots=3, soft_training=True).train()
    features, latent = torch.randn(2, 6, 4, 4, requires_grad=True), torch.randn(2, LATENT)
    mixed = soft(features, latent)
    assert not torch.equal(_as_uint8(mixed).float(), mixed.add(1).mul(127.5))
    hard = _head(slots=3, identity=5).train()
    out = hard(features, latent)
    assert out.shape == (2, 4 + 5, 4, 4)
    # the codes D sees on G's output are those of each pixel's colour, as on a real image of those colours
    again = hard.identity_channels(out[:, :4].detach())
    assert torch.allclose(out.detach(), again, atol=1e-5)


def _posed_config(slots: int) -> ModelConfig:
    return ModelConfig(
        arch="posed",
        image_size=[16, 32],
        pose_grid=[2, 4],
        channels=4,
        z_dim=8,
        g_width=8,
        d_width=8,
        max_channels=16,
        head="palette",
        palette_colors=len(PALETTE),
        palette_slots=slots,
        palette_despeckle=0,
    )


def test_a_posed_sheet_shares_one_slot_table_across_its_frames():
    torch.manual_seed(0)
    G = build_generator(_posed_config(slots=3)).eval()
    G.set_palette(PALETTE)
    assert isinstance(G.head, SwapPaletteHead)
    with torch.no_grad():
        G.head.table[2].weight.normal_(0, 3)
        z = torch.randn(6, 8)
        features = G.body(z)
        slots, colour_logits = G.head.logits(features, z)
        sheets = G(z)
    table = colour_logits.argmax(2)  # one (slots,) colour table per sheet, not per frame
    index = slot_colours(slots.argmax(1), colour_logits)
    assert torch.equal(G.head.palette[index].permute(0, 3, 1, 2), sheets)
    for n in range(6):  # every frame of sheet n draws slot s in the same colour table[n, s]
        for s in slots.argmax(1)[n].unique():
            assert index[n][slots.argmax(1)[n] == s].unique().tolist() == [int(table[n, s])]


def test_swap_head_runs_save_sample_and_export(tmp_path):
    from spritegan.generate.pipeline import SpritePipeline
    from spritegan.storage import save_generator

    cfg = _posed_config(slots=3)
    cfg.palette_agree = 1.0
    torch.manual_seed(0)
    G = build_generator(cfg)
    G.set_palette(PALETTE)
    with torch.no_grad():
        for p in G.body.parameters():
            p.add_(torch.randn_like(p) * 0.3)
        G.head.table[2].weight.normal_(0, 3)
    manifest = {"alpha_levels": [0, 255], "channels": 4, "mode": "RGBA", "size": [16, 32]}
    run = tmp_path / "run"
    save_generator(run / "generator.safetensors", G, {"model_config": cfg.__dict__, "manifest": manifest})
    seeds = list(range(6))
    pipe = SpritePipeline.from_run(run)
    sheets = pipe(seeds)
    assert torch.equal(sheets, SpritePipeline.from_run(run)(seeds))  # same seed, same sheet
    colours = {tuple(c) for c in PALETTE.tolist()}
    assert {tuple(p) for p in sheets.permute(0, 2, 3, 1).reshape(-1, 4).tolist()} <= colours
    assert max(len({tuple(p) for p in s.permute(1, 2, 0).reshape(-1, 4).tolist()}) for s in sheets) <= 3

    ort = pytest.importorskip("onnxruntime")
    from spritegan.export.onnx import export_onnx

    export_onnx(run, tmp_path / "g.onnx")
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"z": pipe.latents(seeds).numpy(), "truncation": np.array([1.0], np.float32)}
    out = torch.from_numpy(sess.run(["sprites"], feeds)[0]).permute(0, 3, 1, 2)
    assert torch.equal(out, sheets)


def test_the_colour_table_reads_z_and_the_labels_and_other_archs_are_refused():
    from spritegan.models.heads import swap_latent

    z, labels = torch.randn(3, 8), torch.rand(3, 2)
    assert torch.equal(swap_latent(z, labels, 10), torch.cat([z, labels], 1))
    assert torch.equal(swap_latent(z, None, 10), torch.cat([z, torch.zeros(3, 2)], 1))  # unconditional slot
    assert torch.equal(swap_latent(z.view(3, 8, 1, 1), None, 8), z)
    torch.manual_seed(0)
    G = build_generator(_posed_config(slots=3))
    G.set_palette(PALETTE)
    with torch.no_grad():
        G.head.table[2].weight.normal_(0, 3)
        z = torch.randn(1, 8).repeat(2, 1)
        features = G.body(z)
        other = torch.randn(2, 8)
        # the same drawing with another latent gets another colour table: a palette swap
        assert not torch.equal(G.head(features, z), G.head(features, other))
    with pytest.raises(SpriteganError, match="model.palette_slots needs a generator fed z directly"):
        build_generator(ModelConfig(arch="stylegan", head="palette", palette_colors=5, palette_slots=3))


def test_train_refuses_the_swap_head_on_a_style_generator_in_one_line(tmp_path, capsys):
    from spritegan.cli import main

    args = ["train", "--data", "builtin:sprites:64", "--preset", "stylegan", "--set", "model.head=palette"]
    args += ["--set", "model.palette_slots=4", "--steps", "1", "--out", str(tmp_path / "run")]
    assert main(args) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.palette_slots needs a generator fed z directly" in err[0]
    assert "model.arch=stylegan" in err[0]
