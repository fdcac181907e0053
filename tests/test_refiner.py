"""The palette refiner: corruptions with known answers, a refiner that learns to undo them, and the refiner
in the one generation path (train, resume, pipeline, CLI, ONNX)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spritegan.generate.pipeline import SpritePipeline
from spritegan.models.refiner import PaletteRefiner, one_hot_maps
from spritegan.train.refine import corrupt_indices, refine_steps, train_refiner


def _sprites(n: int, size: int = 12, seed: int = 0) -> torch.Tensor:
    """(n, size, size) indices: a clear background (0) with one outlined box (1) filled with colour 2-5."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        y0, x0 = (int(v) for v in torch.randint(0, size // 2 - 1, (2,), generator=g))
        h, w = (int(v) for v in torch.randint(4, size // 2 + 1, (2,), generator=g))
        out[i, y0 : y0 + h, x0 : x0 + w] = 1
        out[i, y0 + 1 : y0 + h - 1, x0 + 1 : x0 + w - 1] = 2 + int(torch.randint(0, 4, (1,), generator=g))
    return out


def test_corruption_is_reproducible_and_off_when_asked():
    x = _sprites(16)
    a = corrupt_indices(x, torch.Generator().manual_seed(3))
    b = corrupt_indices(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert torch.equal(corrupt_indices(x, torch.Generator().manual_seed(3), pixel_rate=0.0, patches=0), x)


def test_patches_copy_another_sprite_at_the_same_place():
    x = _sprites(8)
    out = corrupt_indices(x, torch.Generator().manual_seed(1), pixel_rate=0.0, patches=6)
    changed = out != x
    assert changed.any()
    # every changed pixel holds what some other sprite of the batch has at that very place
    same_place = (out.unsqueeze(1) == x.unsqueeze(0)).any(1)
    assert same_place[changed].all()


def test_pixel_noise_copies_a_neighbour_or_a_colour_of_the_same_sprite():
    x = _sprites(8)
    out = corrupt_indices(x, torch.Generator().manual_seed(2), pixel_rate=0.2, patches=0)
    changed = out != x
    assert changed.sum() > 20
    own = one_hot_maps(x, 6).amax(dim=(2, 3)) > 0  # (n, K): the colours each sprite has
    for i, y, xx in changed.nonzero().tolist():
        assert own[i, out[i, y, xx]]


def test_untrained_refiner_is_not_applied_and_refining_keeps_each_sprites_colours():
    refiner = PaletteRefiner(6, width=4)
    assert not refiner.trained()
    with torch.no_grad():
        refiner.out.bias.fill_(0.0)
        refiner.out.bias[5] = 100.0  # it would paint everything colour 5 ...
        refiner.keep.fill_(0.0)
    x = _sprites(4)
    x[0][x[0] == 2] = 3
    refined = refiner.refine(x)
    for i in range(4):  # ... but a sprite without colour 5 cannot get it
        has5 = bool((x[i] == 5).any())
        assert bool((refined[i] == 5).all()) == has5
        assert set(refined[i].unique().tolist()) <= set(x[i].unique().tolist())


def test_with_the_heads_cap_the_refiner_may_bring_back_a_missing_colour_but_keeps_the_cap():
    refiner = PaletteRefiner(7, width=4)
    with torch.no_grad():
        refiner.keep.fill_(0.0)
        refiner.out.bias.zero_()
        refiner.out.bias[6] = 100.0  # it wants colour 6 everywhere, which no sprite below has
    x = _sprites(4)
    assert not bool((x == 6).any())
    assert not bool((refiner.refine(x, passes=1) == 6).any())  # own colours only: never colour 6
    assert bool((refiner.refine(x, passes=1, max_colours=3) == 6).all())  # with a cap: it comes back
    # the cap: a sprite of 12 background pixels and one pixel each of colours 1-4, the refiner keeping every
    # pixel's colour (colour 6 a close second): with a cap of 2 it keeps 0 and 1 (ties to the lower index);
    # pixels of 2, 3 and 4 take their best kept colour, the background's (0)
    sprite = torch.zeros(1, 4, 4, dtype=torch.long)
    sprite[0, 0] = torch.tensor([1, 2, 3, 4])
    logits = torch.zeros(1, 7, 4, 4)
    logits[0, 6] = 0.5
    logits.scatter_add_(1, sprite.unsqueeze(1), torch.ones(1, 1, 4, 4))
    refiner.forward = lambda index: logits
    expected = torch.zeros(1, 4, 4, dtype=torch.long)
    expected[0, 0, 0] = 1
    assert torch.equal(refiner.refine(sprite, 1, max_colours=2), expected)
    assert torch.equal(refiner.refine(sprite, 1, max_colours=0), sprite)  # 0: no cap


def test_a_trained_refiner_undoes_most_corruption():
    torch.manual_seed(0)
    train = _sprites(512, seed=0)
    refiner = PaletteRefiner(6, width=16)
    result = train_refiner(refiner, train, steps=150, seed=0, batch_size=32, lr=3e-3)
    assert result.steps == 150 and int(refiner.steps) == 150 and refiner.trained()
    held_out = _sprites(64, seed=1)
    noisy = corrupt_indices(held_out, torch.Generator().manual_seed(9), pixel_rate=0.1, patches=0)
    before = (noisy != held_out).sum().item()
    after = (refiner.refine(noisy) != held_out).sum().item()
    assert before > 50 and after < 0.5 * before, (before, after)


def test_training_logits_are_the_sampling_logits():
    """Training reads `pixel_logits` (rows, keep added by index), sampling and ONNX read `forward`."""
    torch.manual_seed(0)
    refiner = PaletteRefiner(6, width=8)
    with torch.no_grad():
        refiner.keep.fill_(1.7)
    x = _sprites(3)
    rows = refiner.pixel_logits(x)
    assert rows.shape == (3 * 12 * 12, 6)
    torch.testing.assert_close(rows, refiner(x).permute(0, 2, 3, 1).reshape(-1, 6), rtol=1e-5, atol=1e-5)
    rows.logsumexp(1).sum().backward()
    assert refiner.keep.grad is not None and float(refiner.keep.grad.abs()) > 0
    with torch.autocast("cpu", torch.bfloat16):  # the bf16 path: the same logits to bf16 precision
        low = refiner.pixel_logits(x)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, rows.detach(), rtol=0.05, atol=0.1)


def test_refine_steps_counts_pixels():
    assert refine_steps(0.0, (32, 32)) == 0
    assert refine_steps(100.0, (32, 32)) == 1526
    assert refine_steps(100.0, (96, 128)) == 128


def _train(tmp_path, name: str, extra: list[str]) -> int:
    from spritegan.cli import main

    args = ["train", "--data", "builtin:sprites:64", "--out", str(tmp_path / name), "--no-progress"]
    return main(args + ["--steps", "4", "--set", "model.g_width=8", "--set", "model.d_width=8"] + extra)


def test_train_refines_at_the_end_and_every_path_samples_with_it(tmp_path, capsys):
    from spritegan.cli import main

    refine = ["--set", "model.palette_refiner=8", "--set", "train.refine_mpix=0.2"]
    assert _train(tmp_path, "run", refine) == 0
    out = capsys.readouterr().out
    assert "refiner: 4 steps" in out
    run = tmp_path / "run"
    assert (run / "samples" / "step-000004-refined.png").exists()
    pipe = SpritePipeline.from_run(run)
    assert pipe.generator.head.refiner.trained() and pipe.sampling_record["palette_refine_passes"] == 2
    off = SpritePipeline.from_run(run, refine=0)
    assert off.sampling_record["palette_refine_passes"] == 0
    seeds = list(range(16))
    refined, raw = pipe(seeds), off(seeds)
    # the refiner gives palette colours only, and each sprite keeps the head's cap on its colours
    cap = pipe.generator.head.max_colours
    palette = {tuple(c) for c in pipe.manifest["palette"]}
    assert 0 < cap < len(palette)
    for r in refined:
        colours = {tuple(p) for p in r.reshape(r.shape[0], -1).t().tolist() if p[-1] > 0}
        assert colours <= palette and len(colours) <= cap

    assert main(["generate", str(run), "--seeds", "0,1", "--refine", "0", "--out", str(tmp_path / "g")]) == 0
    assert json.loads((tmp_path / "g" / "generation.json").read_text())["palette_refine_passes"] == 0
    from PIL import Image

    written = torch.from_numpy(np.array(Image.open(tmp_path / "g" / "seed000001.png"))).permute(2, 0, 1)
    assert torch.equal(written, raw[1])

    # resume trains it further (fresh batches), and keeps G's copy equal to G_ema's
    assert main(["train", "--resume", str(run), "--steps", "6", "--no-progress"]) == 0
    again = SpritePipeline.from_run(run)
    assert int(again.generator.head.refiner.steps) == 8

    ort = pytest.importorskip("onnxruntime")
    from spritegan.export.onnx import export_onnx

    export_onnx(run, tmp_path / "g.onnx")
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"z": again.latents(seeds).numpy(), "truncation": np.array([1.0], np.float32)}
    onnx_out = torch.from_numpy(sess.run(["sprites"], feeds)[0]).permute(0, 3, 1, 2)
    assert torch.equal(onnx_out, again(seeds))


def test_same_seed_same_refiner(tmp_path):
    refine = ["--set", "model.palette_refiner=8", "--set", "train.refine_mpix=0.2"]
    assert _train(tmp_path, "a", refine) == 0 and _train(tmp_path, "b", refine) == 0
    a, b = SpritePipeline.from_run(tmp_path / "a"), SpritePipeline.from_run(tmp_path / "b")
    assert torch.equal(a(range(8)), b(range(8)))
    wa = a.generator.head.refiner.state_dict()
    wb = b.generator.head.refiner.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_bad_refine_passes_is_a_one_line_error(tmp_path):
    from spritegan.errors import SpriteganError

    assert _train(tmp_path, "run", ["--set", "model.palette_refiner=8"]) == 0
    with pytest.raises(SpriteganError, match="--refine 9"):
        SpritePipeline.from_run(tmp_path / "run", refine=9)
    # a refiner in the model but never trained: sampling goes on without it
    assert SpritePipeline.from_run(tmp_path / "run").sampling_record["palette_refine_passes"] == 0


def test_refine_command_adds_a_refiner_to_a_run_and_leaves_the_run_alone(tmp_path, capsys):
    from spritegan.cli import main
    from spritegan.storage import resolve_generator_path

    assert _train(tmp_path, "run", []) == 0
    before = resolve_generator_path(tmp_path / "run").read_bytes()
    out = tmp_path / "refined"
    assert main(["refine", str(tmp_path / "run"), "--out", str(out), "--mpix", "0.1", "--no-progress"]) == 0
    assert "refiner added and trained: 2 steps" in capsys.readouterr().out
    assert resolve_generator_path(tmp_path / "run").read_bytes() == before
    pipe = SpritePipeline.from_run(out)
    assert pipe.model_config.palette_refiner == 48 and pipe.generator.head.refiner.trained()
    plain = SpritePipeline.from_run(tmp_path / "run")
    # with the refiner off, the refined file draws exactly what the run draws
    assert torch.equal(SpritePipeline.from_run(out, refine=0)(range(8)), plain(range(8)))

    # a second call trains it further; it refuses to write over a file or into the run itself
    again = ["refine", str(out), "--out", str(out), "--mpix", "0.1", "--no-progress"]
    assert main(again) == 2
    assert "is the run itself" in capsys.readouterr().err
    assert main(["refine", str(tmp_path / "run"), "--out", str(out), "--no-progress"]) == 2
    assert "file exists" in capsys.readouterr().err
    more = tmp_path / "more"
    assert main(["refine", str(out), "--out", str(more), "--mpix", "0.1", "--no-progress"]) == 0
    assert "trained further: 2 steps" in capsys.readouterr().out
    assert int(SpritePipeline.from_run(more).generator.head.refiner.steps) == 4

    # --new: a fresh refiner of another width in place of the trained one; G is untouched
    narrow = tmp_path / "narrow"
    assert main(["refine", str(more), "--out", str(narrow), "--new", "--width", "8", "--mpix", "0.1"]) == 0
    assert "refiner added and trained: 2 steps" in capsys.readouterr().out
    pipe = SpritePipeline.from_run(narrow)
    assert pipe.model_config.palette_refiner == 8 and int(pipe.generator.head.refiner.steps) == 2
    assert pipe.generator.head.refiner.embed.embedding_dim == 8
    assert torch.equal(SpritePipeline.from_run(narrow, refine=0)(range(8)), plain(range(8)))
    assert main(["refine", str(more), "--out", str(tmp_path / "none"), "--new", "--mpix", "0"]) == 2
    assert "--new with --mpix 0" in capsys.readouterr().err


def test_refine_command_refuses_an_rgb_run(tmp_path, capsys):
    from spritegan.cli import main

    assert _train(tmp_path, "rgb", ["--set", "model.head=rgb"]) == 0
    assert main(["refine", str(tmp_path / "rgb"), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert "draws RGB" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--mpix", "0", "--mpix 0.0: choose a positive"),
        ("--mpix", "nan", "--mpix"),
        ("--width", "0", "--width 0"),
    ],
)
def test_refine_command_bad_numbers_are_one_line_errors(tmp_path, capsys, flag, value, message):
    from spritegan.cli import main

    assert main(["refine", str(tmp_path / "run"), "--out", str(tmp_path / "r"), flag, value]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


# ---- the sheet refiner (model.palette_refiner_stack): every frame at each pixel ---------------------------------
def _sheets(n: int, seed: int = 0) -> torch.Tensor:
    """(n, 16, 16) sheets of 2x2 frames of 8x8: each frame the same outlined box (colour 1) with a fill
    (2-5) that is the sheet's own, shifted one pixel in the right-hand column (a walk frame)."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, 16, 16, dtype=torch.long)
    for i in range(n):
        fill = 2 + int(torch.randint(0, 4, (1,), generator=g))
        for r in range(2):
            for c in range(2):
                y, x = 8 * r + 1, 8 * c + 1 + c
                out[i, y : y + 6, x : x + 5] = 1
                out[i, y + 1 : y + 5, x + 1 : x + 4] = fill
    return out


def test_sheet_refiner_sees_every_frame_at_each_pixel_and_its_logits_are_the_sampling_logits():
    from spritegan.models.refiner import SheetRefiner

    torch.manual_seed(0)
    refiner = SheetRefiner(6, width=8, grid=(2, 2))
    x = _sheets(2)
    logits = refiner(x)
    assert logits.shape == (2, 6, 16, 16)
    rows = refiner.pixel_logits(x)
    torch.testing.assert_close(rows, logits.permute(0, 2, 3, 1).reshape(-1, 6), rtol=1e-5, atol=1e-5)
    # one pixel changed in the top-left frame moves the logits at the same place of the bottom-right frame,
    # 8 rows and 8 columns away, and nothing in the other sheet
    y = x.clone()
    y[0, 3, 3] = 5 if int(x[0, 3, 3]) != 5 else 4
    with torch.no_grad():
        moved = (refiner(y) - logits).abs().amax(1)
    assert float(moved[0, 11, 11]) > 0 and float(moved[1].max()) == 0
    with pytest.raises(ValueError, match="does not split"):
        refiner(torch.zeros(1, 15, 16, dtype=torch.long))


def test_sheet_refiner_mends_a_frame_drawn_with_another_characters_fill_and_the_plain_one_does_not():
    """Trained on the same generic corruptions for the same steps, the sheet refiner puts back a frame whose
    fill is another colour than its three sister frames'; the plain refiner, which sees only a frame's
    neighbourhood, leaves it (each fill is a valid sprite on its own)."""
    from spritegan.models.refiner import SheetRefiner

    train = _sheets(256, seed=0)
    held_out = _sheets(32, seed=1)
    broken = held_out.clone()
    for i in range(len(broken)):
        fill = int(held_out[i, 2, 2])
        frame = broken[i, 8:, 8:]
        frame[frame == fill] = 2 + (fill - 1) % 4  # another of the fills 2-5
    mended = {}
    for name, refiner in (("sheet", SheetRefiner(6, 8, (2, 2))), ("plain", PaletteRefiner(6, 8))):
        torch.manual_seed(0)
        train_refiner(refiner, train, steps=120, seed=0, batch_size=32, lr=3e-3)
        out = refiner.refine(broken, passes=2, max_colours=0)
        mended[name] = (out == held_out).all(dim=(1, 2)).float().mean().item()
    assert mended["sheet"] >= 0.7 and mended["plain"] <= 0.1, mended  # 0.81 and 0 here


def test_a_posed_run_takes_a_sheet_refiner_and_the_refine_command_adds_one(tmp_path, capsys):
    from spritegan.cli import main
    from spritegan.models.refiner import SheetRefiner

    posed = [
        "model.arch=posed",
        "model.cond_mode=cbn",
        "model.g_width=8",
        "model.d_width=8",
        "train.threads=1",
    ]
    args = ["train", "--data", "builtin:walkers:8", "--batch-size", "4", "--steps", "2", "--no-progress"]
    sets = [x for kv in posed for x in ("--set", kv)]
    stacked = ["--set", "model.palette_refiner=8", "--set", "model.palette_refiner_stack=true"]
    assert (
        main([*args, "--out", str(tmp_path / "run"), *sets, *stacked, "--set", "train.refine_mpix=0.02"]) == 0
    )
    pipe = SpritePipeline.from_run(tmp_path / "run")
    assert isinstance(pipe.generator.head.refiner, SheetRefiner) and pipe.generator.head.refiner.trained()
    sheets = pipe(range(2))
    assert sheets.shape == (2, 4, 64, 64)
    ort = pytest.importorskip("onnxruntime")
    from spritegan.export.onnx import export_onnx

    export_onnx(tmp_path / "run", tmp_path / "g.onnx")  # the stacked frames export as reshapes
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"z": pipe.latents(range(2)).numpy(), "truncation": np.array([1.0], np.float32)}
    onnx_out = torch.from_numpy(sess.run(["sprites"], feeds)[0]).permute(0, 3, 1, 2)
    assert torch.equal(onnx_out, sheets)

    assert main([*args, "--out", str(tmp_path / "bare"), *sets]) == 0
    out = tmp_path / "added"
    assert main(["refine", str(tmp_path / "bare"), "--out", str(out), "--stack", "--mpix", "0.02"]) == 0
    added = SpritePipeline.from_run(out)
    assert isinstance(added.generator.head.refiner, SheetRefiner) and added.model_config.palette_refiner_stack
    capsys.readouterr()
    # a sprite run has no frames to stack: one line, nothing written
    assert _train(tmp_path, "sprites", []) == 0
    capsys.readouterr()
    assert main(["refine", str(tmp_path / "sprites"), "--out", str(tmp_path / "no"), "--stack"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--stack refines character sheets" in err[0]
    assert not (tmp_path / "no").exists()


def test_refiner_training_ends_early_when_asked_and_counts_what_it_did():
    refiner = PaletteRefiner(6, width=8)
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    result = train_refiner(refiner, _sprites(16), steps=10, seed=0, batch_size=4, stop=stop)
    assert result.steps == 3 and int(refiner.steps) == 3


def test_one_ctrl_c_during_trains_refiner_phase_stops_it_and_keeps_the_run(tmp_path, capsys, monkeypatch):
    """The GAN's loop stops on the first Ctrl-C; so does the refiner's training after it (it used to need a
    second one): the run is saved with the refiner steps done."""
    import os
    import signal

    import spritegan.train.refine as refine_module

    real = refine_module.corrupt_indices
    calls = []

    def corrupt_then_ctrl_c(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(refine_module, "corrupt_indices", corrupt_then_ctrl_c)
    refine = ["--set", "model.palette_refiner=8", "--set", "train.refine_mpix=1"]
    assert _train(tmp_path, "run", refine) == 0
    out = capsys.readouterr().out
    total = refine_steps(1, (32, 32))
    assert f"refiner: 2 steps of {total} (stopped)" in out
    assert int(SpritePipeline.from_run(tmp_path / "run").generator.head.refiner.steps) == 2


def test_a_sheet_refiner_off_the_posed_generator_is_a_one_line_error(tmp_path, capsys):

    stacked = ["--set", "model.palette_refiner=8", "--set", "model.palette_refiner_stack=true"]
    assert _train(tmp_path, "run", stacked) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and "model.palette_refiner_stack needs character sheets drawn by model.arch=posed" in err[0]
    )
    assert not (tmp_path / "run").exists()


# ---- best of K latents per seed, ranked by the refiner's edits -------------------------------------------------
def test_candidate_latents_start_with_the_seeds_own_and_grow_by_appending() -> None:
    from spritegan.generate.pipeline import candidate_latents, latents

    four = candidate_latents([5, 9], 16, 4).view(2, 4, 16)
    assert torch.equal(four[:, 0], latents([5, 9], 16))
    assert torch.equal(candidate_latents([5, 9], 16, 2).view(2, 2, 16), four[:, :2])
    assert len({tuple(z.tolist()) for z in four.flatten(0, 1)}) == 8


def test_best_of_keeps_each_seeds_candidate_the_refiner_changes_least(tmp_path, capsys):
    """best_of K: each seed's sprite is, among its K candidates, the one whose refined and unrefined drawings
    differ in the fewest pixels; best of 1 is the plain sample; the choice is the same whatever the batch;
    generate and eval take --best-of and record it; a run without a trained refiner refuses it in one line."""
    from spritegan.cli import main
    from spritegan.errors import SpriteganError
    from spritegan.generate.pipeline import candidate_latents

    refine = ["--set", "model.palette_refiner=8", "--set", "train.refine_mpix=0.2"]
    assert _train(tmp_path, "run", refine) == 0
    run, seeds, k = tmp_path / "run", [3, 4, 5, 6, 7, 8], 4
    plain = SpritePipeline.from_run(run)
    best = SpritePipeline.from_run(run, best_of=k)
    assert torch.equal(SpritePipeline.from_run(run, best_of=1)(seeds), plain(seeds))
    z = candidate_latents(seeds, plain.z_dim, k)
    refined = plain(z=z)
    raw = SpritePipeline.from_run(run, refine=0)(z=z)
    edits = (raw != refined).any(1).flatten(1).sum(1).view(len(seeds), k)
    expected = refined.view(len(seeds), k, *refined.shape[1:])[torch.arange(len(seeds)), edits.argmin(1)]
    got = best(seeds)
    assert torch.equal(got, expected) and torch.equal(best(seeds, batch_size=5), got)
    assert bool((edits.min(1).values <= edits[:, 0]).all()) and bool(
        (edits.min(1).values < edits[:, 0]).any()
    )
    assert torch.equal(best(z=z[:2]), plain(z=z[:2]))  # given latents are drawn as they are

    out = tmp_path / "g"
    assert main(["generate", str(run), "--seeds", "3,4", "--best-of", "4", "--out", str(out)]) == 0
    assert json.loads((out / "generation.json").read_text())["best_of"] == 4
    from PIL import Image

    written = torch.from_numpy(np.array(Image.open(out / "seed000004.png"))).permute(2, 0, 1)
    assert torch.equal(written, got[1])
    js = tmp_path / "eval.json"
    assert (
        main(
            ["eval", str(run), "--metrics", "pixelart", "--samples", "8", "--best-of", "2", "--json", str(js)]
        )
        == 0
    )
    assert json.loads(js.read_text())["best_of"] == 2
    capsys.readouterr()
    assert (
        main(["generate", str(run), "--seeds", "3", "--best-of", "4", "--refine", "0", "--out", str(out)])
        != 0
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--best-of 4" in err[0] and "no trained refiner" in err[0]
    with pytest.raises(SpriteganError, match="choose 1 \\(off\\) to 64"):
        SpritePipeline.from_run(run, best_of=0)
