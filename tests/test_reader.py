"""The sheet reader (models/reader.py, train/reader.py) and `--best-of K` ranked by it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from spritegan.generate.pipeline import SpritePipeline, candidate_latents
from spritegan.labels import class_table
from spritegan.models.reader import SheetReader
from spritegan.train.reader import read_steps, train_reader


def test_class_table_gives_each_columns_class_and_binary_columns_two_classes():
    spec = {
        "hat": {"kind": "binary"},
        "type": {"kind": "categorical", "classes": ["a", "b", "c"]},
    }
    table, classes = class_table({"hat": torch.tensor([1, 0]), "type": torch.tensor([2, 0])}, spec)
    assert classes == [3, 2]  # categorical first (label_layout's order), then binary
    assert table.tolist() == [[2, 1], [0, 0]]
    with pytest.raises(ValueError, match="no label columns"):
        class_table({}, None)


def _sheets(labels: torch.Tensor) -> torch.Tensor:
    """2x2 sheets of 8x8 frames: each frame a 4x4 square of colour label+1 on colour 0 at a pose-dependent
    place, so a frame's colour says its label."""
    n = len(labels)
    out = torch.zeros(n, 16, 16, dtype=torch.long)
    for f, (r, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        y, x = r * 8 + 1 + f % 2, c * 8 + 2 + f // 2
        out[:, y : y + 4, x : x + 4] = labels.view(n, 1, 1) + 1
    return out


def test_reader_reads_each_frame_and_prefers_sheets_whose_frames_agree():
    torch.manual_seed(0)
    reader = SheetReader(colours=4, grid=(2, 2), classes=[3], width=16)
    assert not reader.trained()
    labels = torch.arange(30) % 3
    sheets = _sheets(labels)
    assert reader(sheets).shape == (30, 4, 3) and reader.labelled
    out = reader.log_probs(sheets)
    assert len(out) == 1 and out[0].shape == (30, 4, 3)
    assert torch.allclose(out[0].exp().sum(-1), torch.ones(30, 4))
    with torch.no_grad():
        before = float(reader.loss(sheets, labels.view(-1, 1)))
    result = train_reader(reader, sheets, labels.view(-1, 1), steps=120, seed=0, batch_size=8, lr=3e-3)
    assert reader.trained() and result.steps == 120 and not reader.training
    with torch.no_grad():
        assert float(reader.loss(sheets, labels.view(-1, 1))) < before / 4
    read = reader.log_probs(sheets)[0].argmax(-1)
    assert torch.equal(read, labels.view(-1, 1).expand(-1, 4))  # every frame read as its sheet's label
    agree = reader.consensus(_sheets(torch.tensor([0, 1, 2])))
    mixed = _sheets(torch.tensor([0, 1, 2]))
    mixed[:, 8:, 8:] = _sheets(torch.tensor([1, 2, 0]))[:, 8:, 8:]  # the last frame drawn as another label
    doubt = reader.consensus(mixed)
    assert agree.shape == (3,) and bool((agree <= 0).all())
    assert bool((doubt < agree - 1.0).all())


def test_reader_training_is_reproducible_and_refuses_mismatched_labels():
    labels = torch.arange(12) % 3
    sheets = _sheets(labels)
    weights = []
    for _ in range(2):
        torch.manual_seed(1)
        reader = SheetReader(4, (2, 2), [3], width=8)
        train_reader(reader, sheets, labels.view(-1, 1), steps=5, seed=3, batch_size=4)
        weights.append(reader.out.weight.detach().clone())
    assert torch.equal(*weights)
    with pytest.raises(ValueError, match="one row a sheet"):
        train_reader(reader, sheets, labels[:5].view(-1, 1), steps=1)
    assert read_steps(100.0, (64, 64)) == 1526 and read_steps(0.0, (64, 64)) == 0


POSED = ["model.arch=posed", "model.cond_mode=cbn", "model.g_width=8", "model.d_width=8", "train.threads=1"]


def _walkers(tmp_path, name: str, extra: list[str]) -> int:
    from spritegan.cli import main

    sets = [x for kv in POSED + extra for x in ("--set", kv)]
    args = ["train", "--data", "builtin:walkers:8", "--batch-size", "4", "--steps", "2", "--no-progress"]
    return main([*args, "--out", str(tmp_path / name), *sets])


def _independent_doubt(pipe: SpritePipeline, sheets: torch.Tensor) -> torch.Tensor:
    """Minus the sum over columns and frames of each frame's log-probability of the class the frames' mean
    probability favours, computed here from the reader's raw readings."""
    head = pipe.generator.head
    flat = sheets.permute(0, 2, 3, 1).reshape(-1, sheets.shape[1]).float().div(127.5).sub(1.0)
    index = torch.cdist(flat, head.palette).argmin(1).view(len(sheets), *sheets.shape[2:])
    total = torch.zeros(len(sheets))
    with torch.no_grad():
        for lp in head.reader.log_probs(index):
            agreed = lp.exp().mean(1).argmax(-1)
            total -= torch.stack([lp[i, :, agreed[i]].sum() for i in range(len(lp))])
    return total


def test_a_posed_run_trains_a_reader_and_best_of_keeps_the_sheet_it_doubts_least(tmp_path, capsys):
    from spritegan.cli import main

    reader = ["model.palette_reader=8", "train.reader_mpix=0.5"]
    assert _walkers(tmp_path, "run", reader) == 0
    assert "sheet reader: 8 steps" in capsys.readouterr().out
    run, seeds, k = tmp_path / "run", [3, 4, 5, 6, 7], 4
    plain = SpritePipeline.from_run(run)
    assert plain.model_config.palette_reader_classes == [4, 4, 5, 3, 5, 5]  # the walkers' six traits, by name
    assert plain.generator.head.reader.trained()
    best = SpritePipeline.from_run(run, best_of=k)
    assert best.sampling_record["best_of_rank"] == "reader"
    z = candidate_latents(seeds, plain.z_dim, k)
    drawn = plain(z=z)
    doubt = _independent_doubt(plain, drawn).view(len(seeds), k)
    expected = drawn.view(len(seeds), k, *drawn.shape[1:])[torch.arange(len(seeds)), doubt.argmin(1)]
    got = best(seeds)
    assert torch.equal(got, expected) and torch.equal(best(seeds, batch_size=6), got)
    assert bool((doubt.argmin(1) != 0).any())  # some seed keeps a candidate other than its own
    js = tmp_path / "eval.json"
    args = ["eval", str(run), "--metrics", "pixelart", "--samples", "4", "--best-of", "2", "--json", str(js)]
    assert main(args) == 0
    record = json.loads(js.read_text())
    assert record["best_of"] == 2 and record["best_of_rank"] == "reader"
    assert "best of latents per seed (by the sheet reader)" in capsys.readouterr().out


def test_the_refine_command_adds_a_reader_to_a_run_and_refuses_runs_it_cannot_read(tmp_path, capsys):
    from spritegan.cli import main

    assert _walkers(tmp_path, "bare", []) == 0
    out = tmp_path / "read"
    capsys.readouterr()
    assert (
        main(
            [
                "refine",
                str(tmp_path / "bare"),
                "--out",
                str(out),
                "--mpix",
                "0",
                "--reader",
                "--reader-mpix",
                "0.5",
            ]
        )
        == 0
    )
    said = capsys.readouterr().out
    assert "sheet reader added and trained: 8 steps" in said and "refiner" not in said.replace(
        "sheet reader", ""
    )
    pipe = SpritePipeline.from_run(out)
    assert pipe.generator.head.reader.trained() and pipe.generator.head.refiner is None
    assert SpritePipeline.from_run(out, best_of=2).sampling_record["best_of_rank"] == "reader"
    bare = SpritePipeline.from_run(tmp_path / "bare")
    assert torch.equal(pipe(range(2)), bare(range(2)))  # the reader changes no sheet, it only ranks them
    assert main(["refine", str(tmp_path / "bare"), "--out", str(tmp_path / "x"), "--mpix", "0"]) == 2
    assert "0 with --reader" in capsys.readouterr().err
    from spritegan.cli import main as cli

    sprites = ["train", "--data", "builtin:sprites:64", "--out", str(tmp_path / "sprites"), "--no-progress"]
    assert cli([*sprites, "--steps", "2", "--set", "model.g_width=8", "--set", "model.d_width=8"]) == 0
    capsys.readouterr()
    assert (
        main(["refine", str(tmp_path / "sprites"), "--out", str(tmp_path / "no"), "--mpix", "0", "--reader"])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--reader reads character sheets" in err[0]
    assert not (tmp_path / "no").exists()


def test_a_reader_needs_posed_sheets_and_reads_identity_when_the_data_has_no_labels(tmp_path, capsys):
    from spritegan.cli import main
    from spritegan.config import build_config
    from spritegan.train.loop import fit_model_to_data

    sprites = ["train", "--data", "builtin:sprites:64", "--out", str(tmp_path / "s"), "--no-progress"]
    assert main([*sprites, "--steps", "1", "--set", "model.palette_reader=8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.palette_reader needs character sheets" in err[0]
    cfg = build_config("sprite", {"model.arch": "posed", "model.palette_reader": 8, "model.head": "rgb"})
    unlabelled = SimpleNamespace(
        images=torch.zeros(2, 4, 32, 32, dtype=torch.uint8),
        labels={},
        manifest={"sheet": {"rows": ["a", "b"], "columns": ["0", "1"]}},
    )
    notes = fit_model_to_data(cfg, unlabelled, conditional=False)
    assert cfg.model.palette_reader_classes == [] and any("tell characters apart" in n for n in notes)


def _characters(n: int, seed: int = 0) -> torch.Tensor:
    """n 2x2 sheets of 8x8 frames, one character each: a body colour and a head colour (of 6) and a head
    height, the same in its four frames, each frame shifted by its pose."""
    g = torch.Generator().manual_seed(seed)
    body = torch.randint(1, 7, (n,), generator=g)
    head = torch.randint(1, 7, (n,), generator=g)
    tall = torch.randint(1, 3, (n,), generator=g)
    out = torch.zeros(n, 16, 16, dtype=torch.long)
    for i in range(n):
        for f, (r, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            y, x = r * 8 + f % 2, c * 8 + 2 + f // 2
            out[i, y : y + int(tall[i]), x : x + 3] = head[i]
            out[i, y + int(tall[i]) : y + 7, x : x + 3] = body[i]
    return out


def test_an_identity_reader_tells_characters_apart_and_prefers_sheets_of_one_character():
    torch.manual_seed(0)
    reader = SheetReader(colours=7, grid=(2, 2), width=16)
    assert not reader.labelled and reader(_characters(3)).shape[:2] == (3, 4)
    sheets = _characters(64)
    with pytest.raises(ValueError, match="too few"):
        train_reader(reader, sheets[:1], None, steps=1)
    train_reader(reader, sheets, None, steps=150, seed=0, batch_size=16, lr=3e-3)
    test = _characters(40, seed=1)
    mixed = test.clone()
    mixed[:, 8:, 8:] = test.roll(1, 0)[:, 8:, 8:]  # the last frame another character's
    same, other = reader.consensus(test), reader.consensus(mixed)
    differs = (test != mixed).flatten(1).any(1)
    assert bool((same[differs] > other[differs]).float().mean() > 0.9)
    e = reader.embeddings(test)
    assert torch.allclose(e.norm(dim=-1), torch.ones(40, 4), atol=1e-5)


def test_the_refine_command_adds_an_identity_reader_when_asked(tmp_path, capsys):
    from spritegan.cli import main

    assert _walkers(tmp_path, "bare", []) == 0
    out = tmp_path / "ident"
    args = ["refine", str(tmp_path / "bare"), "--out", str(out), "--mpix", "0", "--reader", "identity"]
    assert main([*args, "--reader-mpix", "0.5"]) == 0
    pipe = SpritePipeline.from_run(out, best_of=2)
    assert not pipe.generator.head.reader.labelled and pipe.model_config.palette_reader_classes == []
    assert pipe.sampling_record["best_of_rank"] == "reader" and pipe(range(2)).shape == (2, 4, 64, 64)


def test_the_studio_generates_the_best_of_k_and_refuses_it_without_a_ranker(tmp_path):
    """POST /api/generate with best_of: the same sprites as SpritePipeline(best_of=K), recorded in the reply;
    a model with nothing to rank by, or K over the server's limit, gets one JSON error line."""
    pytest.importorskip("fastapi")
    import base64
    import io

    import numpy as np
    from fastapi.testclient import TestClient
    from PIL import Image

    from spritegan.serve.app import create_app
    from spritegan.serve.studio import Limits
    from studio_fixtures import make_run

    runs = tmp_path / "runs"
    runs.mkdir()
    assert _walkers(runs, "walkers", ["model.palette_reader=8", "train.reader_mpix=0.5"]) == 0
    make_run(runs, "plain")
    client = TestClient(create_app(runs, Limits(max_best_of=4)), base_url="http://127.0.0.1:8000")
    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert models["walkers"]["best_of_rank"] == "reader" and models["plain"]["best_of_rank"] is None
    body = {"model": "walkers", "seeds": [3, 4, 5], "format": "json", "best_of": 4}
    reply = client.post("/api/generate", json=body)
    assert reply.status_code == 200 and reply.json()["best_of"] == 4
    got = [np.array(Image.open(io.BytesIO(base64.b64decode(s["png"])))) for s in reply.json()["sprites"]]
    want = SpritePipeline.from_run(runs / "walkers", best_of=4)([3, 4, 5], output_type="np")
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    plain = client.post("/api/generate", json={**body, "best_of": 1}).json()["sprites"]
    assert [s["png"] for s in plain] != [s["png"] for s in reply.json()["sprites"]]  # not left at 4
    refused = client.post("/api/generate", json={**body, "model": "plain"})
    assert refused.status_code == 400 and "no trained refiner or sheet reader" in refused.json()["detail"]
    over = client.post("/api/generate", json={**body, "best_of": 5})
    assert over.status_code == 422 and "max_best_of" in over.json()["detail"]


def test_a_reader_does_not_change_how_the_gan_starts():
    """The reader's weights come from a fork of the random state, so G's other weights and D's are the same
    with and without one: adding a reader to a recipe does not change its training."""
    from spritegan.config import build_config
    from spritegan.models import build_discriminator, build_generator

    def build(reader: int) -> tuple[dict, dict]:
        cfg = build_config("sprite", {"model.arch": "posed", "model.g_width": 8, "model.d_width": 8})
        cfg.model.image_size, cfg.model.channels, cfg.model.palette_colors = [32, 32], 4, 6
        cfg.model.palette_reader, cfg.model.palette_reader_classes = reader, [3, 2]
        torch.manual_seed(5)
        g, d = build_generator(cfg.model), build_discriminator(cfg.model)
        return g.state_dict(), d.state_dict()

    g0, d0 = build(0)
    g1, d1 = build(8)
    assert any(k.startswith("head.reader.") for k in g1) and not any(k.startswith("head.reader.") for k in g0)
    assert all(torch.equal(g0[k], g1[k]) for k in g0) and all(torch.equal(d0[k], d1[k]) for k in d0)


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "--reader-mpix 0.0: choose a positive"), ("nan", "--reader-mpix"), ("-1", "--reader-mpix -1.0")],
)
def test_refine_reader_bad_pixel_counts_are_one_line_errors(tmp_path, capsys, value, message):
    from spritegan.cli import main

    args = ["refine", str(tmp_path / "run"), "--out", str(tmp_path / "r"), "--mpix", "0", "--reader"]
    assert main([*args, "--reader-mpix", value]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()
