"""data.clusters: k-means cluster labels for data without labels, and a run that conditions on them."""

from __future__ import annotations

import json

import pytest
import torch

from spritegan.cli import main
from spritegan.config import DataConfig
from spritegan.data.clusters import add_cluster_labels, cluster_labels, layout_features
from spritegan.data.dataset import PreparedDataset, open_from_config
from spritegan.errors import DataError


def _blocks(n_per: int = 6) -> torch.Tensor:
    """Three kinds of 16x16 RGBA image: a red square top-left, a blue square bottom-right, nothing."""
    images = torch.zeros(3 * n_per, 4, 16, 16, dtype=torch.uint8)
    images[:n_per, 0, :8, :8] = 255
    images[:n_per, 3, :8, :8] = 255
    images[n_per : 2 * n_per, 2, 8:, 8:] = 255
    images[n_per : 2 * n_per, 3, 8:, 8:] = 255
    images[n_per : 2 * n_per, 1, 8:, 8:] = torch.arange(n_per, dtype=torch.uint8).view(-1, 1, 1) * 10
    return images


def test_layout_features_ignore_the_colour_of_transparent_pixels():
    a = torch.zeros(1, 4, 16, 16, dtype=torch.uint8)
    b = a.clone()
    b[:, :3] = 200  # hidden colour under alpha 0
    assert torch.equal(layout_features(a), layout_features(b))
    assert layout_features(a).shape == (1, 4 * 64)


def test_clusters_find_the_kinds_numbered_by_size_and_are_reproducible():
    images = _blocks()
    images = torch.cat([images, images[:2]])  # the red kind is now the largest
    ids = cluster_labels(images, 3, seed=0)
    assert ids.tolist()[:6] == [0] * 6 and ids[18:].tolist() == [0, 0]
    assert len(set(ids[6:12].tolist())) == 1 and len(set(ids[12:18].tolist())) == 1
    assert torch.bincount(ids).tolist() == [8, 6, 6]
    assert torch.equal(ids, cluster_labels(images, 3, seed=0))


def test_fewer_distinct_layouts_than_clusters_gives_fewer_classes():
    images = torch.zeros(5, 3, 8, 8, dtype=torch.uint8)
    images[2:, 0] = 255
    ids = cluster_labels(images, 4)
    assert sorted(set(ids.tolist())) == [0, 1]
    with pytest.raises(ValueError):
        cluster_labels(images, 1)


def test_cluster_column_joins_existing_labels():
    images = _blocks()
    ds = PreparedDataset(
        images=images,
        manifest={"labels": {"kind": {"kind": "categorical", "classes": ["a", "b"]}}},
        labels={"kind": torch.zeros(len(images), dtype=torch.long)},
    )
    add_cluster_labels(ds, 3)
    assert set(ds.manifest["labels"]) == {"kind", "cluster"}
    assert ds.manifest["labels"]["cluster"]["classes"] == ["c00", "c01", "c02"]
    assert ds.labels["cluster"].shape == (len(images),)
    with pytest.raises(DataError, match="data.clusters: the data already has a label column named 'cluster'"):
        add_cluster_labels(ds, 3)


def test_open_from_config_adds_clusters_and_refuses_one():
    ds = open_from_config(DataConfig(source="builtin:sprites:64", clusters=4))
    assert "cluster" in ds.manifest["labels"] and len(ds.labels["cluster"]) == 64
    with pytest.raises(DataError, match="data.clusters=1"):
        open_from_config(DataConfig(source="builtin:sprites:64", clusters=1))


def test_train_with_clusters_is_conditional_and_generate_draws_clusters(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--data", "builtin:sprites:128", "--out", str(run), "--steps", "2", "--no-progress"]
    args += ["--batch-size", "16", "--set", "data.clusters=4", "--set", "train.threads=1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "clusters of the images' layouts" in out
    config = (run / "config.yaml").read_text()
    assert "clusters: 4" in config
    assert main(["generate", str(run), "-n", "6", "--out", str(tmp_path / "gen")]) == 0
    traits = json.loads((tmp_path / "gen" / "generation.json").read_text())["traits"]
    assert len(traits) == 6 and all(
        "cluster=c0" in t for t in traits
    )  # drawn per seed with the built-in traits
    # each seed's cluster is drawn from the data; asking for one works like any trait
    assert (
        main(["generate", str(run), "--traits", "cluster=c00", "-n", "2", "--out", str(tmp_path / "c0")]) == 0
    )
    assert main(["train", "--resume", str(run), "--steps", "3", "--no-progress"]) == 0


def test_a_cluster_column_in_the_labels_csv_is_a_one_line_error(tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("id,cluster\n" + "".join(f"{i},a{i % 2}\n" for i in range(64)))
    args = ["train", "--data", "builtin:sprites:64", "--labels", str(labels), "--set", "data.clusters=4"]
    assert main(args + ["--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spritegan train: error: data.clusters: the data already has a label column named")
    assert "\n" not in err
