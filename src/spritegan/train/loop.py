"""The training loop, split into the steps of the algorithm: d_step, g_step, maybe_sample, maybe_checkpoint.

It takes a resolved RunConfig and an in-memory dataset and writes a run folder; it knows nothing of the
CLI. Same config + same seed on the same machine gives the same weights and the same sprites.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from spritegan import __version__, storage
from spritegan.allocator import reuse_freed_memory
from spritegan.config import ModelConfig, RunConfig
from spritegan.data.augment import ada_update, build_augment, diff_augment_p, torus_roll
from spritegan.data.palette import (
    dataset_palette,
    has_exact_palette,
    most_colours_per_image,
    quantisation_loss,
    quantise,
)
from spritegan.errors import RunError, SpriteganError
from spritegan.generate.pipeline import SpritePipeline, latents
from spritegan.generate.sheet import make_sheet, save_png
from spritegan.generate.traits import TABLE_KEY, label_table
from spritegan.labels import categorical_groups, label_dim, label_layout, label_matrix
from spritegan.metrics.evaluate import evaluate
from spritegan.metrics.monitor import COLLAPSE_SIGNALS, Alarms, TrainingMonitor
from spritegan.metrics.pixelart import palette_of
from spritegan.metrics.records import append_record, make_record
from spritegan.models import build_discriminator, build_generator
from spritegan.models.despeckle import AUTO_MAX as AUTO_SPECK_SIZE
from spritegan.models.despeckle import data_speck_sites
from spritegan.models.palette_head import PaletteHead, colour_code_channels, colour_shares
from spritegan.models.progressive import Growth, fade_reals, growth_at, phase_size
from spritegan.models.refiner import RefinerBase
from spritegan.precision import bf16_autocast_ok, cpu_bf16_reason, flush_denormals
from spritegan.tensors import to_model
from spritegan.train import checkpoint as ckpt
from spritegan.train import distributed
from spritegan.train.ema import ema_beta, rampup_half_life, recalibrate_batchnorm, update_ema
from spritegan.train.logging import TrainLogger, plot_losses
from spritegan.train.losses import (
    colour_usage_loss,
    d_loss,
    frame_drift,
    g_loss,
    label_classification_loss,
    r1_penalty,
    r2_penalty,
)
from spritegan.train.reader import read_head, read_steps, reader_classes
from spritegan.train.refine import RefineResult, refine_head, refine_steps
from spritegan.train.schedules import schedule_value
from spritegan.train.speed import busy_cores_note, other_runnable, probe_speed, speed_advice
from spritegan.train.transfer import freeze_first_layers, init_from


def info_step(state: dict[str, Any]) -> int:
    return int(state["info"]["step"])


class TrainingDiverged(SpriteganError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    images_seen: int
    seconds: float
    images_per_s: float
    interrupted: bool = False


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpriteganError("--device cuda asked for, but no CUDA GPU is visible (use --device cpu)")
    return torch.device(name)


def model_config_changes(saved: dict, current: dict) -> list[str]:
    """Model options that differ between a checkpoint and this run; options newer than the checkpoint
    count as their defaults, so runs saved before an option existed still resume."""
    saved = {**asdict(ModelConfig()), **saved}
    return [k for k in sorted(set(saved) | set(current)) if saved.get(k) != current.get(k)]


def fit_model_to_data(cfg: RunConfig, dataset: Any, conditional: bool) -> list[str]:
    """Set the model's size, channels, palette size and label width from the data; returns notes for the
    user (what was quantised)."""
    notes = []
    cfg.model.channels = int(dataset.images.shape[1])
    cfg.model.image_size = [int(dataset.images.shape[2]), int(dataset.images.shape[3])]
    painted = not has_exact_palette(dataset.manifest)  # more than 256 colours
    if cfg.model.head != "rgb":
        if painted and cfg.model.head == "palette" and cfg.model.head_painted == "rgb":
            cfg.model.head = "rgb"
            notes.append(
                "the data has more than 256 colours (painted art): G draws full colour with the RGB head "
                "(model.head_painted=rgb); --set model.head_painted=palette draws from a "
                f"{cfg.model.palette_kmeans}-colour k-means palette instead"
            )
        else:
            palette = model_palette(cfg, dataset)[0]
            cfg.model.palette_colors = len(palette)
        if painted and cfg.model.head != "rgb":
            loss = quantisation_loss(dataset.images, palette)
            alpha = ""
            if loss["alpha_levels"] > loss["alpha_levels_after"]:
                alpha = f", {loss['alpha_levels']:.0f} alpha levels become {loss['alpha_levels_after']:.0f}"
            seen = " (and D sees the real images quantised to it)" if cfg.model.palette_quantise_reals else ""
            notes.append(
                f"the data has more than 256 colours: G draws every pixel from a {len(palette)}-colour "
                f"k-means palette{seen} (model.palette_kmeans; the real images quantised to it are off by "
                f"{loss['rgb_mae']:.1f}/255 per channel on average{alpha}); --set model.palette_kmeans=256 "
                "keeps more shades, --set model.head=rgb keeps full colour"
            )
    if cfg.train.colour_usage > 0 and cfg.model.head != "palette":
        notes.append(
            f"train.colour_usage={cfg.train.colour_usage:g} has no effect: it weighs the palette head's colours, "
            f"and G draws with the {cfg.model.head} head"
        )
    if cfg.model.head == "palette" and cfg.model.palette_speck_sites is None:
        notes += fit_speck_removal(cfg.model, dataset.images)
    if cfg.model.head == "palette" and cfg.model.palette_max_colours < 0:
        notes += fit_colour_cap(cfg.model, dataset.images, model_palette(cfg, dataset)[1])
    if cfg.model.arch == "posed":
        layout = dataset.manifest.get("sheet") or {}
        if not (layout.get("rows") and layout.get("columns")):
            raise SpriteganError(
                "model.arch=posed draws character sheets: use builtin:walkers, or frames with a labels CSV "
                "of character, direction and frame columns"
            )
        cfg.model.pose_grid = [len(layout["rows"]), len(layout["columns"])]
        if cfg.model.palette_reader > 0:
            cfg.model.palette_reader_classes = reader_classes(dataset)
            if not cfg.model.palette_reader_classes:
                notes.append(
                    "the data has no labels beside character, direction and frame: the sheet reader learns "
                    "to tell characters apart and --best-of keeps the sheet whose frames look most alike"
                )
    if conditional:
        spec = dataset.manifest.get("labels")
        if not label_dim(spec):
            raise SpriteganError("--conditional needs labels: give --labels CSV (or use builtin:sprites)")
        cfg.model.cond_dim = label_dim(spec)
    return notes


def fit_speck_removal(model: ModelConfig, images) -> list[str]:
    """Resolve model.palette_despeckle=-1 (8 with alpha, else 0) and find the positions where the data has
    such small parts (model.palette_speck_sites); returns a note for the user when specks will be removed."""
    if model.palette_despeckle < 0:
        model.palette_despeckle = AUTO_SPECK_SIZE if images.shape[1] in (2, 4) else 0
    if not model.palette_despeckle:
        model.palette_speck_sites = []
        return []
    model.palette_speck_sites = data_speck_sites(images, model.palette_despeckle)
    where = f"except at the {len(model.palette_speck_sites)} positions where the data has such parts"
    return [
        f"visible parts of at most {model.palette_despeckle} pixels that G draws apart from the rest are removed "
        f"at sampling, {where if model.palette_speck_sites else 'as the data has none'} "
        "(model.palette_despeckle=0 keeps them)"
    ]


def fit_colour_cap(model: ModelConfig, images, exact: bool) -> list[str]:
    """Resolve model.palette_max_colours=-1: the most colours any training image uses, when the palette is the
    data's own (a k-means palette's entries are not the artist's colours: off); a note when it caps."""
    most = most_colours_per_image(images) if exact else 0
    model.palette_max_colours = most if 0 < most < model.palette_colors else 0
    if not model.palette_max_colours:
        return []
    return [
        f"each sprite keeps at most {most} colours at sampling, the most any training image uses "
        "(model.palette_max_colours=0 lets it use the whole palette)"
    ]


