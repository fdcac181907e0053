import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from spritegan.cli import COMMAND_MODULES, build_parser, main
from spritegan.generate.pipeline import SpritePipeline, latents
from spritegan.generate.postprocess import snap_alpha, snap_palette, upscale
from spritegan.generate.sheet import make_sheet


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def test_generate_writes_pngs_sheet_and_record(tiny_run, tmp_path):
    assert (
        main(
            [
                "generate",
                str(tiny_run),
                "-n",
                "10",
                "--seed",
                "3",
                "--out",
                str(tmp_path / "g"),
                "--scale",
                "4",
            ]
        )
        == 0
    )
    files = sorted(p.name for p in (tmp_path / "g").glob("seed*.png"))
    assert files == [f"seed{s:06d}.png" for s in range(3, 13)]
    img = Image.open(tmp_path / "g" / "seed000003.png")
    assert img.mode == "RGBA" and img.size == (128, 128)
    alpha = np.asarray(img)[:, :, 3]
    assert set(np.unique(alpha)) <= {0, 255}
    assert (tmp_path / "g" / "sheet.png").exists() and (tmp_path / "g" / "generation.json").exists()


def test_same_seed_gives_byte_identical_pngs(tiny_run, tmp_path):
    for name in ("a", "b"):
        assert main(["generate", str(tiny_run), "-n", "6", "--out", str(tmp_path / name)]) == 0
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    main(["generate", str(tiny_run), "--seeds", "2,3", "--out", str(tmp_path / "c")])
    assert _digest(tmp_path / "c")["seed000002.png"] == _digest(tmp_path / "a")["seed000002.png"]


def test_latent_of_a_seed_does_not_depend_on_batch():
    assert torch.equal(latents([5], 16)[0], latents([1, 2, 5], 16)[2])


def test_pipeline_loads_without_training_state(tiny_run):
    pipe = SpritePipeline.from_run(tiny_run / "generator.safetensors")
    out = pipe(n=3, seed=0)
    assert out.dtype == torch.uint8 and out.shape == (3, 4, 32, 32)


def test_snap_alpha_and_palette():
    img = torch.tensor([[[[10, 200]], [[20, 100]], [[30, 50]], [[100, 140]]]], dtype=torch.uint8)  # 1x4x1x2
    out = snap_alpha(img, [0, 128, 255])
    assert out[0, 3].tolist() == [[128, 128]]
    out = snap_alpha(img, [0, 255])
    assert out[0, 3].tolist() == [[0, 255]] and out[0, :3, 0, 0].tolist() == [0, 0, 0]
    pal = snap_palette(out, [[0, 0, 0, 255], [250, 90, 60, 255]])
    assert pal[0, :3, 0, 1].tolist() == [250, 90, 60]
    assert pal[0, :3, 0, 0].tolist() == [0, 0, 0]


@pytest.mark.parametrize("levels", [[0, 255], [0, 100, 200], list(range(256)), [7], [3, 250, 90]])
def test_snap_alpha_is_the_nearest_level_of_every_value(levels):
    every = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(1, 4, 16, 16).clone()
    alpha = snap_alpha(every, levels)[0, 3].flatten().tolist()
    ordered = sorted(levels)
    want = [min(ordered, key=lambda lv: (abs(v - lv), lv)) for v in range(256)]  # ties to the lower level
    assert alpha == want


def test_snap_palette_in_blocks_equals_all_at_once(monkeypatch):
    import spritegan.generate.postprocess as post

    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (3, 4, 9, 7), generator=g, dtype=torch.uint8)
    palette = torch.randint(0, 256, (12, 4), generator=g).tolist()
    whole = snap_palette(imgs, palette)
    monkeypatch.setattr(post, "SNAP_BLOCK", 5)
    assert torch.equal(snap_palette(imgs, palette), whole)


def test_upscale_and_sheet_sizes():
    imgs = torch.randint(0, 255, (5, 3, 8, 8), dtype=torch.uint8)
    assert upscale(imgs, 3).shape == (5, 3, 24, 24)
    sheet = make_sheet(imgs, ncol=3, scale=2, pad=1)
    assert sheet.size == (3 * 17 + 1, 2 * 17 + 1)
    assert make_sheet(imgs, background="checker").mode == "RGB"


@pytest.mark.parametrize("name", COMMAND_MODULES)
def test_every_command_has_help_with_examples(name, capsys):
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices
    if name not in choices:
        pytest.skip(f"{name} not built yet")
    help_text = choices[name].format_help()
    assert "examples:" in help_text and "spritegan " + name in help_text


