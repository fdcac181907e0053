"""Trait sets: parsing, errors, descriptions, the label table, and `generate --traits` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from spritegan.cli import main
from spritegan.errors import SpriteganError
from spritegan.generate.pipeline import SpritePipeline
from spritegan.generate.traits import (
    LabelTable,
    complete_traits,
    describe,
    load_label_table,
    new_traits,
    parse_traits,
    random_traits,
    seen_combination,
    valid_traits,
)
from spritegan.labels import label_dim

SPEC = {
    "type": {"kind": "categorical", "classes": ["alien", "ape", "female", "male"]},
    "earring": {"kind": "binary"},
    "hoodie": {"kind": "binary"},
}
# layout: type (0-3), earring (4), hoodie (5)
ROWS = torch.tensor(
    [
        [0, 0, 0, 1, 1, 0],
        [0, 0, 0, 1, 1, 0],
        [0, 0, 1, 0, 0, 1],
        [1, 0, 0, 0, 1, 0],
    ],
    dtype=torch.float32,
)


def test_parse_categorical_binary_case_and_bare_class() -> None:
    v = parse_traits("Type=ALIEN, earring,hoodie=0", SPEC)
    assert v.tolist() == [1, 0, 0, 0, 1, 0]
    assert parse_traits("female,hoodie=1", SPEC).tolist() == [0, 0, 1, 0, 0, 1]
    assert describe(v, SPEC) == "type=alien, earring"
    assert describe(torch.zeros(label_dim(SPEC)), SPEC) == "(unconditional)"


def test_misspelt_trait_lists_valid_ones_and_closest() -> None:
    with pytest.raises(SpriteganError) as err:
        parse_traits("type=alien,earing", SPEC)
    msg = str(err.value)
    assert "'earring'" in msg and "did you mean" in msg and "type=male" in msg
    with pytest.raises(SpriteganError, match="did you mean 'type=alien'"):
        parse_traits("type=alein", SPEC)
    with pytest.raises(SpriteganError, match="yes/no"):
        parse_traits("earring=big", SPEC)
    with pytest.raises(SpriteganError, match="unconditional|no labels"):
        parse_traits("earring", None)
    assert "hoodie" in valid_traits(SPEC)


def test_table_random_seen_and_complete() -> None:
    table = LabelTable.from_dict(json.loads(json.dumps(LabelTable.from_matrix(ROWS).to_dict())))
    assert sorted(table.counts) == [1, 1, 2]
    assert table.frequencies().tolist() == [1, 0, 1, 2, 3, 1]
    draws = random_traits(200, table, torch.Generator().manual_seed(0))
    assert draws.shape == (200, 6)
    assert {tuple(r) for r in draws.int().tolist()} <= {tuple(r) for r in ROWS.int().tolist()}
    assert seen_combination(parse_traits("male,earring", SPEC), table)
    assert not seen_combination(parse_traits("alien,hoodie", SPEC), table)
    assert not seen_combination(parse_traits("male", SPEC), table, exact=True)
    filled = complete_traits(parse_traits("hoodie", SPEC), 5, SPEC, table, torch.Generator().manual_seed(0))
    assert (filled[:, 2] == 1).all() and (filled[:, 5] == 1).all()
    unseen = complete_traits(parse_traits("ape,hoodie", SPEC), 3, SPEC, table)
    assert (unseen[:, 1] == 1).all()


def test_new_traits_are_not_training_rows_and_follow_shares() -> None:
    table = LabelTable.from_matrix(ROWS)
    draws = new_traits(400, SPEC, table, torch.Generator().manual_seed(0))
    assert draws.shape == (400, 6)
    assert (draws[:, :4].sum(1) == 1).all()  # one type each
    seen = {tuple(r) for r in ROWS.int().tolist()}
    assert not {tuple(r) for r in draws.int().tolist()} & seen
    assert draws[:, 1].sum() == 0  # ape: no training image, share 0
    again = new_traits(400, SPEC, table, torch.Generator().manual_seed(0))
    assert torch.equal(draws, again)
    only = LabelTable.from_matrix(torch.tensor([[1.0, 0, 0, 0, 0, 0]]))  # every draw is the one training row
    assert new_traits(3, SPEC, only, tries=4).tolist() == [[1, 0, 0, 0, 0, 0]] * 3


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory) -> Path:
    """A 2-step conditional run on 64 built-in sprites, trained through the CLI."""
    run = tmp_path_factory.mktemp("cond") / "run"
    argv = ["train", "--data", "builtin:sprites:64", "--conditional", "--out", str(run), "--steps", "2"]
    for kv in ("model.z_dim=8", "model.g_width=8", "model.d_width=8", "model.max_channels=32"):
        argv += ["--set", kv]
    argv += ["--set", "train.batch_size=8", "--set", "train.sample_grid=4", "--no-progress"]
    assert main(argv) == 0
    return run


def test_generate_with_traits_end_to_end(cond_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "crowns"
    assert (
        main(
            [
                "generate",
                str(cond_run),
                "--traits",
                "accessory=crown,hair=mohawk",
                "-n",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    record = json.loads((out / "generation.json").read_text())
    assert all("accessory=crown" in t and "hair=mohawk" in t for t in record["traits"])
    assert len(list(out.glob("seed*.png"))) == 3
    assert (
        main(["generate", str(cond_run), "--traits", "random", "-n", "4", "--out", str(tmp_path / "r")]) == 0
    )
    table = load_label_table(cond_run)
    assert table is not None and sum(table.counts) == 64
    assert main(["generate", str(cond_run), "--traits", "new", "-n", "4", "--out", str(tmp_path / "n")]) == 0
    made = json.loads((tmp_path / "n" / "generation.json").read_text())["traits"]
    asked = SpritePipeline.from_run(cond_run).labels_for("new", list(range(4)))
    assert len(made) == 4 and not any(seen_combination(row, table, exact=True) for row in asked)
    assert main(["generate", str(cond_run), "--traits", "accesory=crown", "--out", str(tmp_path / "x")]) == 2
    assert "did you mean 'accessory=crown'" in capsys.readouterr().err


def test_generate_warns_on_unseen_combination(cond_run: Path, tmp_path: Path, capsys) -> None:
    table = load_label_table(cond_run)
    spec = SpritePipeline.from_run(cond_run).label_spec
    unseen = None
    for a in ("hat", "crown", "glasses", "sword", "shield"):
        for h in ("none", "short", "long", "mohawk", "spiky", "ponytail"):
            for s in ("pale", "light", "tan", "brown", "dark"):
                text = f"accessory={a},hair={h},skin={s}"
                if not seen_combination(parse_traits(text, spec), table):
                    unseen = text
    assert unseen is not None
    assert main(["generate", str(cond_run), "--traits", unseen, "-n", "1", "--out", str(tmp_path / "u")]) == 0
    assert "never occur together" in capsys.readouterr().err


def test_traits_on_unconditional_model_is_a_clear_error(tiny_run: Path, tmp_path: Path, capsys) -> None:
    assert main(["generate", str(tiny_run), "--traits", "hair=long", "--out", str(tmp_path / "o")]) == 2
    assert "unconditional" in capsys.readouterr().err


def test_traits_list(cond_run: Path, capsys) -> None:
    assert main(["traits", "list", str(cond_run)]) == 0
    out = capsys.readouterr().out
    assert "accessory=crown" in out and "distinct trait combinations in 64 training images" in out


def test_traits_sheet(cond_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "by-hair.png"
    assert main(["traits", "sheet", str(cond_run), "--column", "hair", "-n", "3", "--out", str(out)]) == 0
    sheet = Image.open(out)
    assert sheet.size == (3 * 65 + 1, 6 * 65 + 1)
    rows = "accessory=crown;accessory=sword,hair=long"
    assert main(["traits", "sheet", str(cond_run), "--rows", rows, "-n", "2", "--out", str(out)]) == 0
    assert main(["traits", "sheet", str(cond_run), "--column", "nope", "--out", str(out)]) == 2


def test_balance_weights_lift_rare_classes() -> None:
    from types import SimpleNamespace

    from spritegan.labels import label_matrix
    from spritegan.train.loop import Trainer

    types = torch.tensor([0] * 2 + [3] * 98)
    earring = torch.tensor([1, 0] * 50)
    labels = label_matrix({"type": types, "earring": earring, "hoodie": torch.zeros(100)}, SPEC)
    fake = SimpleNamespace(labels=labels, dataset=SimpleNamespace(manifest={"labels": SPEC}))
    w = Trainer._balance_weights(fake)
    assert abs(float(w.sum()) - 1) < 1e-5
    alien_share = float(w[types == 0].sum())
    assert alien_share > 5 * 0.02  # sqrt(2) / (sqrt(2) + sqrt(98)) ~ 0.125, against 2% in the data


@pytest.mark.parametrize("arch", ["dcgan", "stylegan"])
def test_auxiliary_classifier_and_label_norm_train(arch: str, tmp_path: Path) -> None:
    import csv

    run = tmp_path / arch
    argv = ["train", "--data", "builtin:sprites:64", "--conditional", "--out", str(run), "--steps", "2"]
    sets = (
        "model.z_dim=8",
        "model.g_width=8",
        "model.d_width=8",
        "model.max_channels=32",
        "model.cond_aux=true",
    )
    sets += (f"model.arch={arch}", "model.cond_mode=cbn", "train.batch_size=8", "train.sample_grid=4")
    for kv in sets:
        argv += ["--set", kv]
    assert main([*argv, "--no-progress"]) == 0
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert {"aux_d", "aux_g"} <= set(rows[-1])
    assert all(0 < float(rows[-1][k]) < 1e3 for k in ("aux_d", "aux_g"))
    assert (
        main(["generate", str(run), "--traits", "accessory=crown", "-n", "2", "--out", str(tmp_path / "g")])
        == 0
    )


def _zombie_table():
    from spritegan.generate.traits import LabelTable, parse_traits

    spec = {
        "type": {"kind": "categorical", "classes": ["male", "zombie"]},
        "earring": {"kind": "binary"},
        "hat": {"kind": "binary"},
    }
    rows = [parse_traits(t, spec) for t in ("type=zombie,earring", "type=zombie", "type=male,hat")]
    counts = [3, 1, 5]
    labels = torch.cat([r.expand(c, -1) for r, c in zip(rows, counts, strict=True)])
    return spec, LabelTable.from_matrix(labels)


def test_unasked_traits_are_drawn_from_rows_that_agree_with_the_asked_ones():
    from spritegan.generate.traits import complete_traits, parse_trait_request

    spec, table = _zombie_table()
    vec, asked = parse_trait_request("type=zombie", spec)
    out = complete_traits(vec, 400, spec, table, torch.Generator().manual_seed(0), asked)
    assert (out[:, 1] == 1).all() and (out[:, 0] == 0).all()  # every sprite a zombie
    assert (out[:, 3] == 0).all()  # zombies in the data wear no hat
    assert 0.65 < float(out[:, 2].mean()) < 0.85  # earring on 3 of the 4 zombies


def test_a_trait_asked_off_stays_off():
    from spritegan.generate.traits import complete_traits, parse_trait_request

    spec, table = _zombie_table()
    vec, asked = parse_trait_request("type=zombie,earring=0", spec)
    assert bool(asked[2]) and float(vec[2]) == 0.0
    out = complete_traits(vec, 50, spec, table, torch.Generator().manual_seed(0), asked)
    assert (out[:, 2] == 0).all() and (out[:, 1] == 1).all()


def test_free_sampling_draws_each_seeds_traits_from_the_data_independent_of_batch():
    from spritegan.generate.traits import traits_for_seeds

    _, table = _zombie_table()
    many = traits_for_seeds(list(range(2000)), table)
    assert torch.equal(traits_for_seeds([5, 17], table), many[[5, 17]])
    zombie_share = float(many[:, 1].mean())
    assert abs(zombie_share - 4 / 9) < 0.04


def test_free_slot_rows_follow_the_data_not_the_balanced_draws(tmp_path: Path) -> None:
    """With train.balance=class, the rows trained without labels are drawn uniformly from the data, so free
    sampling keeps the data's trait shares (balanced draws leaked rare classes into the free slot)."""
    from conftest import tiny_config
    from spritegan.data.dataset import open_dataset
    from spritegan.tensors import to_model
    from spritegan.train.loop import Trainer, fit_model_to_data

    cfg = tiny_config(
        **{"train.balance": "class", "train.cond_drop": 0.5, "data.source": "builtin:sprites:256"}
    )
    ds = open_dataset(cfg.data.source)
    fit_model_to_data(cfg, ds, conditional=True)
    trainer = Trainer(cfg, ds, tmp_path / "run")
    trainer._weights = torch.zeros(len(ds.images))
    trainer._weights[0] = 1.0  # the balanced draws only ever pick image 0
    first = to_model(ds.images[:1])
    batches = [trainer.real_batch() for _ in range(20)]
    x = torch.cat([b[0] for b in batches])
    is_free = torch.cat([b[1] for b in batches]).abs().sum(1) == 0
    is_first = (x - first).abs().flatten(1).amax(1) < 1e-6
    assert bool(is_first[~is_free].all())  # rows with labels: the balanced draw
    assert 0.35 < float(is_free.float().mean()) < 0.65
    assert float(is_first[is_free].float().mean()) < 0.05  # uniform over 256 images: about 0.4%


