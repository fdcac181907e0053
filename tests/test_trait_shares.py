"""Trait shares (unconditional diversity read by a judge): hand-made readings with known answers, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from spritegan.cli import main
from spritegan.errors import SpriteganError
from spritegan.labels import label_matrix
from spritegan.metrics.trait_shares import shares_markdown, trait_shares

# layout: type=a, type=b, type=c (categorical), then binary hat, pipe
SPEC = {
    "type": {"kind": "categorical", "classes": ["a", "b", "c"]},
    "hat": {"kind": "binary"},
    "pipe": {"kind": "binary"},
}


def readings(rows: list[tuple[str, int, int]], counts: list[int]) -> torch.Tensor:
    """Label vectors: `counts[k]` copies of rows[k] = (type, hat, pipe)."""
    out = []
    for (kind, hat, pipe), count in zip(rows, counts, strict=True):
        vec = [float(kind == c) for c in "abc"] + [float(hat), float(pipe)]
        out += [vec] * count
    return torch.tensor(out)


def by_name(result: dict) -> dict:
    return {row["trait"]: row for row in result["traits"]}


def test_known_shares_ratios_and_verdicts() -> None:
    # real, 1000 images: a 600 (hat on 300 of them), b 398 (pipe on all), c 2 (0.2%: too rare to check)
    real = readings([("a", 1, 0), ("a", 0, 0), ("b", 0, 1), ("c", 0, 0)], [300, 300, 398, 2])
    # generated, 500 images: a 400 (hat on 50), b 100 (pipe on all), c never
    fake = readings([("a", 1, 0), ("a", 0, 0), ("b", 0, 1)], [50, 350, 100])
    result = trait_shares(real, fake, SPEC)
    rows = by_name(result)
    assert rows["type=a"]["real_share"] == pytest.approx(0.6)
    assert rows["type=a"]["generated_share"] == pytest.approx(0.8)
    assert rows["type=a"]["ratio"] == pytest.approx(0.8 / 0.6) and rows["type=a"]["ok"] is True
    assert rows["type=b"]["ratio"] == pytest.approx(0.2 / 0.398) and rows["type=b"]["ok"] is True
    assert rows["type=c"]["checked"] is False and rows["type=c"]["ok"] is None  # 0.2% < 0.5%
    assert rows["type=c"]["ratio"] == 0.0
    assert rows["hat"]["real_share"] == pytest.approx(0.3) and rows["hat"][
        "generated_share"
    ] == pytest.approx(0.1)
    assert rows["hat"]["ratio"] == pytest.approx(1 / 3) and rows["hat"]["ok"] is False
    assert rows["pipe"]["ok"] is True
    assert result["checked"] == 4 and result["failing"] == 1 and result["failing_traits"] == ["hat"]
    # binary traits per image: real (300 + 398) / 1000 = 0.698; generated (50 + 100) / 500 = 0.3
    count = result["binary_per_image"]
    assert count["real"] == pytest.approx(0.698) and count["generated"] == pytest.approx(0.3)
    assert count["ok"] is False and result["passes"] is False
    assert [row["kind"] for row in result["traits"]] == ["categorical"] * 3 + ["binary"] * 2


def test_edges_of_the_2x_band_and_the_10_percent_count() -> None:
    # real: 100 images; hat on 20, pipe on 30 -> 0.5 per image
    real = readings([("a", 1, 0), ("a", 0, 1), ("a", 0, 0)], [20, 30, 50])
    # hat exactly 2x (40), pipe exactly half (15): both inside; per image (40 + 15) / 100 = 0.55: +10%, inside
    fake = readings([("a", 1, 0), ("a", 0, 1), ("a", 0, 0)], [40, 15, 45])
    result = trait_shares(real, fake, SPEC)
    assert by_name(result)["hat"]["ok"] is True and by_name(result)["pipe"]["ok"] is True
    assert (
        result["binary_per_image"]["ratio"] == pytest.approx(1.1) and result["binary_per_image"]["ok"] is True
    )
    assert result["passes"] is True and result["failing"] == 0
    # one more hat: 41% is over 2x of 20%, and 0.56 per image is 12% over
    fake = readings([("a", 1, 0), ("a", 0, 1), ("a", 0, 0)], [41, 15, 44])
    result = trait_shares(real, fake, SPEC)
    assert by_name(result)["hat"]["ok"] is False and result["binary_per_image"]["ok"] is False
    # a checked trait that never appears fails and is listed as missing; an unseen-in-real one is not checked
    fake = readings([("b", 0, 1)], [10])
    result = trait_shares(real, fake, SPEC)
    assert "hat" in result["missing_traits"] and by_name(result)["hat"]["ratio"] == 0.0
    assert by_name(result)["type=b"]["ratio"] is None and by_name(result)["type=b"]["checked"] is False
    assert result["failing_traits"] == ["type=a", "hat", "pipe"]


def test_thresholds_are_settings_and_bad_shapes_are_refused() -> None:
    real = readings([("a", 1, 0), ("b", 0, 0)], [3, 97])  # hat 3%
    fake = readings([("b", 0, 0)], [100])
    assert by_name(trait_shares(real, fake, SPEC))["hat"]["ok"] is False
    assert by_name(trait_shares(real, fake, SPEC, min_share=0.05))["hat"]["checked"] is False
    with pytest.raises(ValueError, match=r"generated readings must be \(N, 5\)"):
        trait_shares(real, fake[:, :4], SPEC)
    with pytest.raises(ValueError, match="real readings are empty"):
        trait_shares(real[:0], fake, SPEC)


def test_markdown_lists_checked_traits_and_the_per_image_line() -> None:
    real = readings([("a", 1, 0), ("b", 0, 1), ("c", 0, 0)], [500, 499, 1])
    fake = readings([("a", 1, 0), ("b", 0, 0)], [50, 50])
    text = shares_markdown(trait_shares(real, fake, SPEC), all_traits=False)
    assert "| hat | 50.00 | 50.00 | 1.00 | yes |" in text
    assert "| pipe | 49.90 | 0.00 | 0.00 | **no** |" in text
    assert "type=c" not in text and "(1 traits under 0.5% of real images not listed)" in text
    assert "binary traits (accessories) per image: real 1.00, generated 0.50" in text
    assert "1 of 4 traits with real share >= 0.5% are outside 2x of it: pipe" in text
    assert "| type=c | 0.10 | 0.00 | 0.00 | (rare) |" in shares_markdown(trait_shares(real, fake, SPEC))


def _constant_judge(
    spec: dict, size: list[int], path: Path, data: dict | None = None, traits: dict | None = None
) -> Path:
    """A judge that reads class 0 of every categorical column in any image (so real and fake agree)."""
    from spritegan.labels import label_layout
    from spritegan.metrics.judge import TraitJudge, save_judge

    judge = TraitJudge(4, size, spec, width=4)
    last = judge.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(-1.0)
        for col in label_layout(spec):
            last.bias[col.offset] = 1.0
    report = {"n_heldout": 0, "traits": traits or {}, **({"data": data} if data else {})}
    return save_judge(path, judge, report)


def test_traits_shares_cli_on_a_tiny_run(tiny_run: Path, tmp_path: Path, capsys) -> None:
    from spritegan.data.dataset import open_dataset

    ds = open_dataset("builtin:sprites:64")
    data = {"source": "builtin:sprites:64", "sha256": ds.manifest["sha256"]}
    held = {"accessory=crown": {"n": 4, "recall": 1.0}, "accessory=hat": {"n": 5, "recall": 0.4}}
    judge = _constant_judge(ds.manifest["labels"], [32, 32], tmp_path / "j.safetensors", data, held)
    out = tmp_path / "shares.json"
    argv = ["traits", "shares", str(tiny_run), "--judge", str(judge), "-n", "12", "--batch-size", "5"]
    assert main(argv + ["--out", str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["n_generated"] == 12 and result["n_real"] == 64 and result["passes"] is True
    assert result["checked"] == 8 and result["failing"] == 0  # class 0 of each of the 8 columns, ratio 1
    assert by_name(result)["accessory=crown"]["ratio"] == 1.0
    assert 0.0 <= result["near_copies"]["share"] <= 1.0
    assert result["near_copies"]["real_floor"]["n"] == 32 and "real floor" in printed
    assert "| accessory=crown | 100.00 | 100.00 | 1.00 | yes |" in printed and "near copies:" in printed
    assert (
        result["unreadable_traits"] == ["accessory=hat"]
        and by_name(result)["accessory=crown"]["judge_heldout_recall"] == 1.0
    )
    assert "held-out real images, so their shares say little: accessory=hat" in printed
    # the same seeds give the same samples: a second run agrees, and the file is not overwritten unasked
    assert main(argv + ["--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"spritegan traits: error: --out {out}: file exists; choose another name or add --overwrite"
    )
    assert main(argv + ["--out", str(out), "--overwrite"]) == 0
    assert json.loads(out.read_text())["near_copies"] == result["near_copies"]


def test_traits_shares_cli_refuses_a_judge_of_other_data(tiny_run: Path, tmp_path: Path, capsys) -> None:
    from spritegan.data.dataset import open_dataset

    spec = open_dataset("builtin:sprites:64").manifest["labels"]
    argv = ["traits", "shares", str(tiny_run), "-n", "4", "--out", str(tmp_path / "s.json"), "--judge"]
    other = _constant_judge(
        spec, [32, 32], tmp_path / "o.safetensors", {"source": "x.png", "sha256": "0" * 64}
    )
    assert main(argv + [str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        f"spritegan traits: error: --judge {other}: judge was trained on other images (x.png)"
    )
    small = _constant_judge(spec, [24, 24], tmp_path / "s.safetensors")
    assert main(argv + [str(small)]) == 2
    assert "judge reads 4-channel 24x24 images, but" in capsys.readouterr().err
    labels = _constant_judge(
        {"kind": {"kind": "categorical", "classes": ["x", "y"]}}, [32, 32], tmp_path / "l.safetensors"
    )
    assert main(argv + [str(labels)]) == 2
    assert "judge was trained on other labels than" in capsys.readouterr().err
    assert main(argv + [str(tmp_path / "missing.safetensors")]) == 2
    assert "no judge file here" in capsys.readouterr().err
    assert main(argv + [str(small), "--traits", "random"]) == 2
    assert "is unconditional; its samples take no traits" in capsys.readouterr().err
    assert main(argv + [str(small), "-n", "0"]) == 2
    assert capsys.readouterr().err.strip() == "spritegan traits: error: -n 0: must be at least 1"
    assert not (tmp_path / "s.json").exists()


def test_traits_shares_cli_on_a_conditional_run(tmp_path: Path, capsys) -> None:
    from spritegan.data.dataset import open_dataset

    run = tmp_path / "run"
    argv = ["train", "--data", "builtin:sprites:48", "--conditional", "--out", str(run), "--steps", "1"]
    for kv in ("model.z_dim=8", "model.g_width=8", "model.d_width=8", "model.max_channels=32"):
        argv += ["--set", kv]
    assert main(argv + ["--set", "train.batch_size=8", "--set", "train.sample_grid=4", "--no-progress"]) == 0
    judge = _constant_judge(
        open_dataset("builtin:sprites:48").manifest["labels"], [32, 32], tmp_path / "j.safetensors"
    )
    for mode in ("none", "random"):
        out = tmp_path / f"{mode}.json"
        assert main(["traits", "shares", str(run), "--judge", str(judge), "-n", "6", "--traits", mode]) == 0
        capsys.readouterr()
        result = json.loads((run / "trait-shares.json").read_text())
        assert result["conditioning"] == mode and result["n_generated"] == 6 and result["passes"] is True
        (run / "trait-shares.json").rename(out)
    for agree in ("0", "2.5"):
        out = tmp_path / f"agree{agree}.json"
        argv = ["traits", "shares", str(run), "--judge", str(judge), "-n", "4", "--agree", agree]
        assert main(argv + ["--out", str(out)]) == 0
        assert f"palette neighbour agreement {agree}" in capsys.readouterr().out
        assert json.loads(out.read_text())["palette_agree"] == float(agree)


def test_a_cluster_column_is_not_a_label_the_judge_must_know(tmp_path: Path) -> None:
    """A data.clusters run carries a `cluster` column beside the data's labels: a judge of those labels fits."""
    from types import SimpleNamespace

    from spritegan.errors import SpriteganError
    from spritegan.metrics.trait_shares import check_judge_fits

    spec = {"kind": {"kind": "categorical", "classes": ["x", "y"]}}
    cluster = {"kind": "categorical", "classes": ["c00", "c01"]}
    judge = SimpleNamespace(size=[24, 24], channels=4, spec=spec)
    manifest = {"size": [24, 24], "channels": 4, "labels": {**spec, "cluster": cluster}}
    check_judge_fits(judge, {}, SimpleNamespace(manifest=manifest), "j", "run")
    check_judge_fits(
        judge, {}, SimpleNamespace(manifest={**manifest, "labels": {"cluster": cluster}}), "j", "r"
    )
    other = {**manifest, "labels": {"other": spec["kind"], "cluster": cluster}}
    with pytest.raises(SpriteganError, match="other labels"):
        check_judge_fits(judge, {}, SimpleNamespace(manifest=other), "j", "run")