def test_top_level_help_runs():
    out = subprocess.run([sys.executable, "-m", "spritegan", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "examples:" in out.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "nowhere"], "no generator.safetensors"),
        (["train", "--data", "builtin:sprites:16", "--set", "train.nope=1", "--dry-run"], "unknown setting"),
        (
            ["train", "--data", "builtin:sprites:16", "--set", "train.steps=ten", "--dry-run"],
            "expected a int",
        ),
        (
            ["train", "--data", "builtin:sprites:16", "--preset", "stylegan3000", "--dry-run"],
            "unknown preset",
        ),
        (["train", "--resume", "nowhere"], "no config.yaml"),
        (["train", "--data", r"C:\data\punks", "--out", "x"], "Windows"),
    ],
)
def test_cli_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_train_refuses_to_overwrite_a_run(tiny_run, capsys):
    assert main(["train", "--data", "builtin:sprites:16", "--out", str(tiny_run)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_dry_run_prints_resolved_config(capsys):
    assert main(["train", "--data", "builtin:sprites", "--preset", "cyberpunk-gan", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "epochs: 100.0" in out and "resize: '64'" in out


def test_demo_trains_less_where_the_cpu_trains_in_fp32(monkeypatch):
    """1,500 steps and a width-48 refiner where bf16 pays; 1,000 steps and width 32 on a CPU that trains in
    fp32 (about half the speed, and the refiner about 2x faster at width 32)."""
    from spritegan.commands.demo import demo_budget
    from spritegan.precision import cpu_bf16_pays

    try:
        for forced, budget in (("1", (1500, 48, 30.0)), ("0", (1000, 32, 20.0))):
            monkeypatch.setenv("SPRITEGAN_CPU_BF16", forced)
            cpu_bf16_pays.cache_clear()  # the detection is cached per process
            assert demo_budget("cpu") == budget
    finally:
        monkeypatch.delenv("SPRITEGAN_CPU_BF16")
        cpu_bf16_pays.cache_clear()


def test_demo_trains_the_refiner_of_its_budget(tmp_path, monkeypatch):
    """The run carries the budget's refiner width, also when --steps is given, and its pixels scale with the
    steps (20M at 1,000 steps: 20,000 pixels at 1 step)."""
    from spritegan.precision import cpu_bf16_pays

    monkeypatch.setenv("SPRITEGAN_CPU_BF16", "0")
    cpu_bf16_pays.cache_clear()
    try:
        argv = ["demo", "--steps", "1", "--out", str(tmp_path / "demo"), "--no-progress"]
        assert main(argv) == 0
    finally:
        monkeypatch.delenv("SPRITEGAN_CPU_BF16")
        cpu_bf16_pays.cache_clear()
    pipe = SpritePipeline.from_run(tmp_path / "demo")
    assert pipe.model_config.palette_refiner == 32
    config = (tmp_path / "demo" / "config.yaml").read_text()
    assert "refine_mpix: 0.02\n" in config
    # by default told the sprites' traits (class-conditional batch norm, R1 gamma 0.5, colour usage 1)
    assert pipe.model_config.cond_mode == "cbn" and pipe.label_spec == pipe.manifest["labels"]
    assert "r1_gamma: 0.5\n" in config and "colour_usage: 1.0\n" in config
    assert pipe.model_config.cond_dim == sum(len(c["classes"]) for c in pipe.label_spec.values())


def test_demo_config_free_and_told():
    """The demo tells G the traits (class-conditional batch norm, R1 gamma 0.5, colour usage 1); --free trains
    the preset's free G; the refiner's pixels scale with the steps."""
    from spritegan.commands.demo import DEMO_BF16, DEMO_FP32, demo_config

    free, told = demo_config(DEMO_BF16, 1500, 0, conditional=False), demo_config(DEMO_FP32, 500, 3)
    assert free.model.palette_refiner == 48 and free.train.r1_gamma == 0.2 and free.model.cond_mode == "input"
    assert free.train.refine_mpix == 30.0 and (free.train.steps, free.train.seed) == (1500, 0)
    assert free.train.colour_usage == 0.0
    assert told.model.palette_refiner == 32 and told.train.r1_gamma == 0.5 and told.model.cond_mode == "cbn"
    assert told.train.refine_mpix == 10.0 and (told.train.steps, told.train.seed) == (500, 3)
    assert told.train.colour_usage == 1.0


def test_demo_command_end_to_end(tmp_path, capsys):
    assert main(["demo", "--steps", "2", "--out", str(tmp_path / "demo"), "--no-progress"]) == 0
    assert (tmp_path / "demo" / "demo-sheet.png").exists()
    assert "generated sheet" in capsys.readouterr().out
    # the demo's palette head: every visible pixel is one of the data's colours, every alpha one of its levels
    pipe = SpritePipeline.from_run(tmp_path / "demo")
    assert pipe.model_config.palette_identity == 16  # the sprite preset: D sees the colours' codes
    assert pipe.sampling_record["palette_refine_passes"] == 2  # the refiner trained after the GAN
    assert (tmp_path / "demo" / "samples" / "step-000002-refined.png").exists()
    images = pipe(n=16, seed=0, snap=False)
    pixels = images.permute(0, 2, 3, 1).reshape(-1, 4)
    visible = {tuple(p) for p in pixels[pixels[:, 3] > 0].tolist()}
    assert visible <= {tuple(c) for c in pipe.manifest["palette"]}
    assert set(pixels[:, 3].tolist()) <= set(pipe.manifest["alpha_levels"])


def test_demo_free_trains_the_unconditional_g(tmp_path):
    assert main(["demo", "--steps", "1", "--free", "--out", str(tmp_path / "free"), "--no-progress"]) == 0
    pipe = SpritePipeline.from_run(tmp_path / "free")
    assert not pipe.label_spec and pipe.model_config.cond_dim == 0
    assert "colour_usage: 0.0\n" in (tmp_path / "free" / "config.yaml").read_text()
    with pytest.raises(SystemExit):  # told and free at once is refused by the parser
        main(["demo", "--free", "--conditional", "--out", str(tmp_path / "both")])
