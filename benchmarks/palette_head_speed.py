"""The palette head's cost: its straight-through choice before and after blocking, and a whole training step.

1. The head alone (forward + backward of the colour choice for a batch of 64 punks, 36,864 pixels, E = 16)
   for K colours: the previous implementation (one pass over the whole (pixels, K) block, probabilities kept
   for the backward pass, 4 + 16 + 64 mixtures per pixel) against the current one (`spritegan.models.
   palette_head`: blocks of 1,024 rows, K padded to a multiple of 16, logits recomputed in the backward
   pass), interleaved, process CPU time (a shared machine disturbs it far less than the wall clock).
2. A whole `sprite` training step on the punks (batch 64) with the RGB head and with the palette head.

    python benchmarks/palette_head_speed.py --repeats 5
"""

from __future__ import annotations

import argparse
import time

import torch

PUNKS = "/work/shared/datasets/cryptopunks/punks.png"


class PreviousChoice(torch.autograd.Function):
    """The implementation before blocking (kept here as the reference): probabilities of all pixels kept."""

    @staticmethod
    def forward(ctx, pixels, weight, bias, palette, temperature):
        k, c = palette.shape
        e = weight.shape[1]
        logits = torch.addmm(bias, pixels, weight.t())
        out = palette[logits.argmax(1)]
        if temperature != 1.0:
            logits.div_(temperature)
        probs = torch.softmax(logits, dim=1)
        del logits
        outer = (palette[:, :, None] * weight[:, None, :]).reshape(k, c * e)
        mixtures = probs @ torch.cat([palette, weight, outer], 1)
        ctx.save_for_backward(pixels, palette, probs, mixtures)
        ctx.temperature, ctx.sizes = temperature, (c, e)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        pixels, palette, probs, mixtures = ctx.saved_tensors
        c, e = ctx.sizes
        m = len(pixels)
        soft, mix_w, mix_pw = mixtures.split([c, e, c * e], dim=1)
        dot = (grad_out * soft).sum(1, keepdim=True)
        grad_pixels = torch.einsum("mc,mce->me", grad_out, mix_pw.view(m, c, e)) - dot * mix_w
        z = torch.cat(
            [(grad_out[:, :, None] * pixels[:, None, :]).reshape(m, c * e), dot * pixels, grad_out, dot], 1
        )
        q = probs.t() @ z
        q_gx, q_dx, q_g, q_d = q.split([c * e, e, c, 1], dim=1)
        grad_weight = torch.einsum("kc,kce->ke", palette, q_gx.view(-1, c, e)) - q_dx
        grad_bias = (palette * q_g).sum(1) - q_d.squeeze(1)
        t = ctx.temperature
        return grad_pixels / t, grad_weight / t, grad_bias / t, None, None


def cpu_seconds(fn, repeats: int) -> float:
    """The fastest of `repeats` calls, in process CPU seconds."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def head_case(k: int, repeats: int) -> tuple[float, float, float]:
    from spritegan.models.palette_head import _StraightThroughChoice

    gen = torch.Generator().manual_seed(0)
    m, e, c = 64 * 576, 16, 4
    x = torch.randn(m, e, generator=gen, requires_grad=True)
    w = torch.randn(k, e, generator=gen, requires_grad=True)
    b = torch.randn(k, generator=gen, requires_grad=True)
    pal = torch.rand(k, c, generator=gen) * 2 - 1
    g = torch.randn(m, c, generator=gen)

    def previous():
        x.grad = w.grad = b.grad = None
        (PreviousChoice.apply(x, w, b, pal, 1.0) * g).sum().backward()
        return x.grad.clone(), w.grad.clone()

    def current():
        x.grad = w.grad = b.grad = None
        (_StraightThroughChoice.apply(x, w, b, pal, 1.0)[0] * g).sum().backward()
        return x.grad.clone(), w.grad.clone()

    diff = max(float((a - r).abs().max() / r.abs().max()) for a, r in zip(current(), previous(), strict=True))
    before, after = [], []
    for _ in range(repeats):
        before.append(cpu_seconds(previous, 1))
        after.append(cpu_seconds(current, 1))
    return min(before), min(after), diff


def step_rates(repeats: int, steps: int) -> dict[str, float]:
    from spritegan.config import build_config
    from spritegan.data.dataset import open_dataset
    from spritegan.train.loop import Trainer, fit_model_to_data

    data = open_dataset(PUNKS, tile=24)
    trainers = {}
    import tempfile
    from pathlib import Path

    tmp = tempfile.TemporaryDirectory()
    for head in ("rgb", "palette"):
        cfg = build_config("sprite", {"model.head": head, "train.threads": 1})
        fit_model_to_data(cfg, data, conditional=False)
        trainers[head] = Trainer(cfg, data, Path(tmp.name) / head)
        trainers[head].train_step()
    best = {head: float("inf") for head in trainers}
    for _ in range(repeats):
        for head, tr in trainers.items():
            best[head] = min(
                best[head], cpu_seconds(lambda tr=tr: [tr.train_step() for _ in range(steps)], 1)
            )
    return {head: steps * 64 / s for head, s in best.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="interleaved repeats (the fastest is kept)")
    ap.add_argument("--steps", type=int, default=4, help="training steps per repeat")
    ap.add_argument("--k", default="48,64,222", help="palette sizes for the head-alone rows")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    import os

    print(f"1 thread, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| head alone, 36,864 pixels | previous ms | current ms | x previous | max rel. grad diff |")
    print("|---|---:|---:|---:|---:|")
    for k in [int(v) for v in args.k.split(",")]:
        before, after, diff = head_case(k, args.repeats)
        print(f"| K = {k} | {before * 1e3:.1f} | {after * 1e3:.1f} | {before / after:.2f} | {diff:.1e} |")
    rates = step_rates(args.repeats, args.steps)
    print("\n| `sprite` step, punks 24x24, batch 64 | img per CPU-s | x RGB head |")
    print("|---|---:|---:|")
    for head, rate in rates.items():
        print(f"| {head} head | {rate:.0f} | {rate / rates['rgb']:.2f} |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
