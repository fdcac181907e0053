"""bf16 autocast on CPU: detection with a clean fp32 fallback, train.amp's choices, and a step with R1."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from spritegan import precision
from spritegan.config import build_config
from spritegan.train.loop import Trainer, fit_model_to_data


@pytest.fixture
def cpu_bf16(monkeypatch):
    """Set SPRITEGAN_CPU_BF16 for one test (the detection is cached, so the cache is cleared around it)."""

    def force(value: str) -> None:
        monkeypatch.setenv("SPRITEGAN_CPU_BF16", value)
        precision.cpu_bf16_native.cache_clear()
        precision.cpu_bf16_pays.cache_clear()

    yield force
    monkeypatch.delenv("SPRITEGAN_CPU_BF16", raising=False)
    precision.cpu_bf16_native.cache_clear()
    precision.cpu_bf16_pays.cache_clear()


def _trainer(tmp_path, amp: str, **over) -> Trainer:
    small = {"model.g_width": 8, "model.d_width": 8, "model.max_channels": 16, "train.batch_size": 8}
    cfg = build_config("sprite", {**small, "train.device": "cpu", "train.amp": amp, **over})
    images = torch.randint(
        0, 256, (16, 4, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    ds = SimpleNamespace(images=images, manifest={"alpha_levels": None}, labels=None)
    fit_model_to_data(cfg, ds, conditional=False)
    return Trainer(cfg, ds, tmp_path)


def test_detection_follows_the_override(cpu_bf16) -> None:
    cpu_bf16("0")
    assert not precision.bf16_autocast_ok("cpu") and precision.bf16_autocast_ok("cuda")
    cpu_bf16("1")
    assert precision.bf16_autocast_ok("cpu")


def test_probe_measures_both_precisions() -> None:
    torch.set_num_threads(1)
    speedup = precision.probe_bf16_speedup(repeats=1)
    assert 0.01 < speedup < 100  # a ratio of two real timings, whichever way it goes on this CPU


def test_probe_result_is_kept_per_machine(tmp_path, monkeypatch) -> None:
    """The first call measures and writes the file; later calls read it, so one machine decides alike."""
    calls = []
    monkeypatch.setattr(precision, "probe_bf16_speedup", lambda: calls.append(1) or 0.55)
    cache = tmp_path / "sub" / "cpu-bf16.json"
    assert precision.cached_bf16_speedup(cache) == 0.55
    assert precision.cached_bf16_speedup(cache) == 0.55
    assert len(calls) == 1
    assert list(json.loads(cache.read_text()).values()) == [0.55]
    cache.write_text("not json")  # a damaged file is measured again and rewritten
    assert precision.cached_bf16_speedup(cache) == 0.55 and len(calls) == 2


@pytest.mark.parametrize(("speedup", "expected"), [(0.55, False), (1.05, False), (1.5, True)])
def test_native_bf16_is_used_only_where_measured_faster(monkeypatch, speedup, expected) -> None:
    monkeypatch.delenv("SPRITEGAN_CPU_BF16", raising=False)
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: True)
    monkeypatch.setattr(precision, "cached_bf16_speedup", lambda: speedup)
    precision.cpu_bf16_pays.cache_clear()
    try:
        assert precision.bf16_autocast_ok("cpu") is expected
    finally:
        precision.cpu_bf16_pays.cache_clear()


def test_no_native_bf16_never_probes(monkeypatch) -> None:
    monkeypatch.delenv("SPRITEGAN_CPU_BF16", raising=False)
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: False)
    monkeypatch.setattr(precision, "cached_bf16_speedup", lambda: pytest.fail("probed without native bf16"))
    precision.cpu_bf16_pays.cache_clear()
    try:
        assert not precision.bf16_autocast_ok("cpu")
    finally:
        precision.cpu_bf16_pays.cache_clear()


@pytest.mark.parametrize(
    ("amp", "native", "expected"),
    [("auto", "1", False), ("on", "1", True), ("on", "0", False), ("off", "1", False)],
)
def test_train_amp_choices_on_cpu(tmp_path, cpu_bf16, amp, native, expected) -> None:
    cpu_bf16(native)
    torch.set_num_threads(1)
    assert _trainer(tmp_path, amp).amp is expected


def test_bf16_step_with_r1_keeps_fp32_weights_and_optimizer(tmp_path, cpu_bf16) -> None:
    """R1's double backward runs under CPU autocast; weights, EMA and Adam state stay fp32."""
    cpu_bf16("1")
    torch.set_num_threads(1)
    tr = _trainer(tmp_path, "on", **{"train.r1_every": 1})
    stats = [tr.train_step() for _ in range(2)][-1]
    assert tr.amp and all(torch.isfinite(v).all() for v in stats.values())
    assert float(stats["r1"]) > 0
    for net in (tr.G, tr.D, tr.G_ema):
        assert {p.dtype for p in net.parameters()} == {torch.float32}
    for opt in (tr.opt_g, tr.opt_d):
        assert {v.dtype for s in opt.state.values() for v in s.values() if v.is_floating_point()} == {
            torch.float32
        }


def _subnormal_survives() -> bool:
    return bool((torch.tensor([1e-39]) * 1.0).item() != 0.0)


def test_a_trainer_flushes_subnormal_numbers(tmp_path):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-to-zero mode")
    try:
        assert _subnormal_survives()  # the default: kept, and slow
        _trainer(tmp_path, "off")
        assert not _subnormal_survives()
    finally:
        torch.set_flush_denormal(False)


def test_the_cli_flushes_subnormal_numbers_before_a_command_runs(tmp_path, capsys):
    from spritegan.cli import main

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-to-zero mode")
    try:
        assert main(["presets"]) == 0
        assert not _subnormal_survives()
    finally:
        torch.set_flush_denormal(False)
