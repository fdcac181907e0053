import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import tiny_config, train_tiny
from spritegan.errors import RunError, SpriteganError
from spritegan.train import checkpoint as ckpt
from spritegan.train.loop import TrainingDiverged


def test_run_folder_has_everything(tiny_run):
    for name in ("config.yaml", "generator.safetensors", "metrics.csv", "losses.png"):
        assert (tiny_run / name).exists(), name
    assert [s for s, _ in ckpt.list_checkpoints(tiny_run / "checkpoints")] == [4, 2]
    assert sorted(p.name for p in (tiny_run / "samples").glob("*.png")) == [
        "step-000002.png",
        "step-000004.png",
    ]
    assert list((tiny_run / "tensorboard").glob("events.out.tfevents.*"))
    rows = list(csv.DictReader(open(tiny_run / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]


def test_tensorboard_events_hold_the_scalars(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tiny_run / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for tag in ("Loss/loss_d", "Loss/loss_g", "Loss/scores/real", "Loss/scores/fake", "Loss/r1_penalty"):
        assert tag in tags
    assert [e.step for e in acc.Scalars("Loss/loss_d")] == [1, 2, 3, 4]


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    train_tiny(tmp_path / "a")
    train_tiny(tmp_path / "b")
    train_tiny(tmp_path / "c", **{"train.seed": 1})
    a, b, c = (load_file(tmp_path / x / "generator.safetensors") for x in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_continues_the_same_curve(tmp_path):
    train_tiny(tmp_path / "straight", steps=4)
    train_tiny(tmp_path / "resumed", steps=2)
    train_tiny(tmp_path / "resumed", steps=4, resume=True)
    a = load_file(tmp_path / "straight" / "checkpoints" / "step-000004.safetensors")
    b = load_file(tmp_path / "resumed" / "checkpoints" / "step-000004.safetensors")
    for key in a:
        assert torch.equal(a[key], b[key]), key
    rows = list(csv.DictReader(open(tmp_path / "resumed" / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]


def test_resume_refuses_another_model_config(tmp_path):
    train_tiny(tmp_path / "r", steps=2)
    with pytest.raises(RunError, match="another model config"):
        train_tiny(tmp_path / "r", steps=4, resume=True, **{"model.g_width": 16})


def test_checkpoints_from_before_an_option_existed_still_match():
    from spritegan.train.loop import model_config_changes

    current = tiny_config().to_dict()["model"]
    older = {k: v for k, v in current.items() if k not in ("cond_mode", "cond_aux")}
    assert model_config_changes(older, current) == []
    assert model_config_changes({**older, "g_width": 99}, current) == ["g_width"]
    assert model_config_changes(current, {**current, "cond_mode": "cbn"}) == ["cond_mode"]


def test_nan_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    import spritegan.train.loop as loop

    real_d_loss = loop.d_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        out = real_d_loss(*args, **kwargs)
        return out * float("nan") if calls["n"] >= 3 else out

    monkeypatch.setattr(loop, "d_loss", poisoned)
    with pytest.raises(TrainingDiverged, match="at step 3"):
        train_tiny(tmp_path / "nan", steps=4)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "nan" / "checkpoints")] == [2]
    assert ckpt.load_latest(tmp_path / "nan" / "checkpoints")["info"]["step"] == 2


def test_damaged_newest_checkpoint_falls_back(tmp_path):
    train_tiny(tmp_path / "r", steps=4)
    newest = tmp_path / "r" / "checkpoints" / "step-000004.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="damaged"):
        state = ckpt.load_latest(tmp_path / "r" / "checkpoints")
    assert state["info"]["step"] == 2


def _spawn_training(run: Path, steps: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "spritegan",
        "train",
        "--data",
        "builtin:sprites:64",
        "--out",
        str(run),
        "--steps",
        str(steps),
        "--no-progress",
    ]
    for key, value in tiny_config().to_dict()["model"].items():
        if key in ("z_dim", "g_width", "d_width", "max_channels"):
            cmd += ["--set", f"model.{key}={value}"]
    cmd += [
        "--set",
        "train.checkpoint_every=1",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.sample_every=1000",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(run: Path, proc: subprocess.Popen, at_least: int = 2) -> None:
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(ckpt.list_checkpoints(run / "checkpoints")) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint appeared: {proc.communicate()}")


@pytest.mark.slow
def test_kill_9_then_resume(tmp_path):
    run = tmp_path / "killed"
    proc = _spawn_training(run, steps=100000)
    _wait_for_checkpoint(run, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step_before = ckpt.load_latest(run / "checkpoints")["info"]["step"]
    target = step_before + 3
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spritegan",
            "train",
            "--resume",
            str(run),
            "--steps",
            str(target),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"stopped at step {target}" in result.stdout
    assert not list((run / "checkpoints").glob(".*tmp*"))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_save_a_checkpoint(tmp_path, sig):
    run = tmp_path / "interrupted"
    proc = _spawn_training(run, steps=100000)
    _wait_for_checkpoint(run, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted at step" in out
    step = int(out.split("interrupted at step ")[1].split(":")[0])
    assert ckpt.load_latest(run / "checkpoints")["info"]["step"] == step


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_time_budget_stops_and_saves(tmp_path, clock):
    from spritegan.data.dataset import open_dataset
    from spritegan.train.loop import fit_model_to_data, train

    cfg = tiny_config(**{"train.steps": 50})
    ds = open_dataset(cfg.data.source)
    fit_model_to_data(cfg, ds, conditional=False)
    result = train(cfg, ds, tmp_path / "run", progress=False, max_seconds=0.0, clock=clock)
    assert result.step == 1 and not result.interrupted
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "run" / "checkpoints")] == [1]
    assert (tmp_path / "run" / "samples" / "step-000001.png").exists()
    with pytest.raises(ValueError, match="clock"):
        train(cfg, ds, tmp_path / "other", progress=False, max_seconds=1.0, clock="gpu")


def test_adaptive_augmentation_probability_is_logged_and_resumed(tmp_path):
    run = tmp_path / "ada"
    extra = {"train.diffaug": "translation,color", "train.ada_target": 0.01, "train.ada_kimg": 0.01}
    train_tiny(run, steps=8, **extra)
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    p = [float(r["augment_p"]) for r in rows]
    assert all(0.0 <= v <= 1.0 for v in p) and max(p) > 0
    info = ckpt.load_latest(run / "checkpoints")["info"]
    assert info["ada_p"] == p[-1] or abs(info["ada_p"] - p[-1]) < 1e-6
    train_tiny(run, steps=10, resume=True, **extra)
    with pytest.raises(SpriteganError, match="ada_target needs"):
        train_tiny(tmp_path / "bad", steps=1, **{**extra, "train.diffaug": ""})


def test_ema_statistics_refreshed_once_per_step(tmp_path, monkeypatch):
    import spritegan.train.loop as loop

    calls = []
    real = loop.recalibrate_batchnorm

    def counting(model, make_inputs, batches=8):
        calls.append(batches)
        return real(model, make_inputs, batches)

    monkeypatch.setattr(loop, "recalibrate_batchnorm", counting)
    train_tiny(tmp_path / "r", steps=4)  # sample sheet and checkpoint both due at steps 2 and 4
    assert len(calls) == 2


def test_channels_last_is_the_same_training_in_another_layout(tmp_path):
    """train.channels_last only changes how weights sit in memory: two steps give the same generator."""
    from spritegan.data.dataset import open_dataset
    from spritegan.train.loop import Trainer, fit_model_to_data

    cfg = tiny_config(**{"train.channels_last": True})
    assert cfg.train.channels_last  # the sprite preset's default
    # fp32: the layouts differ only in summation order (bf16 convolutions round differently per layout); the
    # preset's EMA ramp-up makes the saved G_ema follow the trained G from the first steps
    train_tiny(tmp_path / "last", steps=2, **{"train.channels_last": True, "train.amp": "off"})
    train_tiny(tmp_path / "plain", steps=2, **{"train.channels_last": False, "train.amp": "off"})
    a, b = (load_file(tmp_path / x / "generator.safetensors") for x in ("last", "plain"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=5e-5, rtol=1e-4)
    ds = open_dataset(cfg.data.source)
    fit_model_to_data(cfg, ds, conditional=False)
    trainer = Trainer(cfg, ds, tmp_path / "layout")
    convs = [m.weight for m in trainer.G.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)


def test_ema_rampup_makes_the_first_step_average_nothing(tmp_path):
    """train.ema_rampup: at step 0 the capped half-life is 0, so G_ema equals G after the first G step; later
    the decay grows with the images seen, up to the configured half-life."""
    from spritegan.data.dataset import open_dataset
    from spritegan.train.ema import ema_beta
    from spritegan.train.loop import Trainer, fit_model_to_data

    cfg = tiny_config(**{"train.ema_half_life_kimg": 20.0, "train.ema_rampup": 0.05})
    ds = open_dataset(cfg.data.source)
    fit_model_to_data(cfg, ds, conditional=False)
    trainer = Trainer(cfg, ds, tmp_path / "r")
    assert trainer.ema_beta_now() == 0.0
    trainer.train_step()
    for ema, live in zip(trainer.G_ema.parameters(), trainer.G.parameters(), strict=True):
        torch.testing.assert_close(ema, live)
    trainer.images_seen = 200_000  # 0.05 x 200k = 10 kimg, under the 20 configured
    assert trainer.ema_beta_now() == ema_beta(cfg.train.batch_size, 10.0)
    trainer.images_seen = 10_000_000
    assert trainer.ema_beta_now() == ema_beta(cfg.train.batch_size, 20.0) == trainer.beta


def test_g_step_leaves_d_without_gradients(tmp_path):
    """G's step backpropagates through D for its input gradient only: D's weights get no gradient there (the
    D step would discard it) and stay trainable afterwards."""
    from spritegan.data.dataset import open_dataset
    from spritegan.train.loop import Trainer, fit_model_to_data, frozen

    cfg = tiny_config()
    ds = open_dataset(cfg.data.source)
    fit_model_to_data(cfg, ds, conditional=False)
    trainer = Trainer(cfg, ds, tmp_path / "g")
    trainer.train_step()
    trainer.opt_d.zero_grad(set_to_none=True)
    before = [p.detach().clone() for p in trainer.G.parameters()]
    trainer.g_step(None)
    assert all(p.grad is None and p.requires_grad for p in trainer.D.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters(), strict=True))
    with frozen(trainer.D):
        assert not any(p.requires_grad for p in trainer.D.parameters())
    assert all(p.requires_grad for p in trainer.D.parameters())


def test_keep_healthy_ends_with_the_last_checkpoint_before_a_flagged_collapse(tmp_path, monkeypatch, capsys):
    """train.keep_healthy: a collapse flagged from step 7 on (a stand-in for the monitor) makes the run end
    with step 4's G_ema, the last checkpoint with no collapse since the one before; off, the run ends as it
    stopped. The monitor's real thresholds are tested in test_monitor.py."""
    from spritegan.metrics import monitor
    from spritegan.train import loop

    class CollapseFromStep7(monitor.Alarms):
        def check(self, step, row):
            self.active = {"distinct_nn"} if step >= 7 else set()
            return []

    class CollapseAtStep9(monitor.Alarms):  # flagged after the step-8 checkpoint, gone by the last step
        def check(self, step, row):
            self.active = {"distinct_nn"} if step == 9 else set()
            return []

    monkeypatch.setattr(loop, "Alarms", CollapseFromStep7)
    settings = {"train.checkpoint_every": 4, "train.sample_every": 100}
    train_tiny(tmp_path / "kept", steps=10, **settings, **{"train.keep_healthy": True})
    train_tiny(tmp_path / "plain", steps=10, **settings)
    assert "ends with that checkpoint's G_ema" in capsys.readouterr().out

    def ema(path, step):
        state = load_file(path / "checkpoints" / f"step-{step:06d}.safetensors")
        return {k[len("G_ema.") :]: v for k, v in state.items() if k.startswith("G_ema.")}

    kept, plain = (
        load_file(tmp_path / "kept" / "generator.safetensors"),
        load_file(tmp_path / "plain" / "generator.safetensors"),
    )
    at4 = ema(tmp_path / "plain", 4)
    weights = [k for k in at4 if k.endswith("weight")]
    assert weights and all(torch.equal(kept[k], at4[k]) for k in weights)
    assert any(not torch.equal(plain[k], at4[k]) for k in weights)  # the plain run ends at step 10's
    assert all(torch.equal(plain[k], v) for k, v in ema(tmp_path / "plain", 10).items() if k in weights)
    assert (tmp_path / "kept" / "samples" / "step-000010-kept.png").exists()

    monkeypatch.setattr(loop, "Alarms", CollapseAtStep9)
    train_tiny(tmp_path / "late", steps=10, **settings, **{"train.keep_healthy": True})
    late, at8 = load_file(tmp_path / "late" / "generator.safetensors"), ema(tmp_path / "plain", 8)
    assert all(torch.equal(late[k], at8[k]) for k in weights)


@pytest.mark.parametrize("loss", ["ns", "rpgan"])
def test_packed_discriminator_trains_with_r1_and_r2(tmp_path, loss):
    """model.d_pack=2: D scores packs of two; R1 and R2 reach every image of a pack, and a batch that does
    not split into packs is a one-line error before any step."""
    extra = {"model.d_pack": 2, "train.r1_every": 1, "train.loss": loss, "train.r2_gamma": 0.1}
    result = train_tiny(tmp_path / "r", steps=2, **extra)
    assert result.step == 2
    with open(tmp_path / "r" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(float(r["r1"]) > 0 for r in rows)  # R2's path ran too (r2_gamma > 0)
    with pytest.raises(SpriteganError, match="batch size 6 does not split into packs of model.d_pack=4"):
        train_tiny(tmp_path / "s", steps=1, **{"model.d_pack": 4, "train.batch_size": 6})
    assert not (tmp_path / "s" / "checkpoints").exists()


def test_colour_usage_joins_gs_loss_with_the_palette_head_only(tmp_path) -> None:
    from spritegan.data.dataset import open_dataset
    from spritegan.train.loop import Trainer, fit_model_to_data

    stats = {}
    for head in ("palette", "rgb"):
        cfg = tiny_config(**{"model.head": head, "train.colour_usage": 1.0})
        ds = open_dataset(cfg.data.source)
        notes = fit_model_to_data(cfg, ds, conditional=False)
        no_effect = [n for n in notes if n.startswith("train.colour_usage=1 has no effect")]
        assert len(no_effect) == (head == "rgb"), notes
        tr = Trainer(cfg, ds, tmp_path / head)
        stats[head] = tr.train_step()
        if head == "palette":
            target = tr.colour_target
            assert target is not None and abs(float(target.sum()) - 1.0) < 1e-5
            assert float(target[0]) > 0.5  # most of a built-in sprite is transparent
        else:
            assert tr.colour_target is None
    assert float(stats["palette"]["colour_usage"]) > 0.0
    assert "colour_usage" not in stats["rgb"]