def test_eval_samples_a_conditional_run_as_generate_does(cond_run: Path) -> None:
    from spritegan.metrics.evaluate import evaluate_run
    from spritegan.metrics.pixelart import pixelart_metrics

    pipe = SpritePipeline.from_run(cond_run)
    seeds = list(range(6))
    drawn = pipe(seeds, labels=pipe.labels_for(None, seeds))  # generate without --traits
    assert torch.equal(pipe(seeds), drawn)  # the Python API's default draws them the same way
    free = pipe(seeds, traits="none")  # the unconditional slot
    assert torch.equal(pipe(seeds, labels=None), free)
    assert not torch.equal(drawn, free)
    keys = ("pixelart_stray", "pixelart_visible_share")
    assert pixelart_metrics(drawn)["pixelart_stray"] != pixelart_metrics(free)["pixelart_stray"]
    for traits, images, text in (
        (None, drawn, "each seed's traits drawn from the training labels"),
        ("none", free, "unconditional slot"),
    ):
        result = evaluate_run(
            cond_run, samples=6, metrics=["pixelart"], write=False, progress=False, traits=traits
        )
        assert result["conditioning"] == text
        assert {k: result["metrics"][k] for k in keys} == {k: pixelart_metrics(images)[k] for k in keys}


def test_train_points_to_unused_labels(tmp_path, capsys) -> None:
    """Data with labels trained without --conditional gets a note saying what --conditional would add."""
    from spritegan.cli import main
    from spritegan.commands.train import UNUSED_LABELS

    assert main(["train", "--data", "builtin:sprites:16", "--dry-run", "--out", str(tmp_path / "a")]) == 0
    assert f"note: {UNUSED_LABELS}" in capsys.readouterr().out
    argv = [
        "train",
        "--data",
        "builtin:sprites:16",
        "--conditional",
        "--dry-run",
        "--out",
        str(tmp_path / "b"),
    ]
    assert main(argv) == 0
    assert UNUSED_LABELS not in capsys.readouterr().out


