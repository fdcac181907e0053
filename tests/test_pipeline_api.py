"""The public Python API (`SpritePipeline.from_pretrained`, a call by seeds and traits, output types) and the
W-space steps every caller shares: the studio's /api/edit on a StyleGAN-style run gives `spritegan edit`'s
sprite, pixel for pixel."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from spritegan.cli import main
from spritegan.errors import SpriteganError
from spritegan.generate.pipeline import SpritePipeline
from studio_fixtures import LABEL_SPEC, make_run

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RUNS/sg: the pinned StyleGAN file as a run; RUNS/cond: a conditional DCGAN."""
    runs = tmp_path_factory.mktemp("api") / "runs"
    (runs / "sg").mkdir(parents=True)
    shutil.copy(DATA / "pinned-stylegan.safetensors", runs / "sg" / "generator.safetensors")
    make_run(runs, "cond", labels=LABEL_SPEC)
    return runs


def test_from_pretrained_folder_or_file_and_output_types(runs: Path) -> None:
    pipe = SpritePipeline.from_pretrained(runs / "sg")
    again = SpritePipeline.from_run(runs / "sg" / "generator.safetensors")
    pt = pipe([0, 1, 2], truncation=0.7)
    assert pt.dtype == torch.uint8 and pt.shape == (3, 4, 16, 16)
    assert torch.equal(again([0, 1, 2], truncation=0.7), pt)
    arr = pipe([0, 1, 2], truncation=0.7, output_type="np")
    assert isinstance(arr, np.ndarray) and arr.shape == (3, 16, 16, 4) and arr.dtype == np.uint8
    assert np.array_equal(arr, pt.permute(0, 2, 3, 1).numpy())
    pil = pipe([0, 1, 2], truncation=0.7, output_type="pil")
    assert [im.mode for im in pil] == ["RGBA"] * 3 and np.array_equal(np.asarray(pil[2]), arr[2])
    with pytest.raises(ValueError, match="output_type"):
        pipe([0], output_type="jpg")


def test_save_pretrained_round_trip(runs: Path, tmp_path: Path) -> None:
    pipe = SpritePipeline.from_pretrained(runs / "sg")
    file = pipe.save_pretrained(tmp_path / "copy")
    assert file == tmp_path / "copy" / "generator.safetensors"
    assert torch.equal(SpritePipeline.from_pretrained(tmp_path / "copy")([4, 5]), pipe([4, 5]))


def test_w_space_steps_give_the_seed_sprites(runs: Path) -> None:
    pipe = SpritePipeline.from_pretrained(runs / "sg")
    assert pipe.is_style
    ws = pipe.ws(pipe.latents([3, 9]), truncation=0.7)
    assert ws.shape == (2, pipe.generator.num_ws, pipe.generator.w_dim)
    assert torch.equal(pipe(ws=ws), pipe([3, 9], truncation=0.7))
    assert torch.equal(pipe.postprocess(pipe.render(ws)), pipe([3, 9], truncation=0.7))


def test_traits_by_text_condition_the_call_as_the_cli_does(runs: Path, tmp_path: Path) -> None:
    pipe = SpritePipeline.from_pretrained(runs / "cond")
    alien = pipe([0, 1], traits="type=alien")
    zombie = pipe([0, 1], traits="type=zombie,hat")
    labels = pipe.labels_for("type=alien", [0, 1])
    assert labels.shape == (2, pipe.model_config.cond_dim)
    assert torch.equal(alien, pipe([0, 1], labels=labels)) and not torch.equal(alien, zombie)
    assert (
        main(
            [
                "generate",
                str(runs / "cond"),
                "--seeds",
                "0,1",
                "--traits",
                "type=zombie,hat",
                "--out",
                str(tmp_path / "g"),
            ]
        )
        == 0
    )
    for i, seed in enumerate([0, 1]):
        png = np.asarray(Image.open(tmp_path / "g" / f"seed{seed:06d}.png"))
        assert np.array_equal(png, zombie[i].permute(1, 2, 0).numpy())
    assert pipe.labels_for("none", [0, 1]) is None
    with pytest.raises(SpriteganError):
        pipe([0], traits="type=robot")
    with pytest.raises(SpriteganError, match="StyleGAN"):
        pipe.ws(pipe.latents([0]))


