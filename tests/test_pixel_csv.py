"""Pixel-CSV datasets (issue 19): one image per row, written here from real images and read back exactly.

The CSVs are written with the csv module from real pictures (the game-character images when the shared
datasets are present, else the built-in sprites), so the reader is checked against an independent writer.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spritegan.cli import main
from spritegan.data.csv_pixels import fitting_shapes
from spritegan.data.dataset import load_prepared
from spritegan.data.sources import load_source

GAME = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "game-characters" / "images"
SIZE = 16  # W = H of the small test images
TINY = ["--set", "model.z_dim=8", "--set", "model.g_width=8", "--set", "model.d_width=8"]


def _real_images(n: int, mode: str) -> list[np.ndarray]:
    """n real pictures, SIZE x SIZE in `mode`: game characters (resized, area filter), or built-in sprites."""
    files = sorted(GAME.glob("*.png"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)[:n]
    if len(files) == n:
        ims = [Image.open(f).convert("RGB").resize((SIZE, SIZE), Image.Resampling.BOX) for f in files]
    else:
        from spritegan.data.procedural import make_sprites

        ims = [Image.fromarray(a).convert("RGB").resize((SIZE, SIZE)) for a in make_sprites(n, seed=0)[0]]
    return [np.asarray(im.convert(mode), dtype=np.uint8) for im in ims]


def _write(path: Path, rows: list[list], header: list[str] | None = None) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def _pixels(arr: np.ndarray) -> list[int]:
    """Row-major pixel values, channels interleaved per pixel (r, g, b, r, g, b, ...)."""
    return arr.reshape(-1).tolist()


@pytest.fixture(scope="module")
def gray(tmp_path_factory) -> tuple[Path, np.ndarray]:
    images = np.stack(_real_images(12, "L"))
    path = tmp_path_factory.mktemp("csv") / "gray.csv"
    header = [f"pixel{i}" for i in range(SIZE * SIZE)]
    return _write(path, [_pixels(a) for a in images], header), images


def test_grayscale_rows_round_trip_byte_for_byte(gray):
    path, images = gray
    src = load_source(path, csv_shape=SIZE)
    assert src.mode == "L" and src.images.shape == (12, SIZE, SIZE, 1)
    assert src.images[..., 0].tobytes() == images.tobytes()
    assert src.labels is None and src.ids == list(range(12))


def test_prepare_then_load_keeps_every_byte(gray, tmp_path, capsys):
    path, images = gray
    assert (
        main(["data", "prepare", str(path), "--csv-shape", f"{SIZE}x{SIZE}", "--out", str(tmp_path / "p")])
        == 0
    )
    ds = load_prepared(tmp_path / "p")
    assert ds.mode == "L" and ds.size == (SIZE, SIZE)
    assert ds.images[:, 0].numpy().tobytes() == images.tobytes()
    assert main(["data", "inspect", str(path), "--csv-shape", str(SIZE)]) == 0
    out = capsys.readouterr().out
    assert f"{SIZE}x{SIZE} L" in out and "pixel CSV: 12 rows" in out


def test_rgb_rows_with_a_label_column(tmp_path):
    images = np.stack(_real_images(6, "RGB"))
    kinds = ["hero", "orc", "hero", "elf", "orc", "hero"]
    header = ["kind", *(f"p{i}{c}" for i in range(SIZE * SIZE) for c in "rgb")]
    rows = [[k, *_pixels(a)] for k, a in zip(kinds, images, strict=True)]
    path = _write(tmp_path / "rgb.csv", rows, header)
    src = load_source(path, csv_shape=SIZE, csv_channels="3", csv_label_column="kind")
    assert src.mode == "RGB" and src.images.tobytes() == images.tobytes()
    assert src.labels["columns"] == {"kind": {"kind": "categorical", "classes": ["elf", "hero", "orc"]}}
    assert src.labels["values"]["kind"].tolist() == [1, 2, 1, 0, 2, 1]
    auto = load_source(path, csv_shape=SIZE, csv_label_column="0")  # RGB from the row length; column 0
    assert (
        auto.mode == "RGB" and auto.images.tobytes() == images.tobytes() and "kind" in auto.labels["values"]
    )


def test_a_label_header_is_found_and_rgba_is_interleaved(tmp_path):
    rgba = np.stack(_real_images(4, "RGBA"))
    rgba[0, :2, :2, 3] = 0
    rgba[0, :2, :2, :3] = 0  # hidden colours are zeroed on reading, so the test data keeps them zero
    rows = [[*_pixels(a), d] for a, d in zip(rgba, [3, 10, 3, 2], strict=True)]
    path = _write(tmp_path / "rgba.csv", rows, [*(f"v{i}" for i in range(SIZE * SIZE * 4)), "Label"])
    src = load_source(path, csv_shape=f"{SIZE}x{SIZE}")
    assert src.mode == "RGBA" and src.images.tobytes() == rgba.tobytes()
    assert src.labels["columns"]["Label"]["classes"] == ["2", "3", "10"]


def test_no_header_floats_in_0_1_and_non_square_shapes(tmp_path):
    images = np.stack(_real_images(3, "L"))[:, :8, :]  # 16 wide, 8 high
    rows = [[f"{v / 255:.6f}" for v in _pixels(a)] for a in images]
    src = load_source(_write(tmp_path / "f.csv", rows), csv_shape="16x8")
    assert src.images.shape == (3, 8, 16, 1) and src.images[..., 0].tobytes() == images.tobytes()
    assert "16x8" in fitting_shapes(128)[:4] or "8x16" in fitting_shapes(128)


def test_labels_join_by_row_number(gray, tmp_path):
    path, _ = gray
    _write(tmp_path / "kinds.csv", [[i, "a" if i % 3 else "b"] for i in range(12)], ["id", "kind"])
    src = load_source(path, csv_shape=SIZE, labels_csv=tmp_path / "kinds.csv")
    assert src.labels["values"]["kind"].tolist() == [1 if i % 3 == 0 else 0 for i in range(12)]


def _bad_files(root: Path) -> None:
    good = ["1"] * 16
    _write(root / "short-row.csv", [good, good, good[:15], good])
    _write(root / "words.csv", [good, [*good[:4], "abc", *good[5:]]], [f"px{i}" for i in range(16)])
    _write(root / "range.csv", [good, [*good[:2], "300", *good[3:]]])
    _write(root / "negative.csv", [[*good[:1], "-1", *good[2:]]])
    _write(root / "fraction.csv", [[*good[:1], "12.5", *good[2:]], ["200"] * 16])
    (root / "empty.csv").write_text("")
    _write(root / "header-only.csv", [], [f"px{i}" for i in range(16)])
    _write(root / "ok.csv", [good, good])
    _write(root / "labels.csv", [["kind", *good]], ["kind", *(f"px{i}" for i in range(16))])


BAD = [
    (
        "wrong-length-row",
        ["short-row.csv", "--csv-shape", "4x4"],
        ["short-row.csv", "line 3", "15", "expected 16"],
    ),
    ("non-numeric", ["words.csv", "--csv-shape", "4"], ["words.csv", "line 3", "column 5 (px4)", "'abc'"]),
    ("out-of-range", ["range.csv", "--csv-shape", "4"], ["range.csv", "line 2", "column 3", "300", "0..255"]),
    ("negative", ["negative.csv", "--csv-shape", "4"], ["negative.csv", "line 1", "-1"]),
    ("fraction", ["fraction.csv", "--csv-shape", "4"], ["fraction.csv", "line 1", "12.5", "0..1"]),
    ("empty-file", ["empty.csv", "--csv-shape", "4"], ["empty.csv", "empty"]),
    ("header-only", ["header-only.csv", "--csv-shape", "4"], ["header-only.csv", "no image rows"]),
    ("shape-mismatch", ["ok.csv", "--csv-shape", "5x5"], ["ok.csv", "--csv-shape 5x5", "16", "4x4"]),
    ("missing-shape", ["ok.csv"], ["ok.csv", "--csv-shape", "4x4"]),
    ("channels-mismatch", ["ok.csv", "--csv-shape", "4", "--csv-channels", "3"], ["48", "16", "(RGB)"]),
    ("unknown-label-column", ["labels.csv", "--csv-shape", "4", "--csv-label-column", "type"], ["'type'"]),
    ("shape-on-a-folder", [".", "--csv-shape", "4"], ["--csv-shape", "not one"]),
]


@pytest.mark.parametrize("argv, needles", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
@pytest.mark.parametrize("command", ["data", "train"])
def test_bad_pixel_csv_is_one_line_exit_2(argv, needles, command, tmp_path, capsys):
    _bad_files(tmp_path)
    data = str(tmp_path / argv[0])
    if command == "data":
        full = ["data", "inspect", data, *argv[1:]]
    else:
        full = ["train", "--data", data, *argv[1:], "--out", str(tmp_path / "run"), "--max-steps", "1", *TINY]
    code = main(full)
    err = capsys.readouterr().err
    lines = [line for line in err.split("\n") if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith(f"spritegan {command}: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not (tmp_path / "run").exists()


def test_train_and_generate_from_a_pixel_csv(gray, tmp_path, capsys):
    path, _ = gray
    run = tmp_path / "run"
    argv = ["train", "--data", str(path), "--csv-shape", "16x16", "--out", str(run), "--max-steps", "2"]
    assert main([*argv, "--batch-size", "4", "--no-progress", *TINY]) == 0
    assert "12 images 16x16 L" in capsys.readouterr().out
    assert main(["generate", str(run), "-n", "4", "--out", str(tmp_path / "g")]) == 0
    sprite = Image.open(tmp_path / "g" / "sheet.png")
    assert sprite.size[0] >= 16
    first = sorted((tmp_path / "g").glob("*.png"))[0]
    assert Image.open(first).mode in ("L", "RGB", "RGBA")
    # the run's config keeps the CSV options, so resume reads the same data with no data flags
    assert "csv_shape: 16x16" in (run / "config.yaml").read_text()
    assert main(["train", "--resume", str(run), "--max-steps", "1", "--no-progress"]) == 0
    assert "stopped at step 3" in capsys.readouterr().out


def test_a_label_column_trains_a_conditional_model(tmp_path, capsys):
    images = np.stack(_real_images(8, "RGB"))
    kinds = ["hero", "orc"] * 4
    rows = [[k, *_pixels(a)] for k, a in zip(kinds, images, strict=True)]
    path = _write(tmp_path / "kinds.csv", rows, ["label", *(f"v{i}" for i in range(SIZE * SIZE * 3))])
    run = tmp_path / "run"
    argv = ["train", "--data", str(path), "--csv-shape", str(SIZE), "--conditional", "--out", str(run)]
    assert main([*argv, "--max-steps", "1", "--batch-size", "4", "--no-progress", *TINY]) == 0
    assert "8 images 16x16 RGB" in capsys.readouterr().out
    out = tmp_path / "orcs"
    assert main(["generate", str(run), "--traits", "label=orc", "-n", "2", "--out", str(out)]) == 0
    assert (out / "sheet.png").is_file()
