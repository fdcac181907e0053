"""Reading folders, sprite sheets and label CSVs, and every data error."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import DATASETS  # noqa: E402
from spritegan.data.sources import load_source, natural_key, parse_size
from spritegan.errors import DataError


def _rgba(seed: int, size: int = 8) -> np.ndarray:
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 4), dtype=np.uint8)
    arr[..., 3] = np.where(arr[..., 3] > 100, 255, 0)
    return arr


def _save(path: Path, arr: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(arr, mode).save(path) if mode else Image.fromarray(arr).save(path)
    return path


def _folder(tmp_path: Path, names=("a2.png", "a10.png", "a1.png")) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, name in enumerate(names):
        _save(folder / name, _rgba(i))
    return folder


def test_natural_sort_and_rgba_zeroing(tmp_path):
    src = load_source(_folder(tmp_path))
    assert src.names == ["a1.png", "a2.png", "a10.png"]
    assert sorted(["punk10", "punk2", "punk1"], key=natural_key) == ["punk1", "punk2", "punk10"]
    assert src.images.shape == (3, 8, 8, 4) and src.mode == "RGBA"
    assert (src.images[src.images[..., 3] == 0][:, :3] == 0).all()
    expected = _rgba(2)
    visible = expected[..., 3] > 0
    assert np.array_equal(src.images[0][visible], expected[visible])


def test_modes_kept_and_promoted(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    _save(folder / "g.png", np.full((4, 4), 77, np.uint8))
    assert load_source(folder).mode == "L"
    _save(folder / "c.jpg", np.full((4, 4, 3), 200, np.uint8))
    src = load_source(folder)
    assert src.mode == "RGB" and src.images.shape == (2, 4, 4, 3) and any("promoted" in n for n in src.notes)
    _save(folder / "t.png", _rgba(0, 4))
    assert load_source(folder).mode == "RGBA"
    assert load_source(folder, mode="L").images.shape == (3, 4, 4, 1)


def test_palette_with_transparency_becomes_rgba_and_gif(tmp_path):
    im = Image.new("P", (6, 6), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.info["transparency"] = 0
    im.putpixel((0, 0), 0)
    im.save(tmp_path / "p.png", transparency=0)
    src = load_source(tmp_path / "p.png")
    assert src.mode == "RGBA" and tuple(src.images[0, 0, 0]) == (0, 0, 0, 0)
    assert tuple(src.images[0, 1, 1]) == (255, 0, 0, 255)
    frames = [Image.new("RGB", (5, 5), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    gif = load_source(tmp_path / "anim.gif")
    assert gif.images.shape == (1, 5, 5, 3) and tuple(gif.images[0, 0, 0]) == (255, 0, 0)


def test_sheet_cut_drop_empty_and_sizes(tmp_path):
    sheet = np.zeros((16, 24, 4), np.uint8)
    sheet[0:8, 0:8] = (255, 0, 0, 255)
    sheet[8:16, 16:24] = (0, 0, 255, 255)
    path = _save(tmp_path / "sheet.png", sheet)
    for tile in (8, "8", "8x8"):
        src = load_source(path, tile=tile)
        assert src.images.shape == (2, 8, 8, 4) and src.dropped_empty == 4 and src.ids == [0, 5]
    with pytest.raises(DataError, match="not a multiple of the tile"):
        load_source(path, tile=5)
    with pytest.raises(DataError, match="tile"):
        load_source(path, tile="abc")
    assert parse_size("24x32", "x") == (32, 24)


def test_resize_and_pad(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _save(folder / "big.png", _rgba(1, 16))
    _save(folder / "small.png", _rgba(2, 8))
    with pytest.raises(
        DataError, match=r"big.png is 16x16 but small.png is 8x8|small.png is 8x8 but big.png"
    ):
        load_source(folder)
    for resample in ("nearest", "area", "bicubic", "lanczos"):
        src = load_source(folder, resize=12, resample=resample)
        assert src.images.shape == (2, 12, 12, 4) and src.resize["resample"] == resample
    padded = load_source(folder, pad_to=20)
    assert padded.images.shape == (2, 20, 20, 4)
    assert (padded.images[1, :6] == 0).all() and np.array_equal(
        padded.images[1, 6:14, 6:14], load_source(folder / "small.png").images[0]
    )
    with pytest.raises(DataError, match="larger than --pad-to"):
        load_source(folder, pad_to=10)
    with pytest.raises(DataError, match="resample"):
        load_source(folder, resize=8, resample="cubic")


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_source(tmp_path / "nope")
    with pytest.raises(DataError, match="Windows path"):
        load_source("C:\\data\\sprites")
    with pytest.raises(DataError, match="Windows path"):
        load_source("data\\sprites")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="no images"):
        load_source(empty)
    zero = tmp_path / "zero"
    zero.mkdir()
    (zero / "z.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"z.png: file is empty"):
        load_source(zero)
    good = _save(tmp_path / "good.png", _rgba(0, 32))
    data = good.read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"trunc.png: cannot read image"):
        load_source(tmp_path / "trunc.png")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG not really an image")
    with pytest.raises(DataError, match=r"junk.png: cannot read image"):
        load_source(tmp_path / "junk.png")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(DataError, match="not an image"):
        load_source(tmp_path / "x.txt")
    with pytest.raises(DataError, match="folder"):
        load_source(_folder(tmp_path), tile=4)


def test_builtin_source():
    src = load_source("builtin:sprites:50")
    assert src.images.shape == (50, 32, 32, 4) and src.mode == "RGBA"
    assert src.labels["columns"]["hair"]["classes"] == sorted(src.labels["columns"]["hair"]["classes"])
    assert src.labels["values"]["body"].dtype == np.int64 and src.labels["values"]["body"].shape == (50,)
    assert len(load_source("builtin:sprites").images) == 4096
    only = load_source("builtin:sprites:10", label_columns=["outfit"])
    assert list(only.labels["columns"]) == ["outfit"]
    with pytest.raises(DataError, match="built-in"):
        load_source("builtin:trees")


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_labels_join_by_name_and_kinds(tmp_path):
    folder = _folder(tmp_path)
    csv = _csv(
        tmp_path / "l.csv",
        "file,kind,flag,score,colour\nimgs/a1.png,cat,1,0.5,red\nimgs/a2.png,dog,0,1.5,\nimgs/a10.png,cat,1,2.5,blue\n",
    )
    src = load_source(folder, labels_csv=csv)
    cols = src.labels["columns"]
    assert cols == {
        "kind": {"kind": "categorical", "classes": ["cat", "dog"]},
        "flag": {"kind": "binary"},
        "colour": {"kind": "categorical", "classes": ["blue", "none", "red"]},
    }
    assert src.labels["values"]["kind"].tolist() == [0, 1, 0]
    assert src.labels["values"]["colour"].tolist() == [2, 1, 0]
    stems = _csv(tmp_path / "s.csv", "name,kind\na10,x\na1,y\na2,x\n")
    assert load_source(folder, labels_csv=stems).labels["values"]["kind"].tolist() == [1, 0, 0]
    picked = load_source(folder, labels_csv=csv, label_columns=["score"])
    assert picked.labels["columns"]["score"]["classes"] == ["0.5", "1.5", "2.5"]


def test_labels_join_by_id(tmp_path):
    folder = _folder(tmp_path, names=("punk0000.png", "punk0001.png", "punk0002.png"))
    csv = _csv(tmp_path / "l.csv", "id,type\n2,ape\n0,male\n1,female\n3,alien\n")
    assert load_source(folder, labels_csv=csv).labels["values"]["type"].tolist() == [2, 1, 0]


def test_label_errors(tmp_path):
    folder = _folder(tmp_path)
    missing = _csv(tmp_path / "m.csv", "file,kind\na1.png,x\na2.png,y\n")
    with pytest.raises(DataError, match=r"m.csv: no row for 1 of 3 images .* a10.png"):
        load_source(folder, labels_csv=missing)
    dup = _csv(tmp_path / "d.csv", "file,kind\na1.png,x\na2.png,y\na10.png,x\na1.png,y\n")
    with pytest.raises(DataError, match=r"d.csv: duplicate rows for 'a1.png'"):
        load_source(folder, labels_csv=dup)
    useless = _csv(tmp_path / "u.csv", "file,score\na1.png,1.5\na2.png,2.5\na10.png,3.5\n")
    with pytest.raises(DataError, match="u.csv: names no usable label column"):
        load_source(folder, labels_csv=useless)
    nomatch = _csv(tmp_path / "n.csv", "file,kind\nzz.png,x\n")
    with pytest.raises(DataError, match="n.csv: no column matches"):
        load_source(folder, labels_csv=nomatch)
    with pytest.raises(DataError, match="no column 'nope'"):
        load_source(
            folder,
            labels_csv=_csv(tmp_path / "ok.csv", "file,kind\na1.png,x\na2.png,y\na10.png,x\n"),
            label_columns=["nope"],
        )
    with pytest.raises(DataError, match="does not exist"):
        load_source(folder, labels_csv=tmp_path / "absent.csv")
    with pytest.raises(DataError, match="no header or no rows"):
        load_source(folder, labels_csv=_csv(tmp_path / "e.csv", ""))


@pytest.mark.skipif(not (DATASETS / "cryptopunks").is_dir(), reason="shared datasets not present")
def test_real_punks_sheet_with_labels():
    d = DATASETS / "cryptopunks"
    src = load_source(d / "punks.png", tile=24, labels_csv=d / "labels.csv")
    assert src.images.shape == (10000, 24, 24, 4) and src.mode == "RGBA" and src.dropped_empty == 0
    assert sorted(np.unique(src.images[..., 3]).tolist()) == [0, 128, 255]
    assert src.labels["columns"]["type"]["classes"] == ["alien", "ape", "female", "male", "zombie"]
    assert len(src.labels["columns"]) == 88
    single = load_source(d / "images" / "punk0042.png")
    assert np.array_equal(single.images[0], src.images[42])


@pytest.mark.skipif(not (DATASETS / "pokemon").is_dir(), reason="shared datasets not present")
def test_real_pokemon_csv_join(tmp_path):
    d = DATASETS / "pokemon"
    names = ["1.png", "3-mega.png", "25.png"]
    folder = tmp_path / "images"
    folder.mkdir()
    for n in names:
        (folder / n).write_bytes((d / "images" / n).read_bytes())
    rows = (d / "pokemon.csv").read_text().splitlines()
    keep = [rows[0]] + [r for r in rows[1:] if r.split(",")[0] in {f"images/{n}" for n in names}]
    csv = _csv(tmp_path / "pokemon.csv", "\n".join(keep) + "\n")
    src = load_source(folder, labels_csv=csv, label_columns=["type1", "type2"])
    assert src.names == ["1.png", "3-mega.png", "25.png"]
    classes = src.labels["columns"]["type1"]["classes"]
    assert [classes[i] for i in src.labels["values"]["type1"]] == ["grass", "grass", "electric"]
    assert src.labels["columns"]["type2"]["classes"] == ["none", "poison"]