def test_studio_edit_applies_w_directions_like_the_cli(runs: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from spritegan.serve.app import create_app

    run = runs / "sg"
    assert main(["edit", str(run), "--find-directions", "--pca", "2", "--samples", "64"]) == 0
    strengths = [-2.0, 2.5]
    out = tmp_path / "strip.png"
    argv = ["edit", str(run), "--seed", "5", "--direction", "pca01", "--truncation", "0.7", "--scale", "3"]
    assert main([*argv, "--strengths", ",".join(map(str, strengths)), "--out", str(out)]) == 0
    strip = np.asarray(Image.open(out))
    client = TestClient(create_app(runs), base_url="http://127.0.0.1:8000")
    for i, amount in enumerate(strengths):
        body = {"model": "sg", "seed": 5, "directions": {"pca01": amount}, "truncation": 0.7, "scale": 3}
        r = client.post("/api/edit", json=body)
        assert r.status_code == 200, r.text
        sprite = np.asarray(Image.open(io.BytesIO(r.content)))
        x = 1 + i * (16 * 3 + 1)  # the strip has a 1-pixel transparent border between sprites
        assert np.array_equal(sprite, strip[1 : 1 + 48, x : x + 48])
    moved = client.post("/api/edit", json={"model": "sg", "seed": 5, "directions": {"pca01": 0.0}})
    plain = client.post("/api/generate", json={"model": "sg", "seeds": [5]})
    assert moved.content == plain.content


def test_studio_morph_on_a_w_run_gives_the_cli_frames(runs: Path, tmp_path: Path) -> None:
    """/api/morph on a StyleGAN-style run walks W as `spritegan morph` does: the same strip, byte for byte."""
    from fastapi.testclient import TestClient

    from spritegan.serve.app import create_app

    gif = tmp_path / "m.gif"
    argv = ["morph", str(runs / "sg"), "--seeds", "3,17", "--frames", "6", "--strip-frames", "6"]
    assert main([*argv, "--truncation", "0.7", "--scale", "2", "--out", str(gif)]) == 0
    client = TestClient(create_app(runs), base_url="http://127.0.0.1:8000")
    body = {"model": "sg", "seed_a": 3, "seed_b": 17, "frames": 6, "truncation": 0.7, "scale": 2}
    r = client.post("/api/morph", json=body)
    assert r.status_code == 200, r.text
    studio = np.asarray(Image.open(io.BytesIO(r.content)))
    assert np.array_equal(studio, np.asarray(Image.open(tmp_path / "m_strip.png")))
    z_path = client.post("/api/morph", json={**body, "mode": "lerp"})
    assert z_path.content == r.content  # W runs ignore the z mode


def test_readme_python_api_example_runs(runs: Path, tmp_path: Path, monkeypatch) -> None:
    """The README's "Python API" block, with its two run folders pointed at the tiny test runs."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace('"runs/demo"', repr(str(runs / "sg"))).replace(
        '"runs/punks-cond"', repr(str(runs / "cond"))
    )
    code = code.replace("type=alien,earring", "type=alien,hat")  # the tiny run's traits
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own README
    assert sorted(p.name for p in tmp_path.glob("sprite-*.png")) == [f"sprite-{i}.png" for i in range(4)]
    assert scope["batch"].shape == (16, 16, 16, 4) and len(scope["images"]) == 3
    assert torch.equal(scope["same"], scope["pipe"]([7], truncation=0.7))
    assert (tmp_path / "shared" / "demo-model" / "generator.safetensors").is_file()


def test_one_trait_encoder_for_text_and_json() -> None:
    """The studio's JSON traits and the CLI's trait text set label columns through one function."""
    from spritegan.generate.traits import parse_trait_request, trait_mapping

    text = parse_trait_request("type=zombie,hat=0", LABEL_SPEC)
    mapping = trait_mapping({"type": 1, "hat": False}, LABEL_SPEC)
    assert all(torch.equal(a, b) for a, b in zip(text, mapping, strict=True))
    with pytest.raises(SpriteganError, match="not a class; valid classes: alien, zombie"):
        trait_mapping({"type": "robot"}, LABEL_SPEC)