def test_completion_per_seed_agrees_with_the_asked_traits_and_is_independent_of_batch():
    from spritegan.generate.traits import complete_traits_for_seeds, parse_trait_request

    spec, table = _zombie_table()
    vec, asked = parse_trait_request("type=zombie", spec)
    many = complete_traits_for_seeds(vec, list(range(1000)), spec, table, asked)
    assert torch.equal(complete_traits_for_seeds(vec, [9, 3], spec, table, asked), many[[9, 3]])
    assert (many[:, 1] == 1).all() and (many[:, 3] == 0).all()  # zombies, and zombies wear no hat
    assert 0.68 < float(many[:, 2].mean()) < 0.82  # earring on 3 of the 4 zombies
    off, off_asked = parse_trait_request("type=zombie,earring=0", spec)
    assert (complete_traits_for_seeds(off, list(range(50)), spec, table, off_asked)[:, 2] == 0).all()
    # no training row agrees: each unasked trait drawn by its own share, the asked ones kept
    none, none_asked = parse_trait_request("type=zombie,hat", spec)
    odd = complete_traits_for_seeds(none, list(range(20)), spec, table, none_asked)
    assert (odd[:, 1] == 1).all() and (odd[:, 3] == 1).all()
    assert torch.equal(complete_traits_for_seeds(vec, [1, 2], spec, None, asked), vec.expand(2, -1))


def test_morph_keeps_the_first_seeds_traits_drawn_from_the_data(cond_run: Path) -> None:
    import argparse

    from spritegan.commands.morph import render_frames

    pipe = SpritePipeline.from_run(cond_run)

    def frames(traits: str | None) -> torch.Tensor:
        args = argparse.Namespace(
            space="z", latent=[], seeds="3,17", frames=4, truncation=1.0, loop=False, traits=traits
        )
        return render_frames(pipe, args)[0]

    drawn = frames(None)
    assert torch.equal(drawn[0], pipe([3])[0])  # the first frame is seed 3 as generate draws it
    assert torch.equal(frames("none")[0], pipe([3], traits="none")[0])
    assert not torch.equal(drawn, frames("none"))
