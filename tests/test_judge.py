"""The trait judge: held-out split, tiny training on built-in sprites, save/load, exact reading, CLI eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from spritegan.cli import main
from spritegan.data.dataset import open_dataset
from spritegan.errors import SpriteganError
from spritegan.labels import label_matrix
from spritegan.metrics.judge import (
    ExactJudge,
    holdout_split,
    load_judge,
    save_judge,
    train_judge,
    trait_rates,
)


@pytest.fixture(scope="module")
def sprites():
    return open_dataset("builtin:sprites:96")


def test_holdout_split_is_disjoint_and_keeps_rare_labels() -> None:
    labels = torch.zeros(50, 3)
    labels[:, 0] = 1
    labels[:4, 1] = 1  # rare
    labels[10:12, 2] = 1  # rarer
    train, held = holdout_split(labels, 0.25, seed=0)
    assert len(set(train.tolist()) & set(held.tolist())) == 0
    assert len(train) + len(held) == 50
    for col in (1, 2):
        assert labels[train, col].sum() >= 1 and labels[held, col].sum() >= 1


def test_trait_rates_recall_and_accuracy() -> None:
    spec = {"type": {"kind": "categorical", "classes": ["a", "b"]}, "hat": {"kind": "binary"}}
    target = torch.tensor([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=torch.float32)
    pred = torch.tensor([[1, 0, 1], [0, 1, 0], [0, 1, 0], [0, 1, 0]], dtype=torch.float32)
    r = trait_rates(pred, target, spec)
    assert r["type=a"] == {"n": 2, "recall": 0.5}
    assert r["type=b"]["recall"] == 1.0
    assert r["hat"]["recall"] == 0.5 and r["hat"]["accuracy"] == 0.75


def test_exact_judge_reads_real_sprites(sprites) -> None:
    spec = sprites.manifest["labels"]
    truth = label_matrix(sprites.labels, spec)
    exact = ExactJudge(spec)
    assert torch.equal(exact.score(sprites.images), truth)
    assert exact.agreements == [1.0] * len(sprites) and bool(exact.readable.all())
    one_off = sprites.images[:2].clone()
    one_off[:, :3, 0, 0] = 77
    one_off[:, 3, 0, 0] = 255
    assert ExactJudge(spec, min_agreement=1.0).score(one_off).sum() == 0
    assert torch.equal(ExactJudge(spec).score(one_off), truth[:2])
    noise = torch.randint(
        0, 256, (3, 4, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    judge = ExactJudge(spec)
    assert judge.score(noise).sum() == 0
    assert max(judge.agreements) < 0.95 and not judge.readable.any() and len(judge.readable) == 3
    with pytest.raises(ValueError, match="min_agreement"):
        ExactJudge(spec, min_agreement=0.0)


def test_train_save_load_judge(sprites, tmp_path: Path) -> None:
    judge, report = train_judge(sprites, steps=3, batch_size=8, width=4)
    assert report["n_train"] + report["n_heldout"] == len(sprites)
    assert set(report["traits"]) >= {"hair=mohawk", "accessory=crown"}
    path = save_judge(tmp_path / "j.safetensors", judge, report)
    again, rep2 = load_judge(path)
    assert rep2 == json.loads(json.dumps(report))
    assert torch.equal(again.score(sprites.images[:5]), judge.score(sprites.images[:5]))
    with pytest.raises(SpriteganError, match="no judge file"):
        load_judge(tmp_path / "missing.safetensors")


def test_judge_needs_labels(tmp_path: Path) -> None:
    ds = open_dataset("builtin:sprites:8")
    ds.manifest["labels"] = None
    with pytest.raises(SpriteganError, match="labelled data"):
        train_judge(ds, steps=1)


def test_traits_judge_and_eval_cli(tmp_path: Path, capsys) -> None:
    jpath = tmp_path / "judge.safetensors"
    argv = ["traits", "judge", "--data", "builtin:sprites:48", "--out", str(jpath), "--steps", "2"]
    assert main(argv + ["--batch-size", "8"]) == 0
    assert "| hair=mohawk |" in capsys.readouterr().out
    run = tmp_path / "run"
    argv = ["train", "--data", "builtin:sprites:48", "--conditional", "--out", str(run), "--steps", "1"]
    for kv in ("model.z_dim=8", "model.g_width=8", "model.d_width=8", "model.max_channels=32"):
        argv += ["--set", kv]
    assert main(argv + ["--set", "train.batch_size=8", "--set", "train.sample_grid=4", "--no-progress"]) == 0
    out = tmp_path / "eval"
    assert (
        main(["traits", "eval", str(run), "--judge", "exact", "-n", "2", "--palette", "--out", str(out)]) == 0
    )
    result = json.loads((out / "traits.json").read_text())
    assert len(result["traits"]) == 39 and 0.0 <= result["mean_rate"] <= 1.0
    assert "| accessory=crown |" in (out / "traits.md").read_text()
    row = result["traits"][0]
    assert 1 <= row["distinct_images"] <= 2 and row["accessories"] == row["asked_accessories"] == 0.0
    assert main(["traits", "eval", str(run), "--judge", str(jpath), "-n", "2", "--out", str(out)]) == 0
    assert json.loads((out / "traits.json").read_text())["mean_judge_recall"] is not None
    capsys.readouterr()
    assert main(["traits", "eval", str(run), "--judge", "exact", "-n", "2", "--min-agreement", "1.5"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "spritegan traits: error: --min-agreement: min_agreement must be in (0, 1], got 1.5"
    ]


def test_variety_counts_images_trait_sets_and_accessories() -> None:
    from spritegan.labels import binary_mask
    from spritegan.metrics.traits import variety

    spec = {
        "columns": {
            "type": {"kind": "categorical", "classes": ["a", "b"]},
            "hat": {"kind": "binary"},
            "pipe": {"kind": "binary"},
        }
    }
    binary = binary_mask(spec)  # layout: type=a, type=b, hat, pipe
    assert binary.tolist() == [False, False, True, True]
    same = torch.zeros(4, 4, 2, 2, dtype=torch.uint8)  # four identical bare heads...
    bare = torch.tensor([[1.0, 0, 0, 0]] * 4)
    asked = torch.tensor(
        [[1.0, 0, 1, 1], [1, 0, 1, 0], [1, 0, 0, 1], [1, 0, 1, 1]]
    )  # ...asked with 1.5 on average
    got = variety(same, bare, asked, binary)
    assert got == {"distinct_images": 1, "judged_sets": 1, "accessories": 0.0, "asked_accessories": 1.5}
    varied = same.clone()
    varied[1, 0, 0, 0], varied[2, 1, 1, 1] = 5, 9
    got = variety(varied, asked, asked, binary)
    assert got["distinct_images"] == 3 and got["judged_sets"] == 3 and got["accessories"] == 1.5


def test_domain_inception_score_bounds():
    import numpy as np

    from spritegan.metrics.domain_is import inception_score_from_probs

    confident_uniform = np.eye(5)[np.arange(1000) % 5]  # every class, each predicted with certainty
    assert abs(inception_score_from_probs(confident_uniform)[0] - 5.0) < 1e-6
    collapsed = np.tile(np.eye(5)[0], (1000, 1))  # one class only
    assert abs(inception_score_from_probs(collapsed)[0] - 1.0) < 1e-6
    unsure = np.full((1000, 5), 0.2)  # no class recognisable
    assert abs(inception_score_from_probs(unsure)[0] - 1.0) < 1e-6


def test_traits_is_command_on_a_tiny_judge(tmp_path, capsys):
    import json

    from spritegan.cli import main
    from spritegan.data.dataset import open_dataset
    from spritegan.metrics.judge import TraitJudge, save_judge

    ds = open_dataset("builtin:sprites:64")
    judge = TraitJudge(4, [32, 32], ds.manifest["labels"], width=4)
    path = save_judge(tmp_path / "j.safetensors", judge, {"n_heldout": 0, "traits": {}})
    run = tmp_path / "run"
    argv = [
        "train",
        "--data",
        "builtin:sprites:64",
        "--out",
        str(run),
        "--steps",
        "1",
        "--batch-size",
        "8",
        "--no-progress",
        "--set",
        "model.g_width=8",
        "--set",
        "model.d_width=8",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["traits", "is", str(run), "--judge", str(path), "--column", "skin", "-n", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 1.0 <= result["is_mean"] <= result["ceiling"] == 5
    assert main(["traits", "is", str(run), "--judge", str(path), "--column", "nope", "-n", "20"]) == 2


def test_open_exact_judge_needs_built_in_sprites_with_labels(sprites) -> None:
    """`--judge exact` reads an unconditional built-in run by the data's labels; another source, or a run that
    records no labels, is a one-line error."""
    from types import SimpleNamespace

    from spritegan.metrics.traits import open_judge

    free = SimpleNamespace(
        label_spec=None, manifest={"source": "builtin:sprites:96", "labels": sprites.manifest["labels"]}
    )
    judge, report = open_judge("exact", free, 0.85, "runs/free")
    assert isinstance(judge, ExactJudge) and report is None and judge.spec == sprites.manifest["labels"]
    other = SimpleNamespace(label_spec=None, manifest={"source": "punks.png", "labels": {}})
    with pytest.raises(
        SpriteganError, match="--judge exact only reads the built-in sprites; give a judge file"
    ):
        open_judge("exact", other, 0.85, "runs/punks")
    bare = SimpleNamespace(label_spec=None, manifest={"source": "builtin:sprites:96"})
    with pytest.raises(
        SpriteganError, match="--judge exact: runs/old records no trait labels of its built-in"
    ):
        open_judge("exact", bare, 0.85, "runs/old")
