"""The bad-input corpus: every case is refused with exit 2 and one error line, and changes no file.

Each case runs the CLI in-process (`spritegan.cli.main`) inside one shared folder that holds a tiny trained
run, sprite folders, sheets and label files. For each case: exit code 2, the last non-empty stderr line is
the only error line and names the option or file, no traceback, and every file and folder under the shared
folder is byte-identical afterwards (nothing written, nothing deleted, no run folder left behind).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from spritegan.cli import main


def _png(path: Path, arr: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path)


def _sprites(n: int, size: int, channels: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (size, size, channels) if channels > 1 else (size, size)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_run) -> Path:
    """One folder for the whole module: a copy of the tiny run plus the bad (and good) inputs."""
    root = tmp_path_factory.mktemp("bad-inputs")
    shutil.copytree(tiny_run, root / "run")
    for i, arr in enumerate(_sprites(3, 32, 3, 0)):
        _png(root / "rgb" / f"s{i}.png", arr)
    _png(root / "mixed" / "small.png", _sprites(1, 8, 4, 1)[0])
    _png(root / "mixed" / "big.png", _sprites(1, 16, 4, 2)[0])
    _png(root / "mixed" / "bigger.png", _sprites(1, 24, 4, 3)[0])
    (root / "empty").mkdir()
    (root / "broken").mkdir()
    (root / "broken" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "zero").mkdir()
    (root / "zero" / "a.png").write_bytes(b"")
    _png(root / "sheet.png", np.full((48, 50, 4), 255, np.uint8))
    (root / "ragged.csv").write_text("file,kind\ns0.png,a\ns1.png,b,extra\ns2.png,a\n")
    (root / "short.csv").write_text("file,kind,hat\ns0.png,a,1\ns1.png,b\ns2.png,a,0\n")
    (root / "nomatch.csv").write_text("file,kind\nx.png,a\ny.png,b\n")
    (root / "labels.csv").write_text("file,kind\ns0.png,a\ns1.png,b\ns2.png,a\n")
    (root / "file.txt").write_text("a file, not a folder\n")
    (root / "pixels.csv").write_text("1,2,3,4\n5,6,7,8\n9,10,11\n")  # pixel CSV: line 3 is short
    (root / "pixels-word.csv").write_text("1,2,3,4\n5,six,7,8\n")
    (root / "full").mkdir()
    (root / "full" / "keep.txt").write_text("user data\n")
    (root / "exported.onnx").write_bytes(b"an earlier export\n")
    (root / "dir.gif").mkdir()
    (root / "readonly").mkdir()
    # a run whose config names other data, one with a broken config, one whose checkpoints are all damaged
    for name in ("run-rgb", "run-model5", "run-yaml", "run-damaged", "run-config-only", "run-no-checkpoint"):
        shutil.copytree(tiny_run, root / name)
    cfg = (root / "run-rgb" / "config.yaml").read_text()
    (root / "run-rgb" / "config.yaml").write_text(cfg.replace("builtin:sprites:64", str(root / "rgb")))
    (root / "run-model5" / "config.yaml").write_text(cfg.replace("model:\n", "model: 5\nunused:\n", 1))
    (root / "run-yaml").joinpath("config.yaml").write_text("data: [unclosed\n  model: {: :\n")
    for ckpt in (root / "run-damaged" / "checkpoints").glob("*.safetensors"):
        ckpt.write_bytes(b"not a checkpoint")
    shutil.rmtree(root / "run-no-checkpoint" / "checkpoints")
    shutil.rmtree(root / "run-config-only")
    (root / "run-config-only").mkdir()
    (root / "run-config-only" / "config.yaml").write_text(cfg)
    (root / "run-bad-generator").mkdir()
    (root / "run-bad-generator" / "generator.safetensors").write_bytes(b"\x00" * 64)
    return root


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file and a marker for every folder under root (relative paths)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
    return out


@pytest.fixture
def readonly(corpus, monkeypatch):
    """Make corpus/readonly unwritable: chmod 555, and for root (whom chmod does not stop) a failing write."""
    folder = corpus / "readonly"
    folder.chmod(0o555)
    if os.geteuid() == 0:
        import tempfile

        real = tempfile.TemporaryFile

        def deny(*args, dir=None, **kwargs):
            if dir is not None and Path(dir).resolve().is_relative_to(folder.resolve()):
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "TemporaryFile", deny)
    yield folder
    folder.chmod(0o755)


TINY = ["--data", "builtin:sprites:16", "--set", "model.z_dim=8", "--set", "model.g_width=8"]
GPU = torch.cuda.is_available()

# (id, argv with {root} for the shared folder, text the error line must contain)
CASES = [
    # data inspect / prepare
    ("data-missing", ["data", "inspect", "{root}/nowhere"], "does not exist"),
    ("data-empty-folder", ["data", "inspect", "{root}/empty"], "no images"),
    ("data-corrupt-png", ["data", "inspect", "{root}/broken"], "a.png"),
    ("data-zero-bytes", ["data", "inspect", "{root}/zero"], "empty (0 bytes)"),
    ("data-tile-not-multiple", ["data", "inspect", "{root}/sheet.png", "--tile", "24"], "--tile"),
    ("data-tile-on-folder", ["data", "inspect", "{root}/rgb", "--tile", "8"], "--tile"),
    ("data-tile-words", ["data", "inspect", "{root}/sheet.png", "--tile", "big"], "tile"),
    ("data-resize-zero", ["data", "inspect", "{root}/rgb", "--resize", "0"], "resize"),
    ("data-fit-without-resize", ["data", "inspect", "{root}/rgb", "--fit", "pad"], "--fit pad"),
    ("data-pad-too-small", ["data", "inspect", "{root}/mixed", "--pad-to", "10"], "bigger.png at 24x24"),
    ("data-ragged-csv", ["data", "inspect", "{root}/rgb", "--labels", "{root}/ragged.csv"], "line 3"),
    ("data-short-csv-row", ["data", "inspect", "{root}/rgb", "--labels", "{root}/short.csv"], "line 3"),
    ("data-csv-missing", ["data", "inspect", "{root}/rgb", "--labels", "{root}/no.csv"], "no.csv"),
    ("data-csv-no-join", ["data", "inspect", "{root}/rgb", "--labels", "{root}/nomatch.csv"], "nomatch.csv"),
    (
        "data-label-column-unknown",
        ["data", "inspect", "{root}/rgb", "--labels", "{root}/labels.csv", "--label-columns", "nope"],
        "nope",
    ),
    ("data-builtin-zero", ["data", "inspect", "builtin:sprites:0"], "builtin:sprites:0"),
    ("data-builtin-unknown", ["data", "inspect", "builtin:tanks"], "builtin:tanks"),
    ("data-pixel-csv-no-shape", ["data", "inspect", "{root}/pixels.csv"], "--csv-shape"),
    ("data-pixel-csv-short-row", ["data", "inspect", "{root}/pixels.csv", "--csv-shape", "2"], "line 3"),
    ("data-pixel-csv-word", ["data", "inspect", "{root}/pixels-word.csv", "--csv-shape", "2"], "column 2"),
    (
        "data-pixel-csv-shape",
        ["data", "inspect", "{root}/pixels.csv", "--csv-shape", "3"],
        "fit 4 values: 2x2",
    ),
    (
        "train-pixel-csv-short-row",
        ["train", "--data", "{root}/pixels.csv", "--csv-shape", "2x2", "--out", "{root}/new"],
        "pixels.csv: line 3",
    ),
    ("prepare-out-is-file", ["data", "prepare", "{root}/rgb", "--out", "{root}/file.txt"], "--out"),
    ("prepare-out-not-empty", ["data", "prepare", "{root}/rgb", "--out", "{root}/full"], "--overwrite"),
    ("prepare-out-readonly", ["data", "prepare", "{root}/rgb", "--out", "{root}/readonly/d"], "readonly"),
    # train: numbers
    ("train-steps-negative", ["train", *TINY, "--out", "{root}/new", "--steps", "-5"], "train.steps"),
    ("train-steps-zero", ["train", *TINY, "--out", "{root}/new", "--steps", "0"], "train.steps"),
    ("train-epochs-negative", ["train", *TINY, "--out", "{root}/new", "--epochs", "-1"], "train.epochs"),
    ("train-max-steps-negative", ["train", *TINY, "--out", "{root}/new", "--max-steps", "-1"], "--max-steps"),
    (
        "train-max-seconds-nan",
        ["train", *TINY, "--out", "{root}/new", "--max-seconds", "nan"],
        "--max-seconds",
    ),
    ("train-batch-zero", ["train", *TINY, "--out", "{root}/new", "--batch-size", "0"], "train.batch_size"),
    ("train-lr-nan", ["train", *TINY, "--out", "{root}/new", "--lr", "nan"], "train.lr_g"),
    ("train-lr-inf", ["train", *TINY, "--out", "{root}/new", "--lr", "inf"], "train.lr_g"),
    (
        "train-checkpoint-every-zero",
        ["train", *TINY, "--out", "{root}/new", "--set", "train.checkpoint_every=0"],
        "train.checkpoint_every",
    ),
    (
        "train-log-every-zero",
        ["train", *TINY, "--out", "{root}/new", "--set", "train.log_every=0"],
        "train.log_every",
    ),
    (
        "train-keep-checkpoints-zero",
        ["train", *TINY, "--out", "{root}/new", "--set", "train.keep_checkpoints=0"],
        "train.keep_checkpoints",
    ),
    ("train-seed-huge", ["train", *TINY, "--out", "{root}/new", "--seed", str(2**63)], "train.seed"),
    (
        "train-beta-above-one",
        ["train", *TINY, "--out", "{root}/new", "--set", "train.beta1=2"],
        "train.beta1",
    ),
    ("train-diffaug-typo", ["train", *TINY, "--out", "{root}/new", "--set", "train.diffaug=spin"], "spin"),
    ("train-set-no-equals", ["train", *TINY, "--out", "{root}/new", "--set", "train.steps"], "--set"),
    ("train-data-missing", ["train", "--data", "{root}/nowhere", "--out", "{root}/new"], "nowhere"),
    # train: never over a user's run
    ("train-out-holds-run", ["train", *TINY, "--out", "{root}/run"], "--resume"),
    ("train-out-holds-config", ["train", *TINY, "--out", "{root}/run-config-only"], "--overwrite"),
    ("train-out-is-file", ["train", *TINY, "--out", "{root}/file.txt"], "file.txt"),
    ("train-out-readonly", ["train", *TINY, "--out", "{root}/readonly/r"], "readonly"),
    ("train-resume-damaged", ["train", "--resume", "{root}/run-damaged"], "damaged"),
    (
        "train-resume-other-data",
        ["train", "--resume", "{root}/run", "--data", "builtin:sprites:32"],
        "--data",
    ),
    ("train-resume-channels-changed", ["train", "--resume", "{root}/run-rgb"], "3 channels"),
    ("train-resume-model-5", ["train", "--resume", "{root}/run-model5"], "config.yaml"),
    ("train-resume-bad-yaml", ["train", "--resume", "{root}/run-yaml"], "not valid YAML"),
    (
        "train-resume-change-model",
        ["train", "--resume", "{root}/run", "--set", "model.z_dim=9"],
        "model.z_dim",
    ),
    ("train-resume-nothing", ["train", "--resume", "{root}/nowhere"], "no config.yaml"),
    ("train-resume-no-checkpoint", ["train", "--resume", "{root}/run-no-checkpoint"], "no checkpoint"),
    ("train-resume-other-out", ["train", "--resume", "{root}/run", "--out", "{root}/new"], "--out"),
    ("train-resume-other-tile", ["train", "--resume", "{root}/run", "--tile", "16"], "--tile"),
    # generate
    ("generate-out-is-file", ["generate", "{root}/run", "--out", "{root}/file.txt"], "file.txt"),
    ("generate-out-readonly", ["generate", "{root}/run", "--out", "{root}/readonly/g"], "readonly"),
    (
        "generate-seeds-huge",
        ["generate", "{root}/run", "--seeds", f"1,{2**63}", "--out", "{root}/g"],
        "--seeds",
    ),
    ("generate-seeds-words", ["generate", "{root}/run", "--seeds", "a,b", "--out", "{root}/g"], "--seeds"),
    ("generate-seed-huge", ["generate", "{root}/run", "--seed", str(2**64), "--out", "{root}/g"], "--seed"),
    (
        "generate-truncation-nan",
        ["generate", "{root}/run", "--truncation", "nan", "--out", "{root}/g"],
        "--truncation",
    ),
    (
        "generate-truncation-inf",
        ["generate", "{root}/run", "--truncation", "inf", "--out", "{root}/g"],
        "--truncation",
    ),
    ("generate-n-zero", ["generate", "{root}/run", "-n", "0", "--out", "{root}/g"], "-n"),
    ("generate-scale-zero", ["generate", "{root}/run", "--scale", "0", "--out", "{root}/g"], "--scale"),
    (
        "generate-device-bogus",
        ["generate", "{root}/run", "--device", "gpu9", "--out", "{root}/g"],
        "--device",
    ),
    ("generate-no-run", ["generate", "{root}/nowhere", "--out", "{root}/g"], "nowhere"),
    (
        "generate-bad-generator",
        ["generate", "{root}/run-bad-generator", "--out", "{root}/g"],
        "generator.safetensors",
    ),
    (
        "generate-traits-unconditional",
        ["generate", "{root}/run", "--traits", "hair=long", "--out", "{root}/g"],
        "--traits",
    ),
    # eval
    ("eval-json-folder", ["eval", "{root}/run", "--json", "{root}/full"], "--json"),
    ("eval-json-readonly", ["eval", "{root}/run", "--json", "{root}/readonly/e.json"], "readonly"),
    ("eval-fake-without-real", ["eval", "--fake", "{root}/rgb"], "--real"),
    ("eval-nothing", ["eval"], "RUN"),
    ("eval-batch-size-zero", ["eval", "{root}/run", "--batch-size", "0"], "--batch-size"),
    ("eval-samples-one", ["eval", "{root}/run", "--samples", "1"], "--samples"),
    # export
    ("export-out-exists", ["export", "{root}/run", "--out", "{root}/exported.onnx"], "--overwrite"),
    ("export-out-folder", ["export", "{root}/run", "--out", "{root}/full"], "folder"),
    ("export-opset", ["export", "{root}/run", "--out", "{root}/x.onnx", "--opset", "5"], "--opset"),
    # morph
    ("morph-one-endpoint", ["morph", "{root}/run", "--seeds", "3", "--out", "{root}/m.gif"], "endpoints"),
    (
        "morph-frames-one",
        ["morph", "{root}/run", "--seeds", "3,4", "--frames", "1", "--out", "{root}/m.gif"],
        "--frames",
    ),
    (
        "morph-fps-zero",
        ["morph", "{root}/run", "--seeds", "3,4", "--fps", "0", "--out", "{root}/m.gif"],
        "--fps",
    ),
    (
        "morph-truncation-nan",
        ["morph", "{root}/run", "--seeds", "3,4", "--truncation", "nan", "--out", "{root}/m.gif"],
        "--truncation",
    ),
    (
        "morph-out-readonly",
        ["morph", "{root}/run", "--seeds", "3,4", "--out", "{root}/readonly/m.gif"],
        "readonly",
    ),
    ("morph-out-folder", ["morph", "{root}/run", "--seeds", "3,4", "--out", "{root}/dir.gif"], "dir.gif"),
    # project / edit (a DCGAN run has no W space)
    ("project-dcgan", ["project", "{root}/run", "{root}/rgb/s0.png", "--out", "{root}/p"], "StyleGAN"),
    ("project-steps-zero", ["project", "{root}/run", "{root}/rgb/s0.png", "--steps", "0"], "--steps"),
    ("project-lr-nan", ["project", "{root}/run", "{root}/rgb/s0.png", "--lr", "nan"], "--lr"),
    ("project-image-missing", ["project", "{root}/run", "{root}/nope.png", "--out", "{root}/p"], "nope.png"),
    (
        "project-out-is-file",
        ["project", "{root}/run", "{root}/rgb/s0.png", "--out", "{root}/file.txt"],
        "file.txt",
    ),
    ("edit-dcgan", ["edit", "{root}/run", "--direction", "pca00", "--out", "{root}/e.png"], "StyleGAN"),
    # demo never deletes what it did not make
    ("demo-out-user-folder", ["demo", "--out", "{root}/full", "--steps", "2"], "not made by"),
    ("demo-out-a-run", ["demo", "--out", "{root}/run", "--steps", "2"], "not made by"),
    ("demo-steps-zero", ["demo", "--out", "{root}/new", "--steps", "0"], "--steps"),
]
if not GPU:
    CASES += [
        ("train-device-cuda", ["train", *TINY, "--out", "{root}/new", "--device", "cuda"], "--device"),
        (
            "generate-device-cuda",
            ["generate", "{root}/run", "--device", "cuda", "--out", "{root}/g"],
            "--device",
        ),
    ]


@pytest.mark.parametrize("argv, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(argv, needle, corpus, readonly, capsys):
    argv = [a.replace("{root}", str(corpus)) for a in argv]
    before = snapshot(corpus)
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.split("\n") if line.strip()]  # "\n" only: a bar's "\r" does not end a line
    assert code == 2, err
    assert "Traceback" not in err
    assert lines, "no error line"
    assert sum(": error:" in line for line in lines) == 1, err
    last = lines[-1]
    assert last.startswith(f"spritegan {argv[0]}: error: "), last
    assert needle in last, last
    assert snapshot(corpus) == before


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["data", "inspect", "{root}/broken"], "a.png"),
        (["train", "--data", "builtin:sprites:16", "--out", "{root}/new", "--lr", "nan"], "train.lr_g"),
        (["generate", "{root}/run", "--out", "{root}/file.txt"], "file.txt"),
    ],
    ids=["data", "train", "generate"],
)
def test_the_installed_command_prints_one_line(argv, needle, corpus):
    """The same contract through a real process: exit 2, no traceback, the error on a line of its own."""
    import subprocess
    import sys

    before = snapshot(corpus)
    argv = [a.replace("{root}", str(corpus)) for a in argv]
    proc = subprocess.run(
        [sys.executable, "-m", "spritegan", *argv], capture_output=True, text=True, timeout=300
    )
    lines = [line for line in proc.stderr.split("\n") if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[-1].startswith(f"spritegan {argv[0]}: error: ") and needle in lines[-1], proc.stderr
    assert snapshot(corpus) == before


def test_the_corpus_is_large():
    assert len(CASES) >= 50


# ---- what used to be lost or accepted silently now works, or warns ------------------------------------------


def test_pixel_limit_is_checked_before_decoding(corpus, monkeypatch, capsys):
    monkeypatch.setenv("SPRITEGAN_MAX_PIXELS", "1000")
    assert main(["data", "inspect", str(corpus / "sheet.png")]) == 2
    assert "50x48 (2,400 pixels), above the 1,000-pixel limit" in capsys.readouterr().err


def test_big_mostly_empty_sheet_keeps_only_its_sprites(tmp_path):
    from spritegan.data.sources import load_source

    sheet = np.zeros((2400, 2400, 4), np.uint8)
    sheet[24:48, 48:72] = 255  # tile (1, 2)
    sheet[2376:, 2376:] = 200  # the last tile
    _png(tmp_path / "big.png", sheet)
    src = load_source(tmp_path / "big.png", tile=24)
    assert src.images.shape == (2, 24, 24, 4) and src.ids == [102, 9999]
    assert src.dropped_empty == 100 * 100 - 2


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    from spritegan.data.sources import load_source

    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1040).astype(np.uint16)  # 0 .. 65520
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    src = load_source(tmp_path / "grey16.png")
    got = src.images[0, ..., 0].astype(int)
    assert src.mode == "L" and np.abs(got - np.rint(ramp / 257.0)).max() <= 1
    assert len(np.unique(got)) == 64  # every level survives (clipping left 1 of them)


def test_soft_alpha_is_kept_with_a_warning(tmp_path, capsys):
    from spritegan.data.dataset import open_dataset
    from spritegan.generate.postprocess import snap_alpha

    arr = np.full((3, 8, 8, 4), 120, np.uint8)
    arr[..., 3] = np.arange(192, dtype=np.uint8).reshape(3, 8, 8)  # 192 alpha levels
    for i, a in enumerate(arr):
        _png(tmp_path / "soft" / f"{i}.png", a)
    ds = open_dataset(tmp_path / "soft")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "192 alpha levels" in err[0] and err[0].startswith("warning:")
    snapped = snap_alpha(ds.images, ds.manifest["alpha_levels"])
    assert torch.equal(snapped[:, 3], ds.images[:, 3])  # soft edges are not forced to 0/255


def test_fit_pad_keeps_the_aspect_and_pads(tmp_path):
    from spritegan.data.sources import load_source

    wide = np.zeros((8, 16, 4), np.uint8)
    wide[..., :3], wide[..., 3] = 200, 255
    _png(tmp_path / "fit" / "wide.png", wide)
    _png(tmp_path / "fit" / "tall.png", np.full((32, 16, 4), 255, np.uint8))
    src = load_source(tmp_path / "fit", resize=16, fit="pad")
    assert src.images.shape == (2, 16, 16, 4) and src.resize["fit"] == "pad"
    tall, wide_out = src.images  # natural order: tall.png, wide.png
    assert (wide_out[4:12, :, 3] == 255).all() and (wide_out[:4, :, 3] == 0).all()  # 16x8 centred
    assert (tall[:, 4:12, 3] == 255).all() and (tall[:, :4, 3] == 0).all()  # 16x32 -> 8x16, centred


def test_inspect_lists_the_sizes_of_a_mixed_folder(corpus, capsys):
    assert main(["data", "inspect", str(corpus / "mixed")]) == 0
    out = capsys.readouterr().out
    assert "3 in 3 sizes" in out and "24x24: 1 images" in out and "--pad-to 24x24" in out


def test_dry_run_prints_the_data_size(tmp_path, capsys):
    for i in range(2):
        _png(tmp_path / "tall" / f"{i}.png", np.full((40, 24, 4), 255, np.uint8))
    assert main(["train", "--data", str(tmp_path / "tall"), "--dry-run", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "image_size:\n  - 40\n  - 24\n" in out and not (tmp_path / "runs").exists()


def test_overwrite_replaces_a_run_and_nothing_else(tmp_path, tiny_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "notes.txt").write_text("mine\n")
    (run / "checkpoints" / "step-000900.safetensors").write_bytes(b"an old, later checkpoint")
    argv = ["train", *TINY, "--set", "model.d_width=8", "--set", "model.max_channels=32"]
    argv += ["--batch-size", "8", "--steps", "2", "--out", str(run), "--no-progress"]
    assert main([*argv, "--overwrite"]) == 0
    assert (run / "notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000002.safetensors"]
    assert (run / "generator.safetensors").stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_demo_replaces_only_its_own_folder(tmp_path):
    from spritegan.commands.demo import DEMO_MARKER, clear_demo_folder
    from spritegan.errors import SpriteganError

    mine = tmp_path / "demo"
    mine.mkdir()
    (mine / DEMO_MARKER).write_text("")
    (mine / "checkpoints").mkdir()
    clear_demo_folder(mine)
    assert not mine.exists()
    theirs = tmp_path / "punks"
    (theirs / "checkpoints").mkdir(parents=True)
    with pytest.raises(SpriteganError, match="not made by"):
        clear_demo_folder(theirs)
    assert (theirs / "checkpoints").is_dir()


def test_palette_on_full_colour_data_warns(tmp_path, tiny_run, capsys):
    import json

    from safetensors.torch import load_file, safe_open, save_file

    path = tiny_run / "generator.safetensors"
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    manifest = json.loads(meta["manifest"])
    manifest["palette"] = None  # what a run on data with more than 256 colours records
    (tmp_path / "run").mkdir()
    save_file(
        load_file(path),
        str(tmp_path / "run" / "generator.safetensors"),
        {**meta, "manifest": json.dumps(manifest)},
    )
    assert (
        main(["generate", str(tmp_path / "run"), "-n", "2", "--palette", "--out", str(tmp_path / "g")]) == 0
    )
    err = capsys.readouterr().err
    assert "warning: --palette" in err and "more than 256 colours" in err


def test_resume_at_step_0_drops_the_rows_of_the_killed_attempt(tmp_path):
    import csv

    from spritegan.train.logging import TrainLogger

    log = TrainLogger(tmp_path, tensorboard=False)
    for step in (1, 2, 3):
        log.log({"step": step, "images": 8 * step, "seconds": 0.1})
    log.close()
    TrainLogger(tmp_path, resume_step=0, tensorboard=False).close()
    assert list(csv.DictReader(open(tmp_path / "metrics.csv"))) == []


def test_a_progress_bar_ends_its_line_before_an_error(corpus, monkeypatch):
    """On a terminal the reading bar is shown; when a file fails it ends with a newline of its own."""
    import io
    import sys

    from spritegan.data.sources import load_source
    from spritegan.errors import DataError

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    with pytest.raises(DataError, match="a.png"):
        load_source(corpus / "broken", progress=True)
    assert "reading broken" in term.getvalue() and term.getvalue().endswith("\n")