_PALETTES: dict[tuple[str, int], tuple[torch.Tensor, bool]] = {}  # (data sha256, k) -> model_palette()


def model_palette(cfg: RunConfig, dataset: Any) -> tuple[torch.Tensor, bool]:
    """The colours a palette head draws from (uint8 (K, C)) and whether they are the data's exact colours.

    Remembered per data hash: fitting the config, the speed check and the Trainer all ask for it, and a
    k-means palette of painted art is worth computing once."""
    key = (dataset.manifest.get("sha256"), cfg.model.palette_kmeans)
    if key[0] is None:
        return dataset_palette(dataset.manifest, dataset.images, cfg.model.palette_kmeans)
    if key not in _PALETTES:
        _PALETTES[key] = dataset_palette(dataset.manifest, dataset.images, cfg.model.palette_kmeans)
    return _PALETTES[key]


def total_steps(cfg: RunConfig, n_images: int) -> int:
    t = cfg.train
    if t.epochs:
        return max(1, math.ceil(t.epochs * n_images / t.batch_size))
    return t.steps


@contextlib.contextmanager
def frozen(module: torch.nn.Module):
    """Within: the module's trainable parameters record no gradient (graphs built here have no edges to
    them), so a backward through it computes input gradients only; their requires_grad comes back after."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p in params:
            p.requires_grad_(True)


class Trainer:
    """Holds G, G_ema, D, optimizers and RNGs for one run folder."""

    def __init__(self, cfg: RunConfig, dataset: Any, run_dir: Path, *, resume: bool = False) -> None:
        self.cfg, self.dataset, self.run_dir = cfg, dataset, Path(run_dir)
        t = cfg.train
        flush_denormals()  # a sure palette head's softmax is mostly subnormal numbers: slow unflushed
        reuse_freed_memory()  # large temporaries: no fresh pages (and page faults) every step
        if t.threads:
            torch.set_num_threads(t.threads)
        self.device = resolve_device(t.device)
        self.dist = distributed.setup(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        if t.batch_size % self.dist.world:
            raise SpriteganError(f"batch size {t.batch_size} does not split over {self.dist.world} processes")
        if (t.batch_size // self.dist.world) % cfg.model.d_pack:
            raise SpriteganError(
                f"batch size {t.batch_size} does not split into packs of model.d_pack={cfg.model.d_pack}"
                + (f" on each of {self.dist.world} processes" if self.dist.world > 1 else "")
            )
        cuda = self.device.type == "cuda"  # train.amp=auto: bf16 on CUDA; on: also CPUs with native bf16
        self.amp = (t.amp == "auto" and cuda) or (t.amp == "on" and bf16_autocast_ok(self.device))
        palette = None
        if cfg.model.head != "rgb" and not resume:  # the colours a palette head draws from
            palette = model_palette(cfg, dataset)[0]
            cfg.model.palette_colors = len(palette)
        torch.manual_seed(t.seed)
        self.G = build_generator(cfg.model).to(self.device)
        self.D = build_discriminator(cfg.model).to(self.device)
        if t.init_from and not resume:
            print(init_from(t.init_from, self.G, self.D))
        if palette is not None:
            self.G.set_palette(palette)
        if t.channels_last:  # the same maths in another memory layout: oneDNN's convolutions run faster on it
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        if t.freeze_d:
            freeze_first_layers(self.D, t.freeze_d)
        fused = {"fused": True} if self.device.type == "cuda" else {"foreach": True}
        self.opt_g = torch.optim.Adam(self.G.parameters(), t.lr_g, betas=(t.beta1, t.beta2), **fused)
        self.opt_d = torch.optim.Adam(
            [p for p in self.D.parameters() if p.requires_grad], t.lr_d, betas=(t.beta1, t.beta2), **fused
        )
        self.rng_data = torch.Generator().manual_seed(t.seed * 1000 + 1)
        self.rng_noise = torch.Generator().manual_seed(t.seed * 1000 + 2 + 7919 * self.dist.rank)
        self.rng_aug = torch.Generator().manual_seed(t.seed * 1000 + 3)
        self.augment = build_augment(t.augment) if t.augment else None
        if t.ada_target > 0 and not t.diffaug:
            raise SpriteganError(
                "train.ada_target needs a train.diffaug policy to adapt, e.g. translation,color"
            )
        self.ada_p = 0.0 if t.ada_target > 0 else 1.0
        self._ada_signs: list[torch.Tensor] = []
        # colour codes after the image's channels (model.palette_identity) are not recoloured
        image_channels = cfg.model.channels
        self.diffaug = (
            (lambda x: diff_augment_p(x, t.diffaug, self.ada_p, image_channels=image_channels))
            if t.diffaug
            else (lambda x: x)
        )
        if cfg.model.tileable:  # D sees reals and fakes at random torus offsets: no seam hides at an edge
            augment_after_roll = self.diffaug
            self.diffaug = lambda x: augment_after_roll(torus_roll(x))
        self.images = dataset.images  # uint8 (N, C, H, W), kept in memory: the reals D sees (_set_reals)
        self.real_view = lambda x: x  # what D sees of a real batch
        self.labels = None
        if cfg.model.cond_dim:
            self.labels = label_matrix(dataset.labels, dataset.manifest.get("labels"))
            self.label_groups = categorical_groups(dataset.manifest.get("labels"))
        self.fixed_z = latents(range(t.sample_grid), cfg.model.z_dim).to(self.device)
        self.fixed_labels = self._sample_labels(t.sample_grid, torch.Generator().manual_seed(0))
        self.ema_half_life = t.ema_half_life_kimg  # kimg; the schedule's value when `ema` follows it
        self.step, self.images_seen, self.seconds = 0, 0, 0.0
        self.best_fid = math.inf
        self._ema_stats_step: int | None = None  # step at which G_ema's BN statistics were last refreshed
        self.total = total_steps(cfg, len(self.images))
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0
        self.growth: Growth | None = None  # model.progressive: the phase and alpha of this step
        if resume:
            self._resume()
        self._set_reals()
        self.apply_growth()

    # ---- data -------------------------------------------------------------------------------------
    def _next_indices(self, n: int) -> torch.Tensor:
        """Shuffled passes over the data (or weighted draws when balancing labels)."""
        if self.cfg.train.balance == "class" and self.labels is not None:
            return torch.multinomial(self._balance_weights(), n, replacement=True, generator=self.rng_data)
        out = []
        while n > 0:
            if self._cursor >= len(self._order):
                self._order = torch.randperm(len(self.images), generator=self.rng_data)
                self._cursor = 0
            take = self._order[self._cursor : self._cursor + n]
            self._cursor += len(take)
            n -= len(take)
            out.append(take)
        return torch.cat(out)

    def _balance_weights(self) -> torch.Tensor:
        """Draw categorical classes in proportion to sqrt(count) (9 aliens: ~2% of draws, not 0.1%) and up-weight
        images by count^-1/4 of their rarest binary trait."""
        if not hasattr(self, "_weights"):
            freq = self.labels.sum(0).clamp(min=1)
            w = torch.ones(len(self.labels))
            binary = []
            for col in label_layout(self.dataset.manifest.get("labels")):
                seg = slice(col.offset, col.offset + col.width)
                if col.kind == "categorical":
                    w = w * (self.labels[:, seg] @ freq[seg]).clamp(min=1).rsqrt()
                else:
                    binary.append(col.offset)
            if binary:
                lab, n = self.labels[:, binary], float(len(self.labels))
                rarest = torch.where(lab > 0, freq[binary], torch.full_like(lab, n)).amin(1)
                w = w * (rarest / n).pow(-0.25)
            self._weights = w / w.sum()
        return self._weights

    def _sample_labels(self, n: int, gen: torch.Generator) -> torch.Tensor | None:
        if self.labels is None:
            return None
        idx = torch.randint(len(self.labels), (n,), generator=gen)
        return self.labels[idx].to(self.device)

    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        t = self.cfg.train
        idx = self._next_indices(t.batch_size)  # the global batch, the same on every rank
        keep = None  # rows trained with their labels; the others train the free-sampling slot
        if self.labels is not None and t.cond_drop > 0:
            keep = torch.rand(len(idx), generator=self.rng_data) >= t.cond_drop
            if t.balance == "class":  # the free slot learns the data's trait shares, not the balanced draws'
                uniform = torch.randint(len(self.images), idx.shape, generator=self.rng_data)
                idx = torch.where(keep, idx, uniform)
        if self.dist.enabled:
            share = len(idx) // self.dist.world
            part = slice(self.dist.rank * share, (self.dist.rank + 1) * share)
            idx, keep = idx[part], (keep[part] if keep is not None else None)
        x = to_model(self.images[idx])
        if self.augment is not None:
            x = self.augment(x, self.rng_aug)
        lab = self.labels[idx] if self.labels is not None else None
        if lab is not None and keep is not None:
            lab = lab * keep[:, None]
        return x.to(self.device, non_blocking=True), (lab.to(self.device) if lab is not None else None)

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.cfg.model.z_dim, generator=self.rng_noise).to(self.device)

    # ---- the algorithm ----------------------------------------------------------------------------
    def d_step(
        self, real: torch.Tensor, labels: torch.Tensor | None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """One D update; returns its stats and, with one D step per G step, the fake batch with G's graph
        (g_step reuses it: one G forward per step), else None."""
        t = self.cfg.train
        reuse = t.d_steps == 1  # keep G's graph so g_step reuses this fake batch (one G forward per step)
        with (
            torch.set_grad_enabled(reuse),
            torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp),
        ):
            fake = self.G(self.noise(len(real)), labels)
        fake_for_g = fake if reuse else None
        do_r1 = t.r1_gamma > 0 and self.step % t.r1_every == 0
        do_r2 = t.r2_gamma > 0 and self.step % t.r1_every == 0  # R2: R1's penalty on fakes, same steps
        fake = fake.detach().requires_grad_(do_r2)
        real = self.real_view(real).detach().requires_grad_(do_r1)
        self._real = real.detach() if t.loss == "rpgan" else None  # g_step pairs its fakes with these
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp):
            s_real, logits = self.D(self.diffaug(real), labels, with_logits=True)
            s_real = s_real.float()
            s_fake = self.D(self.diffaug(fake.float()), labels).float()
        flip = None
        if t.flip_prob > 0:
            flip = (torch.rand(len(s_real), generator=self.rng_aug) < t.flip_prob).to(self.device)
        loss = d_loss(s_real, s_fake, t.loss, t.real_label, flip)
        if t.ada_target > 0:
            self._update_ada(s_real.detach())
        aux = torch.zeros((), device=self.device)
        if logits is not None and labels is not None:
            aux = label_classification_loss(logits, labels, self.label_groups)
            loss = loss + t.aux_weight * aux
        r1 = torch.zeros((), device=self.device)
        if do_r1:
            r1 = r1_penalty(s_real, real)
            loss = loss + r1 * (self.gamma_now(t.r1_gamma) / 2 * t.r1_every)
        r2 = torch.zeros((), device=self.device)
        if do_r2:
            r2 = r2_penalty(s_fake, fake)
            loss = loss + r2 * (self.gamma_now(t.r2_gamma) / 2 * t.r1_every)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(self.D, self.dist)
        self.opt_d.step()
        return {
            "loss_d": loss.detach(),
            "score_real": s_real.detach().mean(),
            "score_fake": s_fake.detach().mean(),
            "d_sign_real": torch.sign(s_real.detach()).mean(),  # ADA's r_t, for the monitor
            "r1": r1.detach(),
            **({"r2": r2.detach()} if t.r2_gamma > 0 else {}),
            **({"aux_d": aux.detach()} if logits is not None else {}),
            **({"augment_p": torch.tensor(self.ada_p)} if t.ada_target > 0 else {}),
        }, fake_for_g

    def _update_ada(self, real_scores: torch.Tensor, interval: int = 4) -> None:
        """Every `interval` D steps, move the augmentation probability by the mean sign of D's real scores."""
        self._ada_signs.append(torch.sign(real_scores).mean())
        if len(self._ada_signs) < interval:
            return
        signal_mean = distributed.mean_over_ranks(torch.stack(self._ada_signs).mean(), self.dist)
        t = self.cfg.train
        self.ada_p = ada_update(self.ada_p, signal_mean, t.ada_target, t.batch_size * interval, t.ada_kimg)
        self._ada_signs = []

    def g_step(
        self, labels: torch.Tensor | None, fake: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """One G update on `fake` (d_step's batch, graph kept) or on a new batch when None."""
        n = self.cfg.train.batch_size // self.dist.world
        with (
            torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp),
            frozen(self.D),  # G's loss needs D's input gradient only: no weight gradients to discard
        ):
            if fake is None:
                fake = self.G(self.noise(n), labels)
            score, logits = self.D(self.diffaug(fake.float()), labels, with_logits=True)
            score = score.float()
            real = None  # rpgan: D's scores of the D step's reals, by the updated D, as constants
            if self.cfg.train.loss == "rpgan":
                with torch.no_grad():
                    real = self.D(self.diffaug(self._real), labels).float()
        loss = g_loss(score, self.cfg.train.loss, real)
        stats = {"loss_g": loss.detach()}
        if self.cfg.model.posed_hold > 0:  # one direction's frames keep their colours (train/losses.py)
            drift = frame_drift(fake.float(), *self.cfg.model.pose_grid)
            loss = loss + self.cfg.model.posed_hold * drift
            stats["pose_hold"] = drift.detach()
        if self.colour_target is not None:  # the colours of the data, in its proportions (train/losses.py)
            usage = colour_usage_loss(self.G.head.usage, self.colour_target)
            loss = loss + self.cfg.train.colour_usage * usage
            stats["colour_usage"] = usage.detach()
        if logits is not None and labels is not None:
            aux = label_classification_loss(logits, labels, self.label_groups)
            loss = loss + self.cfg.train.aux_weight * aux
            stats["aux_g"] = aux.detach()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(self.G, self.dist)
        self.opt_g.step()
        distributed.average_buffers(self.G, self.dist)
        update_ema(self.G_ema, self.G, self.ema_beta_now())
        return stats

    @property
    def beta(self) -> float:
        """The EMA decay per step for the current half-life (scheduled or fixed), before any ramp-up cap."""
        return ema_beta(self.cfg.train.batch_size, self.ema_half_life)

    def ema_beta_now(self) -> float:
        """This step's EMA decay: with train.ema_rampup the half-life is capped by the images seen."""
        t = self.cfg.train
        return ema_beta(t.batch_size, rampup_half_life(self.ema_half_life, t.ema_rampup, self.images_seen))

    def apply_schedules(self) -> dict[str, torch.Tensor]:
        """Cosine schedules over train.schedule_kimg (R3GAN): both learning rates down to schedule_lr_end of
        their start, the EMA half-life up from 0 and the diffaug probability up from 0 to schedule_aug_end
        (unless ADA drives it); gammas follow `gamma_now`; `train.schedules` names which of these follow it.
        Stateless in the images seen, so resuming is exact."""
        t = self.cfg.train
        if t.schedule_kimg <= 0:
            return {}
        done, horizon = self.images_seen, t.schedule_kimg * 1000.0
        if "lr" in t.schedules:
            for opt, lr in ((self.opt_g, t.lr_g), (self.opt_d, t.lr_d)):
                for group in opt.param_groups:
                    group["lr"] = schedule_value(lr, lr * t.schedule_lr_end, done, horizon)
        if "ema" in t.schedules:
            self.ema_half_life = schedule_value(0.0, t.ema_half_life_kimg, done, horizon)
        if t.diffaug and t.ada_target <= 0 and "augment" in t.schedules:
            self.ada_p = schedule_value(0.0, t.schedule_aug_end, done, horizon)
        return {"lr_d": torch.tensor(self.opt_d.param_groups[0]["lr"]), "augment_p": torch.tensor(self.ada_p)}

    def gamma_now(self, gamma: float) -> float:
        """An R1/R2 weight at this point of the cosine schedule (down to schedule_gamma_end of it)."""
        t = self.cfg.train
        if "gamma" not in t.schedules:
            return gamma
        return schedule_value(gamma, gamma * t.schedule_gamma_end, self.images_seen, t.schedule_kimg * 1000.0)

    def apply_growth(self) -> None:
        """model.progressive: put G, G_ema and D at the growth state of the images seen so far (a pure function
        of them, so a resumed run continues mid-fade exactly; models/progressive.py)."""
        if not self.cfg.model.progressive:
            return
        t = self.cfg.train
        self.growth = growth_at(self.images_seen, self.G.levels, t.fade_kimg, t.stable_kimg)
        for net in (self.G, self.G_ema, self.D):
            net.set_growth(self.growth)

    def growth_row(self) -> dict[str, float]:
        """model.progressive: the height being trained (pixels) and alpha, for metrics.csv and the bar."""
        if self.growth is None:
            return {}
        size = self.cfg.model.image_size
        height = min(phase_size(size, self.growth.phase)[0], size[0])  # a padded size's last phase: its own
        return {"resolution": height, "alpha": self.growth.alpha}

    def train_step(self) -> dict[str, torch.Tensor]:
        stats: dict[str, torch.Tensor] = self.apply_schedules()
        self.apply_growth()
        for _ in range(self.cfg.train.d_steps):
            real, labels = self.real_batch()
            if self.growth is not None:  # the reals at the phase's resolution, blended as G's output is
                real = fade_reals(real, self.cfg.model.image_size, self.growth)
            d_stats, fake = self.d_step(real, labels)
            stats.update(d_stats)
        stats.update(self.g_step(labels, fake))
        confidence = getattr(getattr(self.G, "head", None), "confidence", None)
        if confidence is not None:
            stats["palette_confidence"] = confidence.clone()  # mean max-probability of the colour choice
        self.step += 1
        self.images_seen += self.cfg.train.batch_size * self.cfg.train.d_steps
        return stats

    # ---- outputs ----------------------------------------------------------------------------------
    def refresh_ema_statistics(self) -> None:
        """Standing batch-norm statistics for G_ema from fixed latents (before sampling or saving it).

        G_ema changes once per step, so a second call at the same step (a sample sheet and a checkpoint
        both due) reuses the statistics instead of recomputing them.
        """
        if self._ema_stats_step == self.step:
            return
        h, w = self.cfg.model.image_size
        # 256 latents a batch up to 32x32; larger sprites keep about the same pixel count (at 96x128 a fixed
        # 256 made this refresh cost as much as 19 training steps)
        per_batch = max(16, min(256, 256 * 32 * 32 // (h * w)))

        def inputs(i: int) -> tuple:
            gen = torch.Generator().manual_seed(10_000 + i)
            z = torch.randn(per_batch, self.cfg.model.z_dim, generator=gen).to(self.device)
            return z, self._sample_labels(per_batch, gen)

        # a palette head has no batch norm: refresh its body alone and skip the per-pixel colour choice
        recalibrate_batchnorm(getattr(self.G_ema, "body", self.G_ema), inputs)
        self._ema_stats_step = self.step

    @torch.no_grad()
    def monitor_batch(self) -> torch.Tensor:
        """The live G's output for the fixed latents, in eval mode and in [-1, 1]: what the collapse monitor
        measures (G_ema would need a batch-norm refresh each time and lags G by its half-life). The RNG
        state is restored, so noise inputs drawn here leave training unchanged."""
        was_training = self.G.training
        self.G.eval()
        try:
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                return self.G(self.fixed_z, self.fixed_labels).float()
        finally:
            self.G.train(was_training)

    def pipeline(self) -> SpritePipeline:
        """G_ema as the one generation path (the sprites `generate` makes from this run's generator file)."""
        meta = {"model_config": self.cfg.to_dict()["model"], "manifest": self.dataset.manifest}
        return SpritePipeline(self.G_ema, meta, self.device)

    def sample_sheet(self, suffix: str = "") -> Path:
        self.refresh_ema_statistics()
        imgs = self.pipeline()(z=self.fixed_z, labels=self.fixed_labels, batch_size=len(self.fixed_z))
        scale = max(1, 96 // max(imgs.shape[-2:]))
        sheet = make_sheet(imgs, scale=scale, background="checker")
        path = self.run_dir / "samples" / f"step-{self.step:06d}{suffix}.png"
        save_png(sheet, path)
        return path

    def refiner(self) -> RefinerBase | None:
        """G_ema's palette refiner (models/refiner.py), or None when the model has none."""
        return getattr(getattr(self.G_ema, "head", None), "refiner", None)

    def refine(
        self, steps: int, progress: bool = False, stop: Callable[[], bool] | None = None
    ) -> RefineResult:
        """Train G_ema's refiner for `steps` on the training images as palette indices (seeded by train.seed
        and the steps it has had, so a resumed run goes on with fresh batches), fewer when `stop()` turns
        true; G's copy follows, so the EMA does not pull it back."""
        result = refine_head(
            self.G_ema.head, self.dataset.images, steps, self.cfg.train.seed, self.amp, progress, stop
        )
        self.G.head.refiner.load_state_dict(self.G_ema.head.refiner.state_dict())
        return result

    def read(
        self, steps: int, progress: bool = False, stop: Callable[[], bool] | None = None
    ) -> RefineResult:
        """Train G_ema's sheet reader for `steps` on the training sheets and their labels (seeded as `refine`
        is); G's copy follows."""
        result = read_head(
            self.G_ema.head,
            self.dataset.images,
            self.dataset.labels,
            self.dataset.manifest.get("labels"),
            steps,
            self.cfg.train.seed,
            self.amp,
            progress,
            stop,
        )
        self.G.head.reader.load_state_dict(self.G_ema.head.reader.state_dict())
        return result

    def evaluate(self) -> dict[str, float]:
        """FID/KID of G_ema on fixed evaluation seeds against the training images, appended to eval.jsonl
        (the record format of `spritegan eval`); keeps the best G."""
        t = self.cfg.train
        self.refresh_ema_statistics()
        seeds = range(1_000_000, 1_000_000 + t.eval_samples)
        labels = None
        if self.labels is not None:
            labels = torch.cat([self._eval_labels(i, len(seeds)) for i in range(0, len(seeds), 256)])
        fake = self.pipeline()(seeds, labels=labels, batch_size=256)
        real = self.dataset.images  # as they are, even where D sees them quantised
        if t.eval_real and t.eval_real < len(real):
            real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[: t.eval_real]]
        result = evaluate(fake, real, metrics=("fid", "kid"), seed=0)
        scores = {"fid": result["metrics"]["fid"], "kid": result["metrics"]["kid_mean"]}
        record = make_record(result, step=self.step, images=self.images_seen, run=str(self.run_dir))
        append_record(self.run_dir / "eval.jsonl", record)
        if scores["fid"] < self.best_fid:
            self.best_fid = scores["fid"]
            storage.save_generator(
                self.run_dir / "best-generator.safetensors",
                self.G_ema,
                {**self.generator_meta(), "fid": scores["fid"]},
            )
        return scores

    def _eval_labels(self, start: int, total: int) -> torch.Tensor | None:
        if self.labels is None:
            return None
        return self._sample_labels(min(256, total - start), torch.Generator().manual_seed(start))

    def generator_meta(self) -> dict[str, Any]:
        manifest = {k: v for k, v in self.dataset.manifest.items() if k not in ("names",)}
        meta = {
            "model_config": self.cfg.to_dict()["model"],
            "manifest": manifest,
            "step": self.step,
            "preset": self.cfg.preset,
            "spritegan_version": __version__,
        }
        if (
            self.labels is not None
        ):  # distinct training label rows: --traits random, unseen-combination warning
            meta[TABLE_KEY] = label_table(self.labels)
        return meta

    def save(self) -> Path | None:
        """Checkpoint + generator.safetensors + losses.png, written by rank 0 only."""
        self.refresh_ema_statistics()
        distributed.assert_in_sync({"G": self.G, "D": self.D, "G_ema": self.G_ema}, self.dist)
        if not self.dist.is_main:
            distributed.barrier(self.dist)
            return None
        folder = self.run_dir / "checkpoints"
        path = folder / f"step-{self.step:06d}.safetensors"
        rng = {
            "data": self.rng_data.get_state(),
            "noise": self.rng_noise.get_state(),
            "aug": self.rng_aug.get_state(),
            "torch": torch.get_rng_state(),
        }
        info = {
            "step": self.step,
            "images_seen": self.images_seen,
            "seconds": self.seconds,
            "cursor": self._cursor,
            "config": self.cfg.to_dict(),
            "version": __version__,
            "best_fid": None if math.isinf(self.best_fid) else self.best_fid,
            "ada_p": self.ada_p,
            "data_sha256": self.dataset.manifest.get("sha256"),  # `--resume --data` must match it
        }
        ckpt.save_checkpoint(
            path,
            {"G": self.G, "G_ema": self.G_ema, "D": self.D},
            {"g": self.opt_g, "d": self.opt_d},
            rng,
            {"order": self._order},
            info,
        )
        ckpt.prune_checkpoints(folder, self.cfg.train.keep_checkpoints)
        storage.save_generator(self.run_dir / "generator.safetensors", self.G_ema, self.generator_meta())
        plot_losses(self.run_dir)
        distributed.barrier(self.dist)
        return path

    def _set_reals(self) -> None:
        """With G's palette in place (new or loaded): the reals as D sees them, moved to their nearest palette
        colours where model.palette_quantise_reals asks (what G can draw of them), with their colour codes."""
        m = self.cfg.model
        if m.head != "rgb" and m.palette_quantise_reals and not has_exact_palette(self.dataset.manifest):
            self.images = quantise(self.dataset.images, self.G.palette_uint8())
        if colour_code_channels(self.cfg.model):
            self.G.head.learn_colours(self.images)  # each real colour's code, looked up from now on
            self.real_view = self.G.head.identity_channels  # reals with their colours' codes, as G's fakes
        head = getattr(self.G, "head", None)
        self.colour_target = None  # train.colour_usage: the training pixels' share of each palette colour
        if self.cfg.train.colour_usage > 0 and isinstance(head, PaletteHead):
            head.track_usage = True
            self.colour_target = colour_shares(self.images, head.palette).to(self.device)

    def _resume(self) -> None:
        """Load the newest complete checkpoint; refuses (RunError) rather than retrain over a run's files."""
        c, h, w = (int(v) for v in self.images.shape[1:])
        want = (self.cfg.model.channels, *self.cfg.model.image_size)
        if (c, h, w) != tuple(want):
            raise RunError(
                f"{self.cfg.data.source}: the data is now {w}x{h} with {c} channels, but {self.run_dir} was "
                f"trained on {want[2]}x{want[1]} with {want[0]}; train a new run with --out"
            )
        state = ckpt.load_latest(self.run_dir / "checkpoints", strict=True)  # all damaged: RunError
        if state is None:
            if (self.run_dir / "generator.safetensors").exists():
                raise RunError(
                    f"{self.run_dir}: has generator.safetensors but no checkpoint to resume from; "
                    "refusing to retrain from step 0 over it (use a new --out)"
                )
            return
        diff = model_config_changes(state["info"]["config"]["model"], self.cfg.to_dict()["model"])
        if diff:
            raise RunError(
                f"{self.run_dir}: checkpoint was trained with another model config "
                f"(differs in {', '.join(diff)}); use a new --out folder"
            )
        for name, module in (("G", self.G), ("G_ema", self.G_ema), ("D", self.D)):
            module.load_state_dict(state["modules"][name])
        self.opt_g.load_state_dict(state["optimizers"]["g"])
        self.opt_d.load_state_dict(state["optimizers"]["d"])
        self.rng_data.set_state(state["rng"]["data"])
        self.rng_noise.set_state(state["rng"]["noise"])
        if self.dist.enabled:  # rank 0's noise state was saved; give every rank its own stream again
            self.rng_noise.manual_seed(
                self.cfg.train.seed * 1000 + 2 + 7919 * self.dist.rank + info_step(state)
            )
        self.rng_aug.set_state(state["rng"]["aug"])
        torch.set_rng_state(state["rng"]["torch"])
        self._order = state["extra"]["order"]
        info = state["info"]
        self.step, self.images_seen = info["step"], info["images_seen"]
        self.seconds, self._cursor = info["seconds"], info["cursor"]
        self.best_fid = info.get("best_fid") or math.inf
        self.ada_p = info.get("ada_p", self.ada_p)


class _StopRequests:
    """Ctrl-C and SIGTERM (kill, schedulers' preemption) ask the loop to stop after the current step, which
    then saves and exits: no exception lands in the middle of a step, a checkpoint write or a log flush (an
    interrupted TensorBoard writer could hang on close). A second signal stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _open_run(cfg: RunConfig, dataset: Any, run_dir: Path, resume: bool, progress: bool) -> Trainer:
    """The speed check (new runs with a progress bar), the Trainer, then the folder and its config.yaml."""
    if progress and not resume and not distributed.launched():
        on_cpu = resolve_device(cfg.train.device).type == "cpu"
        busy = busy_cores_note(cfg.train.threads, os.cpu_count() or 1, other_runnable) if on_cpu else None
        if busy:
            print(busy)
        probe = copy.deepcopy(cfg)
        probe.model.progressive = False  # time the full resolution, not a growing run's first phase
        ips = probe_speed(Trainer, probe, dataset)
        for line in speed_advice(ips, tuple(cfg.model.image_size), cfg.train.batch_size):
            print(line)
    trainer = Trainer(cfg, dataset, run_dir, resume=resume)  # reads only: a refusal leaves no folder behind
    if progress and trainer.dist.is_main and cfg.train.amp == "on" and trainer.device.type == "cpu":
        print(f"precision: {'bf16 autocast' if trainer.amp else 'fp32'} ({cpu_bf16_reason()})")
    if trainer.dist.is_main:  # rank 0 alone writes logs, samples and checkpoints
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            for path in ckpt.remove_orphan_temps(run_dir):
                print(f"removed {path.name}, left by a process killed mid-write")
            print(f"resuming {run_dir} at step {trainer.step}")
        cfg.save(run_dir / "config.yaml")
    return trainer


class _Loop:
    """What `train()` does around each `Trainer.train_step()`, one named step each: the NaN check, the time
    budget, the metrics.csv/TensorBoard row (losses averaged since the last row), sample sheets,
    in-training evaluation and checkpoints. Rank 0 alone writes."""

    def __init__(self, trainer: Trainer, end: int, resume: bool, progress: bool) -> None:
        self.trainer, self.end, self.t = trainer, end, trainer.cfg.train
        self.main = trainer.dist.is_main
        self.logger = (
            TrainLogger(trainer.run_dir, resume_step=trainer.step if resume else None) if self.main else None
        )
        self.bar = tqdm(
            total=end,
            initial=trainer.step,
            disable=not (progress and self.main),
            unit="step",
            dynamic_ncols=True,
        )
        self.monitor = None  # rank 0 measures the fixed batch on each log row
        if self.main and len(trainer.images) >= 2:
            # palette-exact output: the monitor also counts the colours G stopped drawing
            exact = trainer.cfg.model.head != "rgb"
            self.monitor = TrainingMonitor.from_images(
                trainer.images, len(trainer.fixed_z), palette=palette_of(trainer.images) if exact else None
            )
        self.alarms = Alarms(relativistic=trainer.cfg.train.loss == "rpgan")
        self.acc: dict[str, float] = {}
        self.n_acc, self.t_mark, self.img_mark = 0, time.perf_counter(), trainer.images_seen
        self.grown_to: int | None = None  # model.progressive: the resolution last announced
        # train.keep_healthy: mode collapse flagged since the last checkpoint / since the kept one, and the kept
        # (last healthy) checkpoint's step and G_ema
        self.collapse_since_save = self.collapse_since_kept = False
        self.healthy: tuple[int, dict[str, torch.Tensor]] | None = None

    def step(self) -> dict[str, float]:
        """One training step; its losses, checked for NaN/inf."""
        t0 = time.perf_counter()
        values = {k: float(v) for k, v in self.trainer.train_step().items()}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(
                f"{', '.join(bad)} became {values[bad[0]]} at step {self.trainer.step}; stopped, last good "
                f"checkpoint kept in {self.trainer.run_dir / 'checkpoints'} (try a lower learning rate or r1_gamma)"
            )
        self.trainer.seconds += time.perf_counter() - t0
        return values

    def stop_when(self, out_of_time: bool) -> None:
        """End at this step when any rank is out of its time budget."""
        if distributed.any_rank(out_of_time, self.trainer.dist, self.trainer.device):
            self.end = self.bar.total = self.trainer.step

    def at(self, every: int) -> bool:
        """This step is on the `every` interval, or the last one."""
        return self.trainer.step % every == 0 or self.trainer.step == self.end

    def accumulate(self, values: dict[str, float]) -> None:
        """Add the step's losses to the means of the next row; advance the bar."""
        for k, v in values.items():
            self.acc[k] = self.acc.get(k, 0.0) + v
        self.n_acc += 1
        self.bar.update(1)

    def log_row(self) -> None:
        """The losses averaged since the last row, with images/s, to metrics.csv, TensorBoard and the bar."""
        trainer, now = self.trainer, time.perf_counter()
        ips = (trainer.images_seen - self.img_mark) / max(now - self.t_mark, 1e-9)
        row = {"step": trainer.step, "images": trainer.images_seen, "seconds": round(trainer.seconds, 2)}
        row.update({k: v / self.n_acc for k, v in self.acc.items()})
        row["images_per_s"] = ips
        growth = trainer.growth_row()  # model.progressive: resolution and alpha
        row.update(growth)
        if growth and growth["resolution"] != self.grown_to:
            self.grown_to = growth["resolution"]
            h, w = phase_size(trainer.cfg.model.image_size, trainer.growth.phase)
            self.bar.write(f"step {trainer.step:,}: training at {h}x{w}, alpha {growth['alpha']:.2f}")
        if self.monitor is not None:  # collapse and convergence signals (metrics/monitor.py)
            row["score_gap"] = row["score_real"] - row["score_fake"]
            row.update(self.monitor.measure(trainer.monitor_batch()))
            for line in self.alarms.check(trainer.step, row):
                self.bar.write(line)
            if self.alarms.active & COLLAPSE_SIGNALS:
                self.collapse_since_save = self.collapse_since_kept = True
        if self.logger is not None:
            self.logger.log(row)
        self.bar.set_postfix(
            img_s=f"{ips:.0f}",
            d=f"{row['loss_d']:.3f}",
            g=f"{row['loss_g']:.3f}",
            **({"res": growth["resolution"], "alpha": f"{growth['alpha']:.2f}"} if growth else {}),
        )
        self.acc, self.n_acc, self.t_mark, self.img_mark = {}, 0, now, trainer.images_seen

    def maybe_log(self) -> None:
        if self.at(self.t.log_every):
            self.log_row()

    def maybe_sample(self) -> None:
        if self.main and self.at(self.t.sample_every):
            self.trainer.sample_sheet()

    def maybe_eval(self) -> None:
        """FID/KID of G_ema every eval_every steps (the best generator is kept by FID)."""
        trainer = self.trainer
        if self.main and self.t.eval_every and trainer.step % self.t.eval_every == 0:
            scores = trainer.evaluate()
            self.logger.scalar("Metrics/fid", scores["fid"], trainer.step)
            self.logger.scalar("Metrics/kid", scores["kid"], trainer.step)
            self.bar.write(f"step {trainer.step}: FID {scores['fid']:.2f} (best {trainer.best_fid:.2f})")

    def maybe_checkpoint(self) -> None:
        if self.at(self.t.checkpoint_every):
            self.trainer.save()
            self.note_health()

    def note_health(self) -> None:
        """train.keep_healthy: keep this checkpoint's G_ema when no collapse was flagged since the one before."""
        if not (self.t.keep_healthy and self.monitor is not None and not self.trainer.dist.enabled):
            return
        if not self.collapse_since_save:
            state = self.trainer.G_ema.state_dict()
            self.healthy = (self.trainer.step, {k: v.detach().clone() for k, v in state.items()})
            self.collapse_since_kept = False
        self.collapse_since_save = bool(self.alarms.active & COLLAPSE_SIGNALS)

    def restore_healthy(self) -> bool:
        """train.keep_healthy at the end: back to the last healthy checkpoint's G_ema when a collapse was flagged
        after it; the run is saved again (its last checkpoint and generator file) and a `-kept` sheet drawn."""
        trainer = self.trainer
        if self.healthy is None or not self.collapse_since_kept or self.healthy[0] == trainer.step:
            return False
        step, state = self.healthy
        trainer.G_ema.load_state_dict(state)
        self.bar.write(
            f"note: the monitor flagged mode collapse after step {step:,}; the run ends with that checkpoint's "
            "G_ema (train.keep_healthy=false keeps the last)"
        )
        trainer.save()
        trainer.sample_sheet("-kept")
        return True

    def close(self) -> None:
        self.bar.close()
        if self.logger is not None:
            self.logger.close()


def _helpers_at_end(trainer: Trainer, loop: _Loop, progress: bool, stop: _StopRequests) -> None:
    """After the GAN: train.refine_mpix of refiner training, then train.reader_mpix of sheet-reader training,
    each followed by a save (the refiner's also by a sample sheet `step-N-refined.png` beside the head's own).
    Single-process runs only (torchrun runs skip them with a note); Ctrl-C ends a part after the current step
    and keeps what it learnt."""
    size = tuple(trainer.cfg.model.image_size)
    head = getattr(trainer.G_ema, "head", None)
    parts = (
        (
            "refiner",
            "train.refine_mpix",
            refine_steps(trainer.cfg.train.refine_mpix, size) if trainer.refiner() is not None else 0,
            trainer.refine,
            "it cleans up the sampled sprites from now on",
            "-refined",
        ),
        (
            "sheet reader",
            "train.reader_mpix",
            read_steps(trainer.cfg.train.reader_mpix, size)
            if getattr(head, "reader", None) is not None
            else 0,
            trainer.read,
            "--best-of K ranks a seed's candidates by it",
            None,
        ),
    )
    for name, setting, steps, fit, note, sheet in parts:
        if steps <= 0:
            continue
        if trainer.dist.enabled:
            if loop.main:
                loop.bar.write(f"note: the {name} is not trained in a torchrun run ({setting})")
            continue
        result = fit(steps, progress, stop=lambda: stop.requested)
        cut = f" of {steps} (stopped)" if result.steps < steps else ""
        loop.bar.write(
            f"{name}: {result.steps} steps{cut} in {result.seconds:.0f} CPU-s (loss {result.loss:.4f}); {note}"
        )
        trainer.save()
        if sheet:
            trainer.sample_sheet(sheet)


def train(
    cfg: RunConfig,
    dataset: Any,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    clock: str = "wall",
) -> TrainResult:
    """Train (or resume) a run; saves on checkpoints, at the end and on Ctrl-C; NaN stops with a message.

    max_seconds stops this invocation after that much training time on `clock`: "wall" (elapsed) or "cpu"
    (this process's CPU time, fair between runs that share a busy machine).
    """
    if clock not in ("wall", "cpu"):
        raise ValueError(f"unknown clock {clock!r} (wall | cpu)")
    timer = time.process_time if clock == "cpu" else time.perf_counter
    run_dir = Path(run_dir)
    trainer = _open_run(cfg, dataset, run_dir, resume, progress)
    end = trainer.total if max_steps is None else min(trainer.total, trainer.step + max_steps)
    loop = _Loop(trainer, end, resume, progress)
    interrupted = ended = False
    budget_start = timer()
    try:
        with _StopRequests() as stop:
            stopping = False
            while trainer.step < loop.end and not stopping:
                values = loop.step()
                if max_seconds is not None:
                    loop.stop_when(timer() - budget_start >= max_seconds)
                loop.accumulate(values)
                loop.maybe_log()
                loop.maybe_sample()
                loop.maybe_eval()
                loop.maybe_checkpoint()
                ckpt.fault_point("after-step", trainer.step)  # tests: a kill -9 between checkpoints
                # a stop request ends the loop on every rank at the same step
                stopping = distributed.any_rank(stop.requested, trainer.dist, trainer.device)
            if stopping:
                raise KeyboardInterrupt
            loop.restore_healthy()
            _helpers_at_end(trainer, loop, progress, stop)
            ended = True
    except KeyboardInterrupt:
        interrupted = True
        trainer.save()
        if loop.main:
            trainer.sample_sheet()
        ended = True
    finally:
        loop.close()
        distributed.cleanup(trainer.dist, together=ended)
    ips = trainer.images_seen / max(trainer.seconds, 1e-9)
    return TrainResult(run_dir, trainer.step, trainer.images_seen, trainer.seconds, ips, interrupted)
