"""ONNX export: onnxruntime output equals the PyTorch pipeline's sprites; metadata and CLI.

Tolerance: at most 0.5% of uint8 values may differ (by any amount, since an alpha value on the 127/128
boundary flips a whole pixel); measured on these models: 0 values differ (bit-exact).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from studio_fixtures import LABEL_SPEC, make_run

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from spritegan.export.onnx import export_onnx, export_pipeline  # noqa: E402
from spritegan.generate.pipeline import SpritePipeline  # noqa: E402

MAX_DIFF_FRACTION = 0.005


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _run_ort(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["sprites"], feeds)[0]


def _check(out: np.ndarray, ref: torch.Tensor) -> None:
    ref_np = ref.permute(0, 2, 3, 1).numpy()
    assert out.dtype == np.uint8 and out.shape == ref_np.shape
    diff = np.abs(out.astype(np.int16) - ref_np.astype(np.int16))
    assert (diff > 0).mean() <= MAX_DIFF_FRACTION, f"{(diff > 0).mean():.4%} of values differ"


@pytest.mark.parametrize("truncation", [1.0, 0.6])
def test_unconditional_parity_and_dynamic_batch(tmp_path: Path, truncation: float) -> None:
    run = make_run(tmp_path, "plain")
    out = tmp_path / "g.onnx"
    export_onnx(run, out)
    pipe = SpritePipeline.from_run(run)
    for n in (1, 37):
        seeds = list(range(100, 100 + n))
        feeds = {"z": pipe.latents(seeds).numpy(), "truncation": np.array([truncation], np.float32)}
        _check(_run_ort(out, feeds), pipe(seeds, truncation=truncation))


@pytest.mark.parametrize("cond_mode", ["input", "cbn"])
def test_conditional_parity_and_metadata(tmp_path: Path, cond_mode: str) -> None:
    run = make_run(tmp_path, "cond", labels=LABEL_SPEC, cond_mode=cond_mode)
    out = tmp_path / "c.onnx"
    export_onnx(run, out)
    pipe = SpritePipeline.from_run(run)
    seeds = list(range(20))
    labels = torch.zeros(20, 3)
    labels[:10, 0] = 1
    labels[10:, 1] = 1
    labels[::3, 2] = 1
    feeds = {"z": pipe.latents(seeds).numpy(), "labels": labels.numpy(), "truncation": np.ones(1, np.float32)}
    _check(_run_ort(out, feeds), pipe(seeds, labels=labels))
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["size"]) == [16, 16] and meta["channels"] == "4" and meta["z_dim"] == "8"
    traits = json.loads(meta["traits"])
    assert [t["name"] for t in traits] == ["type", "hat"] and traits[0]["classes"] == ["alien", "zombie"]
    assert json.loads(meta["alpha_levels"]) == [0, 255] and len(json.loads(meta["palette"])) == 4
    assert "manual_seed" in meta["seed_convention"] and meta["spritegan_version"]


def test_palette_in_graph_matches_pipeline(tmp_path: Path) -> None:
    run = make_run(tmp_path, "plain")
    out = tmp_path / "p.onnx"
    export_onnx(run, out, palette=True)
    pipe = SpritePipeline.from_run(run)
    seeds = list(range(16))
    feeds = {"z": pipe.latents(seeds).numpy(), "truncation": np.ones(1, np.float32)}
    _check(_run_ort(out, feeds), pipe(seeds, palette=True))


class _TruncatingGenerator(torch.nn.Module):
    """A stand-in for a StyleGAN-style generator that implements truncation itself."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 4 * 4 * 4)
        self.register_buffer("w_avg", torch.full((8,), 0.3))

    def truncate(self, w: torch.Tensor, truncation: torch.Tensor | float) -> torch.Tensor:
        return self.w_avg + (w - self.w_avg) * truncation

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation=1.0) -> torch.Tensor:
        return torch.tanh(self.fc(self.truncate(z, truncation))).view(-1, 4, 4, 4)


def test_generator_with_own_truncation(tmp_path: Path) -> None:
    meta = {
        "model_config": {"arch": "dcgan", "image_size": [4, 4], "channels": 4, "z_dim": 8},
        "manifest": {"alpha_levels": [0, 128, 255], "palette": None, "labels": None},
    }
    pipe = SpritePipeline(_TruncatingGenerator(), meta)
    out = tmp_path / "s.onnx"
    export_pipeline(pipe, out)
    seeds = list(range(9))
    feeds = {"z": pipe.latents(seeds).numpy(), "truncation": np.array([0.5], np.float32)}
    _check(_run_ort(out, feeds), pipe(seeds, truncation=0.5))


def test_export_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from spritegan.cli import main

    run = make_run(tmp_path, "plain")
    assert main(["export", str(run), "--format", "onnx"]) == 0
    assert (run / "generator.onnx").exists() and "wrote" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "missing"), "--format", "onnx"]) == 2


def test_stylegan_export_keeps_the_truncation_input(tmp_path: Path) -> None:
    """The real StyleGAN-style generator: truncation must stay a graph input, not a constant of the trace."""
    pipe = SpritePipeline.from_run(Path(__file__).parent / "data" / "pinned-stylegan.safetensors")
    out = tmp_path / "style.onnx"
    export_pipeline(pipe, out)
    seeds = list(range(12))
    z = pipe.latents(seeds).numpy()
    at_half = _run_ort(out, {"z": z, "truncation": np.array([0.5], np.float32)})
    _check(at_half, pipe(seeds, truncation=0.5))
    assert not np.array_equal(at_half, _run_ort(out, {"z": z, "truncation": np.ones(1, np.float32)}))
