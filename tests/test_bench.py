"""Smoke tests of the benchmark functions: tiny sizes, a step or two, table shape; speed is never asserted."""

from __future__ import annotations

import math

import pytest

from spritegan.bench import count_flops, load_benchmark, markdown_table, matmul_peak, write_section

DATA = "builtin:sprites:32"


def test_markdown_table_and_section(tmp_path) -> None:
    table = markdown_table(["a", "b"], [["x", 1.234], ["y", 56.7]])
    assert table.splitlines()[1] == "| --- | ---: |"
    assert "| x | 1.23 |" in table and "| y | 57 |" in table
    doc = tmp_path / "bench.md"
    write_section(doc, "part", "first")
    write_section(doc, "part", "second")
    text = doc.read_text()
    assert "second" in text and "first" not in text and text.count("part:start") == 1


def test_throughput_rows_and_table() -> None:
    tt = load_benchmark("train_throughput")
    cases = [
        tt.Case("reference", "reference", size=64, batch=4),
        tt.Case(
            "ours 64", "ours", "cyberpunk-gan", 64, 4, overrides={"model.g_width": 8, "model.d_width": 8}
        ),
        tt.Case("ours 24", "ours", "sprite", 24, 4, threads=1, channels_last=True),
    ]
    rows = tt.run_throughput(cases, steps=1, repeats=2, gen_n=4, data=DATA, memory=False, log=lambda s: None)
    assert [r["name"] for r in rows] == ["reference", "ours 64", "ours 24"]
    for r in rows:
        assert r["train"] > 0 and r["gen"] > 0
        assert r["flops"] > 0 and r["gflops"] > 0 and r["peak"] > 0
    assert all(r["gen_raw"] > 0 for r in rows[1:]) and math.isnan(rows[0]["gen_raw"])
    lines = tt.throughput_table(rows).splitlines()
    assert len(lines) == 2 + 3
    assert lines[0].count("|") == 14 and "GFLOP/s" in lines[0]
    assert "% (fp32, 1t)" in lines[4]
    assert tt.peaks_line(rows).startswith("2048x2048 matmul peak")
    assert lines[2].split("|")[4].strip() == "1.00"


@pytest.mark.parametrize("device", ["cpu"])
def test_default_cases_cpu_has_reference_first(device: str) -> None:
    tt = load_benchmark("train_throughput")
    cases = tt.default_cases(device)
    assert cases[0].kind == "reference" and {c.preset for c in cases[1:]} == {"cyberpunk-gan", "sprite"}
    assert not any(c.compile for c in cases)


def test_quality_rows_with_a_stub_metric() -> None:
    q = load_benchmark("time_to_quality")
    small = {"model.g_width": 8, "model.d_width": 8, "model.max_channels": 16, "train.batch_size": 8}
    result = q.run_quality(
        0.002,
        samples_n=6,
        reals_n=6,
        data=DATA,
        fid=lambda fake, real: float((fake.float().mean() - real.float().mean()).abs()),
        overrides={"sprite": small, "cyberpunk-gan": small},
        log=lambda s: None,
    )
    rows = result["rows"]
    assert [r["preset"] for r in rows] == ["sprite"] * 3 + ["cyberpunk-gan"] * 2
    assert all(r["images_seen"] > 0 and r["fid24"] >= 0 for r in rows)
    assert not math.isnan(rows[-1]["fid64"]) and math.isnan(rows[0]["fid64"])
    text = q.quality_markdown(result, "test machine", "cmd")
    assert "FID @24x24 (reported)" in text and text.count("| sprite |") == 3


def test_count_flops_of_a_tiny_model() -> None:
    """FlopCounterMode's count: 2*M*N*K per matmul, twice that for a backward through weights and input."""
    import torch

    lin = torch.nn.Linear(8, 4, bias=False)
    x = torch.randn(2, 8, requires_grad=True)
    assert count_flops(lambda: lin(x)) == 2 * 2 * 8 * 4
    assert count_flops(lambda: lin(x).sum().backward()) == 3 * 2 * 2 * 8 * 4
    conv = torch.nn.Conv2d(3, 5, 3, padding=1, bias=False)
    img = torch.randn(1, 3, 6, 6)
    assert count_flops(lambda: conv(img)) == 2 * 6 * 6 * 5 * 3 * 9
    with torch.no_grad():
        assert count_flops(lambda: torch.tanh(img)) == 0


def test_flops_per_image_amortises_lazy_r1() -> None:
    """R1's double backward is counted: a run with R1 every step costs more per image than with R1 off."""
    tt = load_benchmark("train_throughput")
    small = {"model.g_width": 8, "model.d_width": 8, "model.max_channels": 16, "train.r1_every": 1}
    with_r1 = tt.Runner(tt.Case("r1", "ours", "sprite", 32, 4, overrides=small), "cpu", DATA)
    no_r1 = tt.Runner(
        tt.Case("no", "ours", "sprite", 32, 4, overrides={**small, "train.r1_gamma": 0.0}), "cpu", DATA
    )
    assert with_r1.flops_per_image() > no_r1.flops_per_image() > 0


def test_matmul_peak_is_a_rate() -> None:
    import torch

    assert matmul_peak(torch.float32, n=64, repeats=1) > 0
    assert matmul_peak(torch.bfloat16, n=64, repeats=1, threads=1) > 0
