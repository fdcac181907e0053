"""Training and generation images/s of our DCGAN path against the plain reference DCGAN, in the same run.

Cases run interleaved (rotating order, each repeat times every case) on the same uint8 punks in memory;
the table gives medians and ratios against the reference. Peak RSS is measured per case in a fresh
process (spawned, untimed); on CUDA the max allocated memory is taken in the timed process.

    python benchmarks/train_throughput.py                 # CPU, ~3-5 minutes on 2 busy cores
    python benchmarks/train_throughput.py --study         # also threads 1 vs 2 and channels_last on CPU
    python benchmarks/train_throughput.py --device cuda   # adds bf16 + channels_last + torch.compile cases
    python benchmarks/train_throughput.py --precision     # sprite fp32 vs bf16 (vs channels_last), 1 and 2
                                                          # threads, on punks 24x24 and builtin sprites 32x32

Every row also gets its FLOPs per training image (torch.utils.flop_counter over r1_every steps, so lazy R1
is amortised), the GFLOP/s that makes at the measured img/s, and its share of this machine's matmul peak
(a 2048x2048 matmul in fp32, or bf16 for bf16 rows, at the row's thread count) measured in the same run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from spritegan.bench import (
    current_rss_mib,
    interleave,
    loadavg,
    machine,
    markdown_table,
    median,
    peak_rss_mib,
    spread,
    sync,
    timed,
)

PUNKS = "/work/shared/datasets/cryptopunks/punks.png"
_DATA: dict[tuple[str, int], torch.Tensor] = {}
_PALETTES: dict[tuple[str, int], list | None] = {}  # the loader's exact palette (None: painted art)
DEFAULT_THREADS = torch.get_num_threads()


def punks(size: int, data: str = PUNKS) -> torch.Tensor:
    """The punks as one uint8 tensor (N, 4, size, size), nearest-upscaled when size != 24 (cached)."""
    key = (data, size)
    if key not in _DATA:
        from spritegan.data.dataset import open_dataset

        if data.startswith("builtin:"):
            ds = open_dataset(data, resize=str(size))
        else:
            ds = open_dataset(data, tile="24", resize=None if size == 24 else str(size))
        _DATA[key], _PALETTES[key] = ds.images, ds.manifest.get("palette")
    return _DATA[key]


@dataclass
class Case:
    """One benchmarked configuration: ours (a preset through the Trainer) or the reference."""

    name: str
    kind: str  # "ours" | "reference"
    preset: str = "cyberpunk-gan"
    size: int = 64
    batch: int = 128
    threads: int = 0
    channels_last: bool = False
    compile: bool = False
    amp: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    data: str | None = None  # another dataset than the run's (e.g. builtin:sprites:N at its 32x32)
    note: str = ""


class Runner:
    """A built case: its train step and generation, each returning images/s."""

    def __init__(self, case: Case, device: str, data: str = PUNKS) -> None:
        self.case, self.device = case, torch.device(device)
        images = punks(case.size, case.data or data)
        palette = _PALETTES[(case.data or data, case.size)]
        self._tmp = tempfile.TemporaryDirectory()
        if case.kind == "reference":
            from reference_dcgan import ReferenceDCGAN

            self.model = ReferenceDCGAN(
                images, case.batch, device, channels_last=case.channels_last, amp=case.amp
            )
            self.step_fn, self.gen_fn = self.model.train_step, self.model.generate
            self.g_forward = None
        else:
            self._build_ours(images, palette, device)

    def _build_ours(self, images: torch.Tensor, palette: list | None, device: str) -> None:
        from types import SimpleNamespace

        from spritegan.config import build_config
        from spritegan.generate.pipeline import SpritePipeline
        from spritegan.tensors import to_uint8
        from spritegan.train.loop import Trainer, fit_model_to_data

        c = self.case
        over = {
            "train.device": device,
            "train.batch_size": c.batch,
            "train.amp": "on" if c.amp else "off",
            **c.overrides,
        }
        cfg = build_config(c.preset, over)
        manifest = {"alpha_levels": None, "palette": palette}  # pixel art, or None for painted art
        ds = SimpleNamespace(images=images, manifest=manifest, labels=None)
        fit_model_to_data(cfg, ds, conditional=False)
        tr = Trainer(cfg, ds, Path(self._tmp.name))
        if c.channels_last:
            for m in (tr.G, tr.D, tr.G_ema):
                m.to(memory_format=torch.channels_last)
        if c.compile:
            self._try_compile(tr)
        self.trainer = tr
        self.step_fn = tr.train_step
        pipe = SpritePipeline(tr.G_ema, tr.generator_meta(), device)
        self.gen_fn = lambda n: pipe(n=n, seed=0)
        z_dim = cfg.model.z_dim

        @torch.inference_mode()
        def g_forward(n: int) -> torch.Tensor:
            return to_uint8(tr.G_ema(torch.randn(n, z_dim, device=self.device))).cpu()

        self.g_forward = g_forward

    def _try_compile(self, tr: Any) -> None:
        """torch.compile G and D; on any failure in a first step fall back to eager and say so."""
        eager = (tr.G, tr.D)
        try:
            tr.G, tr.D = torch.compile(tr.G), torch.compile(tr.D)
            tr.train_step()
            sync(self.device)
        except Exception as exc:  # noqa: BLE001 - any compiler failure means: use eager
            tr.G, tr.D = eager
            self.case.note = f"compile failed ({type(exc).__name__}), eager"

    def flops_per_image(self) -> float:
        """FLOPs per training image: counted over r1_every steps for ours (lazy R1 amortised), else one."""
        from spritegan.bench import count_flops

        k = 1
        if self.case.kind == "ours" and self.trainer.cfg.train.r1_gamma > 0:
            k = self.trainer.cfg.train.r1_every
        old = self._threads()
        try:
            flops = count_flops(lambda: [self.step_fn() for _ in range(k)])
        finally:
            torch.set_num_threads(old)
        return flops / (k * self.case.batch)

    def _threads(self) -> int:
        old = torch.get_num_threads()
        torch.set_num_threads(self.case.threads or DEFAULT_THREADS)
        return old

    def train_rate(self, steps: int) -> float:
        """Training images/s over `steps` steps (one D + one G update each)."""
        old = self._threads()
        try:
            dt = timed(lambda: [self.step_fn() for _ in range(steps)], self.device)
        finally:
            torch.set_num_threads(old)
        return steps * self.case.batch / dt

    def gen_rate(self, n: int, raw: bool = False) -> float:
        """Generation images/s for n uint8 images (the full pipeline, or the bare generator when raw)."""
        fn = self.g_forward if raw else self.gen_fn
        if fn is None:
            return float("nan")
        old = self._threads()
        try:
            dt = timed(lambda: fn(n), self.device)
        finally:
            torch.set_num_threads(old)
        return n / dt


def default_cases(device: str, batch64: int = 128, batch24: int = 64) -> list[Case]:
    """Reference first (the ratio's denominator), then our two presets; fast-path cases on CUDA."""
    cases = [
        Case("reference DCGAN 64x64 fp32", "reference", size=64, batch=batch64),
        Case("ours cyberpunk-gan 64x64", "ours", "cyberpunk-gan", 64, batch64),
        Case("ours sprite 24x24 fp32", "ours", "sprite", 24, batch24),
    ]
    from spritegan.precision import cpu_bf16_native

    if device == "cpu" and cpu_bf16_native():  # train.amp=on: bf16 autocast on this CPU
        cases.append(Case("ours sprite 24x24 bf16 (train.amp=on)", "ours", "sprite", 24, batch24, amp=True))
    if device == "cuda":
        cases += [
            Case(
                "reference bf16 + channels_last",
                "reference",
                size=64,
                batch=batch64,
                channels_last=True,
                amp=True,
            ),
            Case("ours cyberpunk-gan bf16", "ours", "cyberpunk-gan", 64, batch64, amp=True),
            Case(
                "ours cyberpunk-gan bf16 + channels_last + compile",
                "ours",
                "cyberpunk-gan",
                64,
                batch64,
                channels_last=True,
                compile=True,
                amp=True,
            ),
            Case("ours sprite bf16 + compile", "ours", "sprite", 24, batch24, compile=True, amp=True),
        ]
    return cases


def study_cases(batch64: int = 128, batch24: int = 64) -> list[Case]:
    """CPU questions: torch threads 1 vs 2 for the sprite preset, channels_last on and off."""
    return [
        Case("reference DCGAN 64x64 fp32", "reference", size=64, batch=batch64),
        Case("reference + channels_last", "reference", size=64, batch=batch64, channels_last=True),
        Case("ours cyberpunk-gan 64x64", "ours", "cyberpunk-gan", 64, batch64),
        Case("ours cyberpunk-gan + channels_last", "ours", "cyberpunk-gan", 64, batch64, channels_last=True),
        Case("ours sprite 24x24, 2 threads", "ours", "sprite", 24, batch24, threads=2),
        Case("ours sprite 24x24, 1 thread", "ours", "sprite", 24, batch24, threads=1),
        Case(
            "ours sprite + channels_last, 2 threads",
            "ours",
            "sprite",
            24,
            batch24,
            threads=2,
            channels_last=True,
        ),
    ]


def precision_cases(batch24: int = 64) -> list[Case]:
    """CPU: the sprite preset fp32 (the configuration before bf16 on CPU) against bf16 autocast and
    channels_last, with 1 and 2 threads, on the punks at 24x24 and on the built-in sprites at 32x32."""
    cases = [Case("reference DCGAN 64x64 fp32", "reference", size=64, batch=128)]
    for threads in (1, 2):
        for data, size, label in ((None, 24, "punks 24x24"), ("builtin:sprites", 32, "builtin 32x32")):
            for amp, cl in ((False, False), (True, False), (True, True), (False, True)):
                if data and cl:
                    continue  # channels_last is asked once, on the punks
                name = f"sprite {label} {'bf16' if amp else 'fp32'}{' + channels_last' if cl else ''}, {threads}t"
                cases.append(
                    Case(name, "ours", "sprite", size, batch24, threads, channels_last=cl, amp=amp, data=data)
                )
    return cases


def measure_peaks(threads: Sequence[int], device: str, repeats: int = 3) -> dict[tuple[int, str], float]:
    """GFLOP/s of a 2048x2048 matmul per (threads, "fp32" | "bf16"), interleaved, best of the repeats."""
    from spritegan.bench import matmul_peak

    out: dict[tuple[int, str], float] = {}
    for _ in range(repeats):
        for t in threads:
            for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
                rate = matmul_peak(dtype, repeats=1, threads=t, device=device)
                out[(t, name)] = max(out.get((t, name), 0.0), rate)
    return out


def _memory_probe(
    case: Case, device: str, data: str, steps: int, gen_n: int, bench_dir: str
) -> tuple[float, float]:
    """In a fresh process: RSS after loading the data, then peak RSS after building, training, generating."""
    sys.path.insert(0, bench_dir)
    torch.set_num_threads(1)
    punks(case.size, data)
    base = current_rss_mib()
    r = Runner(case, device, data)
    for _ in range(steps):
        r.step_fn()
    r.gen_fn(gen_n)
    return base, peak_rss_mib()


def peak_memory(case: Case, device: str, data: str, steps: int = 2, gen_n: int = 64) -> tuple[float, float]:
    """(data-loaded RSS, peak RSS) in MiB for a case, measured in a spawned process."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_memory_probe, (case, device, data, steps, gen_n, str(Path(__file__).parent)))


def run_throughput(
    cases: Sequence[Case],
    *,
    device: str = "cpu",
    steps: int = 2,
    repeats: int = 3,
    gen_n: int = 256,
    data: str = PUNKS,
    memory: bool = True,
    log: Any = print,
    count: bool = True,
) -> list[dict[str, Any]]:
    """Build every case, warm up, time them interleaved; one dict per case (medians, ranges, memory)."""
    runners = {}
    flops: dict[str, float] = {}
    for c in cases:
        log(f"building {c.name} (load {loadavg()})")
        r = Runner(c, device, data)
        r.step_fn()
        r.gen_fn(min(gen_n, 16))
        runners[c.name] = r
        flops[c.name] = r.flops_per_image() if count else float("nan")
    thread_counts = sorted({c.threads or DEFAULT_THREADS for c in cases})
    peaks = measure_peaks(thread_counts, device) if count else {}
    cuda = device == "cuda" and torch.cuda.is_available()
    cuda_peak = {n: 0.0 for n in runners}

    def case_fn(name: str, what: str) -> Any:
        def run() -> float:
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            r = runners[name]
            rate = r.train_rate(steps) if what == "train" else r.gen_rate(gen_n, raw=what == "raw")
            if cuda:
                cuda_peak[name] = max(cuda_peak[name], torch.cuda.max_memory_allocated() / 2**20)
            return rate

        return run

    log(f"timing training, {repeats} x {steps} steps per case (load {loadavg()})")
    train = interleave({n: case_fn(n, "train") for n in runners}, repeats)
    log(f"timing generation, {repeats} x {gen_n} images per case (load {loadavg()})")
    gen = interleave({n: case_fn(n, "gen") for n in runners}, repeats)
    raw = interleave({n: case_fn(n, "raw") for n in runners if runners[n].g_forward is not None}, repeats)
    if count:
        for key, rate in measure_peaks(thread_counts, device).items():  # again after: the best of both
            peaks[key] = max(peaks[key], rate)
    rows = []
    for c in cases:
        row = {
            "name": c.name,
            "batch": c.batch,
            "train": median(train[c.name]),
            "train_range": spread(train[c.name]),
            "gen": median(gen[c.name]),
            "gen_raw": median(raw.get(c.name, [])),
            "note": runners[c.name].case.note,
            "cuda_mib": cuda_peak[c.name] if cuda else float("nan"),
            "flops": flops[c.name],
        }
        row["gflops"] = row["train"] * row["flops"] / 1e9
        precision = "bf16" if c.amp and _bf16_used(runners[c.name]) else "fp32"
        row["peak_kind"] = f"{precision}, {c.threads or DEFAULT_THREADS}t"
        row["peak"] = peaks.get((c.threads or DEFAULT_THREADS, precision), float("nan"))
        if memory:
            log(f"peak RSS of {c.name} in a fresh process")
            row["rss_base"], row["rss_peak"] = peak_memory(c, device, data)
        rows.append(row)
    return rows


def _bf16_used(runner: Runner) -> bool:
    """Whether the case really ran bf16 autocast (a CPU without native bf16 trains ours in fp32)."""
    if runner.case.kind == "ours":
        return bool(runner.trainer.amp)
    return bool(getattr(runner.model, "amp", False))


def peaks_line(rows: Sequence[dict[str, Any]]) -> str:
    """The matmul peaks the rows were divided by."""
    seen = {r["peak_kind"]: r["peak"] for r in rows if "peak_kind" in r}
    parts = [f"{kind} {rate:.0f} GFLOP/s" for kind, rate in sorted(seen.items())]
    return "2048x2048 matmul peak (best of the run): " + ", ".join(parts) if parts else ""


def throughput_table(rows: Sequence[dict[str, Any]]) -> str:
    """The markdown table; ratios are against the first row (the reference)."""
    ref = rows[0]
    headers = ["case", "batch", "train img/s (min-max)", "x ref", "generate img/s", "x ref", "bare G img/s"]
    headers += ["MFLOP/img", "GFLOP/s", "% of peak (kind)"]
    headers += ["peak RSS MiB (data loaded)", "CUDA max alloc MiB", "note"]
    out = []
    for r in rows:
        rss = f"{r['rss_peak']:.0f} ({r['rss_base']:.0f})" if "rss_peak" in r else "-"
        out.append(
            [
                r["name"],
                r["batch"],
                f"{r['train']:.0f} ({r['train_range']})",
                f"{r['train'] / ref['train']:.2f}",
                r["gen"],
                f"{r['gen'] / ref['gen']:.2f}",
                r["gen_raw"],
                r.get("flops", float("nan")) / 1e6,
                r.get("gflops", float("nan")),
                f"{100 * r['gflops'] / r['peak']:.0f}% ({r['peak_kind']})" if r.get("peak") else "-",
                rss,
                r["cuda_mib"],
                r["note"] or "",
            ]
        )
    return markdown_table(headers, out, "lrrrrrrrrrrrl")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, run the cases, print the table with the machine and its load."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--steps", type=int, default=2, help="train steps per timed repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gen", type=int, default=256, help="images per timed generation repeat")
    ap.add_argument("--batch64", type=int, default=128, help="batch of the 64x64 cases")
    ap.add_argument("--batch24", type=int, default=64, help="batch of the 24x24 cases")
    ap.add_argument("--threads", type=int, default=0, help="torch threads of the cases that set none")
    ap.add_argument("--study", action="store_true", help="threads 1 vs 2 and channels_last on CPU instead")
    ap.add_argument("--precision", action="store_true", help="sprite fp32 vs bf16 vs channels_last instead")
    ap.add_argument("--no-memory", action="store_true", help="skip the per-case peak RSS processes")
    ap.add_argument("--no-flops", action="store_true", help="skip the FLOP count and the matmul peaks")
    ap.add_argument("--quick", action="store_true", help="1 step, 2 repeats, 64 images: a smoke run")
    ap.add_argument("--data", default=PUNKS, help="CryptoPunks sheet, or builtin:sprites:N")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA GPU visible", file=sys.stderr)
        return 2
    if args.threads:
        global DEFAULT_THREADS
        DEFAULT_THREADS = args.threads
        torch.set_num_threads(args.threads)
    if args.quick:
        args.steps, args.repeats, args.gen = 1, 2, 64
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if args.precision:
        cases = precision_cases(args.batch24)
    elif args.study:
        cases = study_cases(args.batch64, args.batch24)
    else:
        cases = default_cases(args.device, args.batch64, args.batch24)
    before = loadavg()
    rows = run_throughput(
        cases,
        device=args.device,
        steps=args.steps,
        repeats=args.repeats,
        gen_n=args.gen,
        data=args.data,
        memory=not args.no_memory,
        log=lambda s: print(s, file=sys.stderr),
        count=not args.no_flops,
    )
    print(f"Machine: {machine(args.device)}. Load average (1/5/15 min): {before} before, {loadavg()} after.")
    print(f"{args.repeats} interleaved repeats of {args.steps} steps / {args.gen} images; medians.\n")
    print(throughput_table(rows))
    if not args.no_flops:
        print(f"\n{peaks_line(rows)}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
