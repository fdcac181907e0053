"""`spritegan diagnose`: sheets read back, the monitor columns of a training run, the report, and verdicts on
constructed healthy and collapsed generators."""

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from spritegan.cli import main
from spritegan.generate.pipeline import SpritePipeline
from spritegan.generate.sheet import make_sheet
from spritegan.metrics import diagnose
from spritegan.metrics.monitor import MONITOR_FIELDS
from spritegan.storage import load_generator_file, save_generator
from studio_fixtures import make_run


def _hard_alpha_sprites(n: int, size: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    rgb = torch.randint(0, 200, (n, 3, size, size), generator=g, dtype=torch.uint8)  # never the checker greys
    alpha = (torch.rand(n, 1, size, size, generator=g) < 0.6).to(torch.uint8) * 255
    rgb = rgb * (alpha > 0)
    return torch.cat([rgb, alpha], 1)


@pytest.mark.parametrize("n,size", [(16, 32), (10, 24), (9, 8)])
def test_read_sheet_gives_back_the_sprites_of_a_training_sheet(tmp_path, n, size):
    images = _hard_alpha_sprites(n, size)
    scale = max(1, 96 // size)  # as Trainer.sample_sheet draws it
    make_sheet(images, scale=scale, background="checker").save(tmp_path / "s.png")
    back = diagnose.read_sheet(tmp_path / "s.png", n, (size, size), 4)
    assert torch.equal(back, images)
    assert torch.equal(diagnose.read_sheet(tmp_path / "s.png", n, (size, size), 3), images[:, :3])
    with pytest.raises(Exception, match="not a 25-sprite sheet"):
        diagnose.read_sheet(tmp_path / "s.png", 25, (size, size), 4)


def test_read_sheet_solves_soft_alpha_where_a_pixel_covers_both_checker_shades(tmp_path):
    images = torch.zeros(4, 4, 32, 32, dtype=torch.uint8)
    images[:, 0], images[:, 3] = 200, 128  # red at half alpha everywhere
    make_sheet(images, scale=3, background="checker").save(tmp_path / "s.png")
    back = diagnose.read_sheet(tmp_path / "s.png", 4, (32, 32), 4).float()
    straddling = back[:, 3] != 255  # blocks that show both shades are solved; the rest read as opaque
    assert straddling.float().mean() > 0.1
    assert (back[:, 3][straddling] - 128).abs().max() <= 3
    assert (back[:, 0][straddling] - 200).abs().max() <= 4


def test_training_logs_the_monitor_columns_and_scalars(tiny_run):
    rows = list(csv.DictReader(open(tiny_run / "metrics.csv")))
    for name in MONITOR_FIELDS:
        values = [float(r[name]) for r in rows]
        assert all(np.isfinite(values)), name
    assert all(-1 <= float(r["d_sign_real"]) <= 1 for r in rows)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tiny_run / "tensorboard"))
    acc.Reload()
    assert {f"Monitor/{n}" for n in MONITOR_FIELDS} <= set(acc.Tags()["scalars"])


def test_diagnose_writes_a_report_and_keeps_an_existing_one(tiny_run, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["diagnose", str(tiny_run), "--out", str(out), "--trait-samples", "16"]) == 0
    page = out.read_text()
    assert "Verdict:" in page and page.count("data:image/png;base64,") >= 3
    printed = capsys.readouterr().out
    assert printed.startswith("verdict: ") and "dropped rare modes" in printed and f"wrote {out}" in printed
    assert main(["diagnose", str(tiny_run), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["diagnose", str(tmp_path / "nope")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def _generator_and_its_data(tmp_path, collapsed: bool):
    """A random DCGAN and, as its 'training data', 300 of its own sprites (so it matches the data exactly);
    collapsed: the same data, but z's projection zeroed, so every seed draws the same sprite."""
    run = make_run(tmp_path / "runs", "g")
    data = tmp_path / "data"
    data.mkdir()
    for i, img in enumerate(SpritePipeline.from_run(run)(range(1000, 1300), output_type="np")):
        Image.fromarray(img).save(data / f"{i:03d}.png")
    if collapsed:
        weights, meta = load_generator_file(run / "generator.safetensors")
        pipe = SpritePipeline.from_run(run)
        pipe.generator.load_state_dict(
            {**weights, "project.weight": torch.zeros_like(weights["project.weight"])}
        )
        save_generator(run / "generator.safetensors", pipe.generator, meta)
    return run, data


def test_a_collapsed_generator_gets_the_collapse_verdict_and_a_healthy_one_does_not(tmp_path):
    run, data = _generator_and_its_data(tmp_path / "ok", collapsed=False)
    healthy = diagnose.diagnose_run(run, data=str(data))
    assert healthy.verdict == diagnose.HEALTHY, healthy.reasons
    assert 0.8 < healthy.final["diversity"] < 1.2
    run, data = _generator_and_its_data(tmp_path / "bad", collapsed=True)
    collapsed = diagnose.diagnose_run(run, data=str(data))
    assert collapsed.verdict == diagnose.COLLAPSE
    assert collapsed.final["diversity"] < 0.01 and "as varied as real data" in collapsed.reasons[0]


def test_dropped_traits_names_a_trait_the_samples_never_show():
    from spritegan.data import procedural

    images, traits = procedural.make_sprites(300, seed=0)
    real = torch.from_numpy(images).permute(0, 3, 1, 2)
    shown = diagnose.shown_traits(real[:100])
    agree = [
        sum((k, t[k]) in seen for k in diagnose.COLOUR_TRAITS) for t, seen in zip(traits, shown, strict=False)
    ]
    assert sum(agree) >= 0.8 * 3 * 100  # real sprites read as drawn (hats and hair may cover some pixels)
    pale = real[[i for i, t in enumerate(traits) if t["skin"] != "pale"]][:60]
    dropped, note = diagnose.dropped_traits(pale, real)
    assert [d.split(" ")[0] for d in dropped] == ["skin=pale"] and note.startswith("60 samples")
    assert diagnose.dropped_traits(real[:10], real)[0] == []  # too few samples to tell
