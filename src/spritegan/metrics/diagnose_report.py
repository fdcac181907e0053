"""The one-page HTML report of `spritegan diagnose` (PNG figures embedded): verdict and reasons, the curves,
the sample sheets over time, the closest generated/real pairs and, for the built-in sprites, dropped traits."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from spritegan import storage
from spritegan.metrics import monitor as mon
from spritegan.metrics.diagnose import Diagnosis
from spritegan.metrics.features import composite_white
from spritegan.metrics.novelty import nearest_real

SIGNALS = (  # column, label, threshold (None: none), panel
    ("diversity", "diversity (x real)", mon.DIVERSITY_LOW, 1),
    ("distinct_nn", "distinct nearest reals (x real)", mon.DISTINCT_LOW, 1),
    ("nn_distance", "distance to nearest real (x real)", mon.NN_FAR, 2),
    ("d_sign_real", "E[sign D(real)]", mon.SIGN_HIGH, 2),
)


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def curves_png(diag: Diagnosis) -> bytes:
    """Three panels against step: the losses and D's score gap; diversity and distinct neighbours; distance
    to the nearest real and E[sign D(real)]; dotted lines at the thresholds, circles from the sheets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(8, 8), dpi=80, sharex=True)
    rows = diag.rows
    steps = [r["step"] for r in rows]
    for key, label in (("loss_d", "D loss"), ("loss_g", "G loss")):
        axes[0].plot(steps, [r.get(key, np.nan) for r in rows], label=label, linewidth=1)
    gap = [r.get("score_real", np.nan) - r.get("score_fake", np.nan) for r in rows]
    axes[0].plot(steps, gap, label="D(real) - D(fake)", linewidth=1)
    axes[0].axhline(mon.GAP_HIGH, color="grey", linestyle=":", linewidth=1)
    axes[0].set_yscale("symlog")
    for key, label, threshold, panel in SIGNALS:
        ax = axes[panel]
        pts = [(r["step"], r[key]) for r in rows if key in r]
        line = None
        if pts:
            (line,) = ax.plot(*zip(*pts, strict=True), label=f"{label}, live G", linewidth=1)
        sheet = [(r["step"], r[key]) for r in diag.sheet_rows if key in r]
        if sheet:
            colour = line.get_color() if line is not None else None
            ax.plot(
                *zip(*sheet, strict=True),
                "o--",
                color=colour,
                markersize=3,
                linewidth=0.8,
                label=f"{label}, G_ema (sheets)",
            )
        if pts or sheet:
            ax.axhline(threshold, color=ax.lines[-1].get_color(), linestyle=":", linewidth=1)
    axes[1].set_ylim(0, max(1.6, axes[1].get_ylim()[1]))
    axes[2].set_yscale("symlog")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7, loc="best")
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def sheets_png(diag: Diagnosis, count: int = 6, width: int = 240) -> bytes | None:
    """Up to `count` sample sheets spread over training, each `width` px wide, labelled with its step."""
    if not diag.sheets:
        return None
    picks = sorted({round(i * (len(diag.sheets) - 1) / max(count - 1, 1)) for i in range(count)})
    tiles = []
    for i in picks:
        step, path = diag.sheets[i]
        im = Image.open(path).convert("RGB")
        im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.NEAREST)
        canvas = Image.new("RGB", (width, im.height + 16), "white")
        canvas.paste(im, (0, 16))
        ImageDraw.Draw(canvas).text((2, 2), f"step {step:,}", fill="black")
        tiles.append(canvas)
    cols = min(3, len(tiles))
    rows = -(-len(tiles) // cols)
    h = max(t.height for t in tiles)
    out = Image.new("RGB", (cols * (width + 6), rows * (h + 6)), "white")
    for k, tile in enumerate(tiles):
        out.paste(tile, ((k % cols) * (width + 6), (k // cols) * (h + 6)))
    return _png(out)


def pairs_png(diag: Diagnosis, count: int = 12) -> tuple[bytes, list[float]] | None:
    """The `count` closest generated/real pairs in pixel space (generated on top, its nearest real below;
    composited on white, mean absolute difference in [0, 255] returned per pair)."""
    if diag.fakes is None or diag.real is None or not len(diag.fakes):
        return None
    index, dist = nearest_real(diag.fakes, diag.real)
    order = np.argsort(dist, kind="stable")[:count]
    fake = composite_white(diag.fakes[order].numpy())
    real = composite_white(diag.real[index[order]].numpy())
    h, w = fake.shape[2:]
    scale = max(1, 64 // h)
    out = Image.new("RGB", (len(order) * (w * scale + 4) + 4, 2 * (h * scale + 4) + 4), (128, 128, 128))
    for k in range(len(order)):
        for row, images in enumerate((fake, real)):
            tile = Image.fromarray(np.ascontiguousarray(images[k].transpose(1, 2, 0)))
            tile = tile.resize((w * scale, h * scale), Image.Resampling.NEAREST)
            out.paste(tile, (4 + k * (w * scale + 4), 4 + row * (h * scale + 4)))
    return _png(out), [float(dist[i]) for i in order]


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def report_html(diag: Diagnosis) -> str:
    """The report as one self-contained HTML page."""
    e = html.escape
    colour = {"healthy": "#1a7f37"}.get(diag.verdict, "#b42318")
    parts = [
        "<!doctype html><meta charset='utf-8'>",
        f"<title>spritegan diagnose {e(diag.run.name)}</title>",
        "<style>body{font:14px sans-serif;max-width:980px;margin:1em auto}img{max-width:100%;"
        "image-rendering:pixelated}td,th{padding:2px 8px;text-align:left}</style>",
        f"<h1>{e(str(diag.run))}</h1>",
        f"<h2 style='color:{colour}'>Verdict: {e(diag.verdict)}</h2><ul>",
        *[f"<li>{e(r)}</li>" for r in diag.reasons],
        "</ul>",
    ]
    if diag.first_flags:
        total = max(diag.total_steps, 1)
        items = [
            f"{e(k)} at step {v:,} ({v / total:.0%} of training)"
            for k, v in sorted(diag.first_flags.items(), key=lambda kv: kv[1])
        ]
        parts.append("<p>First crossings on the training curves: " + "; ".join(items) + "</p>")
    else:
        parts.append("<p>No signal crossed its threshold on the training curves.</p>")
    parts.append("<table><tr><th>final generator, fixed seeds</th><th>value</th><th>threshold</th></tr>")
    for key, label, threshold, _ in SIGNALS[:3]:
        parts.append(f"<tr><td>{e(label)}</td><td>{diag.final[key]:.2f}</td><td>{threshold}</td></tr>")
    parts.append("</table>")
    if diag.dropped_note:
        parts.append("<h3>Dropped rare modes (apart from the verdict)</h3>")
        listing = ", ".join(e(d) for d in diag.dropped) if diag.dropped else "none"
        parts.append(f"<p>{e(diag.dropped_note)}. Traits never drawn: {listing}</p>")
    parts.append("<h3>Curves</h3>" + _img(curves_png(diag), "curves"))
    sheets = sheets_png(diag)
    if sheets:
        parts.append("<h3>Sample sheets over training (G_ema, fixed latents)</h3>" + _img(sheets, "sheets"))
    pairs = pairs_png(diag)
    if pairs:
        data, dists = pairs
        parts.append(
            "<h3>Closest generated (top) / real (bottom) pairs in pixel space</h3>"
            + _img(data, "pairs")
            + f"<p>mean absolute difference per value: {', '.join(f'{d:.1f}' for d in dists)}</p>"
        )
    return "\n".join(parts)


def write_report(diag: Diagnosis, out: str | Path) -> Path:
    """Write the report atomically to `out`."""
    return storage.atomic_write_text(out, report_html(diag))