def test_exact_judge_shares_are_over_the_sprites_it_reads() -> None:
    """Built-in sprites: the exact judge declines what is not within 85% of a valid sprite; the shares are
    taken over the samples it read, and how many it read is reported."""
    from spritegan.data.dataset import open_dataset
    from spritegan.metrics.judge import ExactJudge
    from spritegan.metrics.trait_shares import measure_trait_shares

    ds = open_dataset("builtin:sprites:64")
    noise = torch.randint(
        0, 256, (2, 4, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    samples = torch.cat([ds.images[:2], noise])  # two real sprites, two unreadable

    def pipe(seeds, labels=None):
        return samples[list(seeds)]

    judge = ExactJudge(ds.manifest["labels"])
    result = measure_trait_shares(pipe, judge, ds.images, n=4, batch_size=3, progress=False)
    assert result["read_by_judge"] == {"real": 64, "generated": 2, "real_share": 1.0, "generated_share": 0.5}
    assert result["n_generated"] == 2 and result["n_real"] == 64
    first_two = label_matrix(ds.labels, ds.manifest["labels"])[:2].mean(0)
    shares = torch.tensor([row["generated_share"] for row in result["traits"]], dtype=torch.float64)
    assert torch.equal(shares, first_two.double())
    with pytest.raises(SpriteganError, match="reads none of the 2 samples as a sprite"):
        measure_trait_shares(lambda seeds, labels=None: noise, judge, ds.images, n=2, progress=False)


def test_traits_shares_cli_exact_judge(tiny_run: Path, tmp_path: Path, capsys) -> None:
    """`--judge exact` needs a run on the built-in sprites, and says so in one line when it reads nothing."""
    out = tmp_path / "s.json"
    argv = ["traits", "shares", str(tiny_run), "--judge", "exact", "-n", "4", "--out", str(out)]
    assert main(argv) == 2  # a 4-step G draws no sprite the judge can read
    assert capsys.readouterr().err.strip() == (
        "spritegan traits: error: the judge reads none of the 4 samples as a sprite: no shares to compare"
    )
    assert not out.exists()


def test_traits_shares_cli_says_how_many_samples_the_exact_judge_read(
    tiny_run: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """Half the samples unreadable: the command says the judge read 2 of 4 and takes the shares over those."""
    from spritegan.data.dataset import open_dataset
    from spritegan.generate.pipeline import SpritePipeline

    real = open_dataset("builtin:sprites:64").images
    noise = torch.randint(
        0, 256, (2, 4, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2)
    )
    samples = torch.cat([real[:2], noise])
    monkeypatch.setattr(SpritePipeline, "__call__", lambda self, seeds, labels=None: samples[list(seeds)])
    out = tmp_path / "s.json"
    assert main(["traits", "shares", str(tiny_run), "--judge", "exact", "-n", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "the judge read 2 of 4 samples as sprites (50.0%) and 64 of 64 training images" in printed
    assert "near copies: 100.00% of 4 samples" not in printed and "of 4 samples within MAD" in printed
    assert json.loads(out.read_text())["n_generated"] == 2
