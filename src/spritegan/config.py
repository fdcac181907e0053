"""Typed run configuration (data, model, training) and the named presets.

A run is fully described by a `RunConfig`; it is written to `config.yaml` in the run folder so training
can be resumed and models rebuilt without retyping flags. Presets are plain dicts of overrides.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spritegan.errors import SpriteganError


@dataclass
class DataConfig:
    source: str = "builtin:sprites"  # folder, sheet, prepared dir, or builtin:sprites[:N]
    tile: str | None = None  # grid cell of a sprite sheet, "24" or "24x24"
    resize: str | None = None  # explicit resize "64" or "64x48"; None keeps native size
    resample: str = "nearest"  # nearest for pixel art; area / bicubic / lanczos for painted art
    pad_to: int | None = None  # pad (never resample) to this size, e.g. 24 -> 32
    fit: str = "stretch"  # with resize: stretch to the size, or pad (fit inside keeping aspect, then pad)
    labels_csv: str | None = None  # CSV joined by file name or id
    label_columns: list[str] | None = None  # label columns to keep (default: all usable)
    csv_shape: str | None = None  # pixel CSV: the image size of each row, "80" or "80x80" (W x H, as resize)
    csv_channels: str = "auto"  # pixel CSV: 1 (L), 3 (RGB), 4 (RGBA) values per pixel; auto: from row length
    csv_label_column: str | None = None  # pixel CSV: header name or 0-based number; a "label" header is found
    csv_header: str = "auto"  # pixel CSV: auto (a first row with any non-number is the header) | yes | no
    clusters: int = 0  # >= 2: k-means cluster labels to condition on (data/clusters.py)


@dataclass
class ModelConfig:
    arch: str = "dcgan"  # a row of models.ARCHITECTURES (dcgan, stylegan, r3gan, ...)
    image_size: list[int] = field(default_factory=lambda: [32, 32])  # (H, W); set from the data
    channels: int = 4  # 1, 3 or 4; set from the data
    z_dim: int = 100  # latent size
    g_width: int = 64  # G filters at its last (highest-resolution) block, "ngf"
    d_width: int = 64  # D filters at its first block, "ndf"
    max_channels: int = 512  # cap on filters at low resolution
    g_norm: str = "batch"  # batch | none
    d_norm: str = "batch"  # batch | none | spectral
    g_upsample: str = "convT"  # convT (transposed conv, Radford et al.) | nearest (upsample + 3x3 conv)
    init: str = "normal"  # normal (N(0, 0.02), Radford et al.) | glorot
    minibatch_std: bool = False  # append a minibatch-stddev feature in D (fights collapse)
    d_dropout: float = 0.0  # dropout before D's last layer
    d_pack: int = 1  # PacGAN: D scores packs of this many images stacked on channels (dcgan, unconditional)
    mlp_hidden: list[int] = field(default_factory=lambda: [256, 512, 1024])  # arch=mlp only
    # arch=posed: the character sheet's (rows, columns) of frames; set from the data's sheet layout
    pose_grid: list[int] = field(default_factory=lambda: [4, 4])
    cond_dim: int = 0  # size of the label vector (0: unconditional); set from the data's labels
    cond_embed: int = 32  # size of the label embedding fed to G
    cond_aux: bool = False  # D also classifies the labels; G is trained to make them classifiable (AC-GAN)
    cond_mode: str = "input"  # dcgan: input (embedding joins z) | cbn (also label-driven norm gains/biases)
    # dcgan D: rows with the all-zero label (the free slot) get a learned projection of their own, so D can
    # judge free samples against the data's trait shares; opt-in: mixed on the punks (docs/conditional.md)
    d_free_head: bool = False
    posed_frame_d: bool = False  # arch=posed: a second, pose-conditional D on every frame beside the sheet D
    # arch=posed: a second D on the frames stacked as channels (one frame-sized image, every pose at each
    # pixel), so its first layer compares a character's poses pixel by pixel
    posed_stack_d: bool = False
    # arch=posed: G draws the frames stacked as channels too (one frame-sized network whose last layer writes
    # every pose's features at each pixel), so a character's poses come from the same features, not from one
    # latent fed to each frame's own pass (models/posed.py)
    posed_stack_g: bool = False
    # arch=posed, training: weight of G's penalty for colour amounts that change between the frames of one
    # row (a direction's walk cycle), train/losses.frame_drift (0: off)
    posed_hold: float = 0.0
    w_dim: int = 128  # arch=stylegan: size of the intermediate latent W
    mapping_layers: int = 4  # arch=stylegan: depth of the mapping network z -> w
    style_upsample: str = "bilinear"  # arch=stylegan: bilinear (StyleGAN2-like) | nearest (hard pixel edges)
    style_mode: str = "modulated"  # arch=stylegan: modulated (StyleGAN2 demodulation) | adain
    mixing_prob: float = 0.9  # arch=stylegan: style-mixing regularisation probability in training
    use_noise: bool = True  # arch=stylegan: per-layer noise inputs
    style_convs: int = 2  # arch=stylegan: styled 3x3 convs per resolution after the first (1 or 2)
    style_d: str = "resnet"  # arch=stylegan: resnet (residual D) | plain (conv + pool blocks) | dcgan (its D)
    progressive: bool = False  # arch=stylegan: progressive growing (Karras et al. 2018), see train.fade_kimg
    r3_blocks: int = 1  # arch=r3gan: residual blocks per resolution (the paper uses 2)
    r3_expansion: int = 2  # arch=r3gan: inverted-bottleneck width factor of each residual block
    r3_group: int = 8  # arch=r3gan: channels per group of the grouped 3x3 conv
    r3_upsample: str = "bilinear"  # arch=r3gan: G's resampling, bilinear (the paper's) | nearest
    tileable: bool = False  # arch=dcgan: circular padding in G and D, so every tile repeats without a seam
    head: str = "rgb"  # rgb (tanh colours) | palette (per-pixel choice of a dataset colour) | snap (baseline)
    palette_colors: int = 0  # head=palette/snap: palette size; set from the data
    palette_embed: int = 16  # head=palette: feature channels per pixel (colour embedding size)
    palette_temperature: float = 1.0  # head=palette: softmax temperature of the straight-through gradient
    palette_train_mix: bool = False  # head=palette: train on the softmax colour mixture, sample the argmax
    palette_kmeans: int = 64  # head=palette/snap on data with > 256 colours: k-means palette size
    # head=palette/snap with a k-means palette: D sees the real images moved to their nearest palette colours,
    # so G is not asked for the shades between them (off: as they are; no gain measured, docs/pixel-exact.md)
    palette_quantise_reals: bool = False
    # head=palette on data with more than 256 colours (painted art): keep the palette head on a k-means
    # palette (palette), or draw full colour with the RGB head (rgb); decided at the start of training
    head_painted: str = "palette"
    palette_agree: float = 0.0  # head=palette, sampling: bonus per agreeing 4-neighbour (0: plain argmax)
    palette_agree_steps: int = 3  # head=palette, sampling: passes of that neighbour agreement
    # head=palette: colours per image, a palette swap (models/swap_head.py): each image (a whole sheet) picks
    # this many dataset colours and each pixel one of them, so a character's frames share them (0: off)
    palette_slots: int = 0
    palette_sprite_prior: int = 0  # head=palette: rank of a per-sprite colour prior on the logits (0: off)
    # head=palette, training: D also sees each pixel's colour identity (a fixed code of this many channels
    # per palette entry), so colours close in RGB (an outline and black hair) are far apart for D (0: off)
    palette_identity: int = 0
    # head=palette, sampling: remove visible parts of at most this many pixels that touch nothing visible
    # (0: off; -1: 8 for data with alpha, else 0, set at the start of training) ...
    palette_despeckle: int = -1
    # ... except those covering a position (y * W + x) where the training data has such a part (set with it)
    palette_speck_sites: list[int] | None = None
    # head=palette, sampling: an image keeps at most this many palette colours, the ones its argmax uses most,
    # and its other pixels take their best colour among those (0: off; -1, the default: the most colours any
    # training image uses when the palette is the data's own, set at the start of training; runs saved
    # before the option load with it off)
    palette_max_colours: int = -1
    # head=palette, sampling: width of a learned clean-up of the sampled indices (models/refiner.py), trained
    # after the GAN on the training sprites (train.refine_mpix, or `spritegan refine`); 0: none
    palette_refiner: int = 0
    palette_refine_passes: int = 2  # head=palette, sampling: rounds of that clean-up
    # arch=posed: that refiner sees the sheet's frames stacked, each pixel its place in every frame, so a
    # trait drawn another way in a few frames is mended from the others (models/refiner.SheetRefiner)
    palette_refiner_stack: bool = False
    # arch=posed: width of a sheet reader (models/reader.py), trained after the GAN on the training sheets'
    # labels, or to tell their characters apart when they have none (train.reader_mpix, or `spritegan refine
    # --reader`); `--best-of K` then keeps the candidate whose frames all read surest as one character; 0: none
    palette_reader: int = 0
    palette_reader_classes: list[int] = field(default_factory=list)  # per label column; set from the data


# what train.schedule_kimg's cosine moves: learning rates, R1/R2 gammas, the EMA half-life, diffaug probability
SCHEDULED = ("lr", "gamma", "ema", "augment")


@dataclass
class TrainConfig:
    steps: int = 2000  # generator updates; `epochs` overrides when set
    epochs: float | None = None  # passes over the data (steps = epochs * N / batch_size)
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    loss: str = "bce"  # bce | ns (non-saturating softplus) | hinge
    real_label: float = 1.0  # 0.9 is one-sided label smoothing (PokeGAN)
    flip_prob: float = 0.0  # chance to swap real/fake labels for D (noisy labels)
    r1_gamma: float = 0.0  # R1 penalty weight on reals (0: off)
    r1_every: int = 16  # lazy regularisation interval
    r2_gamma: float = 0.0  # R2 penalty weight on fakes (0: off), applied with R1 every r1_every steps
    schedule_kimg: float = 0.0  # >0: cosine schedules of lr, gammas, EMA and diffaug over this many kimg
    schedule_lr_end: float = 0.25  # with schedule_kimg: learning rate at the horizon, fraction of lr_g/lr_d
    schedule_gamma_end: float = 0.1  # with schedule_kimg: r1/r2 gamma at the horizon, fraction of the start
    schedule_aug_end: float = 0.5  # with schedule_kimg: diffaug probability at the horizon (from 0)
    schedules: list[str] = field(default_factory=lambda: list(SCHEDULED))  # which values follow the cosine
    fade_kimg: float = 15.0  # model.progressive: images (k) to fade each next resolution in (paper: 600)
    stable_kimg: float = 15.0  # model.progressive: images (k) at each resolution once faded in (paper: 600)
    d_steps: int = 1  # D updates per G update
    ema_half_life_kimg: float = 0.0  # EMA of G, half-life in thousands of images (0: G_ema = G)
    # >0: the EMA half-life is at most this share of the images seen (StyleGAN2-ADA's ema_rampup), so a short
    # run's G_ema is not held back by its first steps
    ema_rampup: float = 0.0
    augment: list[str] = field(default_factory=list)  # mirror, brightness, hue, translate (on reals)
    diffaug: str = ""  # differentiable augmentation on D's inputs, e.g. "color,translation"
    ada_target: float = 0.0  # >0: apply diffaug with an adaptive probability that keeps E[sign D(real)] here
    ada_kimg: float = 100.0  # how fast the adaptive probability may move (thousand images from 0 to 1)
    cond_drop: float = 0.1  # share of conditional batches trained with no labels (free sampling)
    balance: str = "none"  # none | class (rarity-aware sampling for conditional runs)
    aux_weight: float = 1.0  # weight of the label-classification loss when model.cond_aux is on
    # model.head=palette: weight of KL(the data's colour shares || the colours G draws in a batch) in G's loss,
    # which brings back colours G stopped drawing early in training (0: off; no effect with the RGB head)
    colour_usage: float = 0.0
    init_from: str | None = None  # transfer learning: start from this run folder or .safetensors file
    freeze_d: int = 0  # transfer learning: keep D's first N layers fixed (FreezeD, Mo et al. 2020)
    seed: int = 0  # fixes data order, initialisation and sampling
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "auto"  # bf16 autocast: auto (CUDA only) | on (CUDA, and CPUs with AVX512-BF16/AMX) | off
    channels_last: bool = False  # G's and D's weights in channels_last memory layout (faster convs on CPU)
    threads: int = 0  # torch threads on CPU (0: all cores)
    sample_every: int = 200  # fixed-noise sample sheet interval (steps)
    checkpoint_every: int = 500  # checkpoint interval (steps)
    log_every: int = 20  # metrics.csv / TensorBoard interval (steps)
    keep_checkpoints: int = 3  # older checkpoints are deleted
    # model.palette_refiner: the refiner's training at the end of each `train`, in millions of training pixels
    # it sees (batches of 64 sprites: 100 is 1,526 steps at 32x32, 127 at 96x128); 0: none
    refine_mpix: float = 0.0
    # model.palette_reader: the reader's training at the end of each `train`, in millions of training pixels
    # (batches of 16 sheets: 100 is 1,526 steps at 64x64); 0: none
    reader_mpix: float = 0.0
    # single-process runs: when the monitor flags mode collapse after the last checkpoint it found healthy
    # (no collapse warning since the checkpoint before), the run ends with that checkpoint's G_ema
    keep_healthy: bool = False
    eval_every: int = 0  # FID/KID of G_ema every N steps (0: off); best generator kept by FID
    eval_samples: int = 1000  # generated images per in-training evaluation
    eval_real: int = 0  # real images compared against (0: all training images)
    sample_grid: int = 64  # images on a sample sheet


@dataclass
class RunConfig:
    preset: str = "sprite"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        cfg = cls(preset=str(raw.get("preset", "custom")))
        for section in ("data", "model", "train"):
            values = raw.get(section) or {}
            if not isinstance(values, dict):
                raise SpriteganError(f"section {section!r} must be a mapping of settings, got {values!r:.40}")
            apply_overrides(cfg, {f"{section}.{k}": v for k, v in values.items()})
        return cfg

    def save(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        try:
            raw = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise SpriteganError(f"{path}: cannot read run config ({exc.strerror or exc})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or exc.__class__.__name__
            raise SpriteganError(f"{path}: not valid YAML{where} ({problem})") from None
        if not isinstance(raw, dict):
            raise SpriteganError(f"{path}: run config is not a mapping of data/model/train settings")
        try:
            return cls.from_dict(raw)
        except SpriteganError as exc:
            raise SpriteganError(f"{path}: {exc}") from None


# train.amp was a bool before it became a choice: configs that say true/false still load
AMP_ALIASES = {"true": "auto", "1": "auto", "yes": "auto", "false": "off", "0": "off", "no": "off"}


def _field(section: object, name: str) -> tuple[type, type | None, Any]:
    """The field's type from its annotation, without None (`float | None` -> float; `list[int]` -> list),
    the type of its items for a list (int, str) or None, and its default value."""
    annotation = typing.get_type_hints(type(section))[name]
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    kind, item = annotation, None
    if typing.get_origin(annotation) is list:
        kind, item = list, typing.get_args(annotation)[0]
    f = next(f for f in dataclasses.fields(section) if f.name == name)
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default
    return kind, item, default


def _coerce(value: Any, kind: type, item: type | None, key: str) -> Any:
    """Convert a CLI/YAML value to the field's annotated type (`kind`, and `item` for a list)."""
    if value is None:
        return None
    if key == "train.amp":
        return AMP_ALIASES.get(str(value).lower(), value)
    if kind is bool:
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise SpriteganError(f"{key}: expected true/false, got {value!r}")
        return bool(value)
    if kind is list:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("[") and text.endswith("]"):  # YAML-style [a, b] as well as a,b
                text = text[1:-1]
            items = [v.strip().strip("'\"") for v in text.split(",") if v.strip()]
        else:
            items = list(value)
        if item is int:
            try:
                return [int(v) for v in items]
            except (TypeError, ValueError) as exc:
                raise SpriteganError(f"{key}: expected a list of integers, got {value!r}") from exc
        return items
    if isinstance(value, (dict, list)):
        raise SpriteganError(f"{key}: expected a single {kind.__name__}, got {value!r:.40}")
    try:
        if kind in (int, float):
            return kind(value)
    except (TypeError, ValueError) as exc:
        raise SpriteganError(f"{key}: expected a {kind.__name__}, got {value!r}") from exc
    return value


# Numeric settings are checked from their dataclass field: a float must be finite, and a number whose default
# is positive must stay >= 1 (ints) or >= 0 (floats); one whose default is 0 ("off") must stay >= 0. So a new
# field is checked without being listed. The lists below only tighten or loosen that rule.
# 0 mapping layers act as 1; 0 refiner rounds turn the refiner off at sampling
MINIMUM: dict[str, float] = {"model.mapping_layers": 0, "data.pad_to": 1, "model.palette_refine_passes": 0}
# Settings that must be strictly above their minimum (a rate or a length of zero makes no sense).
POSITIVE = {"train.lr_g", "train.lr_d", "train.epochs", "train.ada_kimg"}
# Fractions and probabilities: the closed range [0, 1] (beta2 and dropout stay below 1).
UNIT_RANGE = {
    "model.d_dropout",
    "model.mixing_prob",
    "train.beta1",
    "train.beta2",
    "train.real_label",
    "train.flip_prob",
    "train.cond_drop",
    "train.ada_target",
}
BELOW_ONE = {"model.d_dropout", "train.beta2"}
MAX_SEED = 2**53  # train.seed: per-stream seeds are seed * 1000 + k, well inside torch's 64-bit range


def check_value(key: str, value: Any, kind: type, item: type | None = None, default: Any = 1) -> None:
    """One-line error when a numeric setting is not finite or out of its range (see MINIMUM, POSITIVE...)."""
    if kind is list and item is int and value is not None:
        for number in value:
            check_value(key, number, int)
        return
    if value is None or isinstance(value, bool) or kind not in (int, float):
        return
    if kind is float and not math.isfinite(value):
        raise SpriteganError(f"{key}: must be a finite number, got {value}")
    if isinstance(default, (int, float)) and default < 0 and key not in MINIMUM:
        return
    positive_default = isinstance(default, (int, float)) and default >= 1
    low = MINIMUM.get(key, 1 if kind is int and positive_default else 0)
    if key in POSITIVE and value <= low:
        raise SpriteganError(f"{key}: must be above {low}, got {value}")
    if value < low:
        raise SpriteganError(f"{key}: must be at least {low}, got {value}")
    if key in UNIT_RANGE and (value > 1 or (key in BELOW_ONE and value >= 1)):
        raise SpriteganError(
            f"{key}: must be between 0 and {'below ' if key in BELOW_ONE else ''}1, got {value}"
        )
    if key == "train.seed" and value >= MAX_SEED:
        raise SpriteganError(f"{key}: must be below 2^53, got {value}")


# Settings that take one of a few words; a typo is a one-line error when the config is built, not a
# traceback when the model or the loop first meets it. A higher layer that owns a table of names adds its
# key with `register_choices` when it is imported (model.arch: the rows of models.ARCHITECTURES).
CHOICES: dict[str, Collection[object]] = {
    "model.g_norm": ("batch", "none", "spectral"),
    "model.d_norm": ("batch", "none", "spectral"),
    "model.g_upsample": ("convT", "nearest"),
    "model.init": ("normal", "glorot"),
    "model.cond_mode": ("input", "cbn"),
    "model.style_mode": ("modulated", "adain"),
    "model.style_upsample": ("bilinear", "nearest"),
    "model.style_d": ("resnet", "plain", "dcgan"),
    "model.style_convs": (1, 2),
    "model.channels": (1, 3, 4),
    "model.r3_upsample": ("bilinear", "nearest"),
    "model.head": ("rgb", "palette", "snap"),
    "model.head_painted": ("palette", "rgb"),
    "train.loss": ("bce", "ns", "hinge", "rpgan"),
    "train.balance": ("none", "class"),
    "train.amp": ("auto", "on", "off"),
    "train.schedules": SCHEDULED,
    "data.fit": ("stretch", "pad"),
    "data.csv_channels": ("auto", "1", "3", "4"),
    "data.csv_header": ("auto", "yes", "no"),
}


def register_choices(key: str, names: Collection[object]) -> None:
    """Make `names` the words `key` accepts; a live view (a dict's keys) keeps later rows valid too."""
    CHOICES[key] = names


def unknown_choice(key: str, value: object) -> str:
    """The one-line message for a word setting outside `CHOICES[key]` (config, models and losses share it)."""
    return f"{key}: unknown value {value!r}; choose from {', '.join(map(str, CHOICES[key]))}"


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """Set dotted keys (`train.steps`, `model.z_dim`) with type checks; unknown keys and values are errors."""
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        target = getattr(cfg, section, None)
        if target is None or not dataclasses.is_dataclass(target) or not hasattr(target, name):
            raise SpriteganError(f"unknown setting {key!r}")
        kind, item, default = _field(target, name)
        value = _coerce(value, kind, item, key)
        if key in CHOICES:  # a list setting: each of its words
            for word in value if isinstance(value, list) else [value]:
                if word not in CHOICES[key]:
                    raise SpriteganError(unknown_choice(key, word))
        check_value(key, value, kind, item, default)
        setattr(target, name, value)
    return cfg


# Our training recipe for small pixel-art sets on a CPU, shared by the `sprite` and `stylegan` presets:
# non-saturating loss, lazy R1, Adam 2e-3 (0, 0.99), EMA, translation DiffAugment.
_SMALL_SET_TRAINING: dict[str, Any] = {
    "train.loss": "ns",
    "train.lr_g": 2e-3,
    "train.lr_d": 2e-3,
    "train.beta1": 0.0,
    "train.beta2": 0.99,
    "train.r1_gamma": 0.2,
    "train.r1_every": 8,
    "train.ema_half_life_kimg": 5.0,
    "train.batch_size": 64,
    "train.steps": 3000,
    "train.diffaug": "translation",
}

# Each preset is a dict of dotted overrides on the defaults above; "doc" says where the recipe comes from.
PRESETS: dict[str, dict[str, Any]] = {
    "sprite": {
        "doc": "our default: native-resolution pixel art on a CPU; small DCGAN with a palette head (every pixel "
        "one of the data's colours; G trains on the colour mixture, samples the argmax with neighbour agreement; "
        "D also sees each colour's code; painted art with more than 256 colours gets the RGB head), "
        "no norm in D, "
        "minibatch stddev, non-saturating loss + lazy R1, Adam 1e-3, EMA generator (half-life 20k images, ramped up), "
        "light augmentation, bf16 "
        "autocast where the CPU has native bf16",
        "model.z_dim": 64,
        "model.g_width": 48,  # FID-1k 46.2 vs 53.2 at width 32, 600 CPU-s on the punks (docs/pixel-exact.md)
        "model.d_width": 32,
        "model.max_channels": 256,
        "model.g_norm": "batch",
        "model.d_norm": "none",
        "model.g_upsample": "nearest",
        "model.minibatch_std": True,
        **_SMALL_SET_TRAINING,
        # every pixel one of the data's colours (a k-means palette above 256 colours); FID-5k on the punks at
        # 600 CPU-s: docs/pixel-exact.md. The palette head at lr 2e-3 collapsed there, so G and D take 1e-3.
        "model.head": "palette",
        "model.palette_train_mix": True,  # D sees unsure pixels: FID-1k 47.4 vs 53.2 (hard) at 600 CPU-s
        # sampling: colours follow their 4 neighbours where G is unsure; punks FID-5k 37.6 -> 30.6 on one run
        "model.palette_agree": 1.0,
        # D also sees each pixel's palette entry (a fixed 16-channel code): punks FID-5k 30.6 -> 26.4 at 30
        # CPU-minutes, demo readable 0-8% -> 94-98% (docs/pixel-exact.md)
        "model.palette_identity": 16,
        # painted art (more than 256 colours): full colour; at 30 CPU-minutes FID-5k 186.9 against 284.3 for a
        # 64-colour k-means palette head on the Pokemon, 231.2 against 277.7 on the game characters; the
        # palette head's sheets collapsed into stripes (docs/pixel-exact.md)
        "model.head_painted": "rgb",
        "train.lr_g": 1e-3,
        "train.lr_d": 1e-3,
        # punks FID-5k at 30 CPU-minutes 20.0 and 19.2 (two seeds) against 21.4 at 5k images; capped at 5% of
        # the images seen, so the demo's 96k-image run still ends at about 5 (docs/pixel-exact.md)
        "train.ema_half_life_kimg": 20.0,
        "train.ema_rampup": 0.05,
        "train.amp": "on",  # bf16 where native (AVX512-BF16/AMX, CUDA), else fp32
        "train.channels_last": True,  # 1.16-1.41x the steps per CPU-s in fp32 (docs/benchmarks.md)
    },
    "stylegan": {
        "doc": "StyleGAN-style model sized for sprites on a CPU: mapping net, modulated convs with noise, "
        "nearest upsampling, style mixing, skip G, residual D with minibatch stddev, non-saturating loss + "
        "lazy R1, EMA, batch 16",
        "model.arch": "stylegan",
        "model.style_upsample": "nearest",  # FID-500 83.4 vs 127.3 bilinear at 600 CPU-s on punks
        "model.z_dim": 64,
        "model.w_dim": 128,
        "model.mapping_layers": 4,
        "model.g_width": 16,
        "model.d_width": 16,
        "model.max_channels": 128,
        **_SMALL_SET_TRAINING,
        "train.batch_size": 16,  # mean FID-500 over 3 seeds at 600 CPU-s on punks: 76.4 vs 80.3 (32), 86.4 (64)
        "model.progressive": False,  # FID-1k 69.6 fixed vs 80.5 growing (15+15 kimg) at 600 CPU-s on punks, seed 0
    },
    "r3gan": {
        "doc": "after R3GAN (Huang et al. 2024): normalisation-free ResNet G and D (grouped-conv inverted "
        "bottlenecks, fix-up init, nearest upsampling), relativistic pairing loss with R1 + R2 on every D step, "
        "Adam (0, 0.99), cosine schedules over 360 kimg (lr 1e-3 -> 2.5e-4, gamma 0.2 -> 0.02, translation "
        "DiffAugment p 0 -> 0.5, EMA half-life 0 -> 10 kimg), batch 32; widths, lrs and the horizon are our "
        "CPU sizing of the paper's recipe",
        "model.arch": "r3gan",
        "model.z_dim": 64,
        "model.g_width": 8,  # 8/16/32/64 filters at 24/12/6/3 px: a step at batch 32 costs ~1.2x `sprite`'s
        "model.d_width": 8,
        "model.max_channels": 128,
        "model.r3_blocks": 1,
        "model.r3_expansion": 2,
        "model.r3_group": 16,
        "model.r3_upsample": "nearest",  # the paper's bilinear gave blurred, repetitive punks at 300 CPU-s
        "train.loss": "rpgan",
        "train.lr_g": 1e-3,
        "train.lr_d": 1e-3,
        "train.beta1": 0.0,
        "train.beta2": 0.99,
        "train.r1_gamma": 0.2,
        "train.r2_gamma": 0.2,
        "train.r1_every": 1,
        "train.ema_half_life_kimg": 10.0,
        "train.diffaug": "translation",
        "train.schedule_kimg": 360.0,  # ~30 CPU-minutes at 24x24 (about 200 images per CPU-second here)
        "train.schedule_lr_end": 0.25,
        "train.schedule_gamma_end": 0.1,
        "train.schedule_aug_end": 0.5,
        "train.batch_size": 32,
        "train.steps": 11250,  # 360 kimg: the schedules' horizon
    },
    "cyberpunk-gan": {
        "doc": "Cyberpunk-GAN (seed 000): punks resized to 64x64 keeping RGBA, DCGAN with 4 strided convs + "
        "LeakyReLU in D and 4 transposed convs in G, Adam 2e-4, BCE, 100 epochs",
        "data.resize": "64",
        "data.resample": "nearest",
        "model.z_dim": 100,
        "model.g_width": 64,
        "model.d_width": 64,
        "model.d_norm": "batch",
        "train.loss": "bce",
        "train.batch_size": 128,
        "train.epochs": 100.0,
    },
    "pokegan": {
        "doc": "PokeGAN (seeds 001/002): 64x64 DCGAN, recolour (hue) + mirror augmentation, real label 0.9, "
        "BCE for both nets",
        "data.resize": "64",
        "data.resample": "area",
        "model.z_dim": 100,
        "train.loss": "bce",
        "train.real_label": 0.9,
        "train.augment": ["mirror", "hue"],
        "train.batch_size": 64,
        "train.epochs": 200.0,
    },
    "pokegan-mlp": {
        "doc": "PokeGAN blog's fully-connected (no convolution) GAN for comparison, 64x64",
        "data.resize": "64",
        "data.resample": "area",
        "model.arch": "mlp",
        "model.z_dim": 100,
        "train.loss": "bce",
        "train.real_label": 0.9,
        "train.augment": ["mirror", "hue"],
        "train.batch_size": 64,
        "train.epochs": 200.0,
    },
    "vgc-gan": {
        "doc": "Video Game Character Creator (seed 003): 80x80 RGB DCGAN after Radford et al., 10,000 "
        "iterations of batch 40, sample plots every 10 iterations",
        "model.z_dim": 100,
        "train.loss": "bce",
        "train.batch_size": 40,
        "train.steps": 10000,
        "train.sample_every": 10,
    },
    "concept-gan": {
        "doc": "Concept design GAN (seed 004): kernel 4, stride 2, Glorot init, 64->512 filters, mirror + "
        "brightness 0.7-1.2 augmentation",
        "model.init": "glorot",
        "model.d_width": 64,
        "model.max_channels": 512,
        "train.loss": "bce",
        "train.augment": ["mirror", "brightness"],
        "train.batch_size": 64,
        "train.epochs": 100.0,
    },
}

# The PokeGAN report's four runs (its table: model size, batch, learning rate, latent size, epochs).
POKEGAN_RUNS: dict[str, dict[str, Any]] = {
    "pokegan-run1": {
        "train.batch_size": 128,
        "train.lr_g": 1e-4,
        "train.lr_d": 1e-4,
        "model.z_dim": 64,
        "train.epochs": 100.0,
    },
    "pokegan-run2": {
        "train.batch_size": 64,
        "train.lr_g": 2e-4,
        "train.lr_d": 2e-4,
        "model.z_dim": 128,
        "train.epochs": 70.0,
    },
    "pokegan-run3": {
        "data.resize": "128",
        "train.batch_size": 128,
        "train.lr_g": 2e-4,
        "train.lr_d": 2e-4,
        "model.z_dim": 256,
        "train.epochs": 200.0,
    },
    "pokegan-run4": {
        "data.resize": "128",
        "train.batch_size": 64,
        "train.lr_g": 1e-4,
        "train.lr_d": 1e-4,
        "model.z_dim": 256,
        "train.epochs": 100.0,
    },
}
for _name, _over in POKEGAN_RUNS.items():
    PRESETS[_name] = {
        **PRESETS["pokegan"],
        **_over,
        "doc": PRESETS["pokegan"]["doc"].split(";")[0] + f"; {_name}",
    }


def preset_names() -> list[str]:
    return list(PRESETS)


def build_config(preset: str = "sprite", overrides: dict[str, Any] | None = None) -> RunConfig:
    """Defaults, then the preset's overrides, then the user's."""
    if preset not in PRESETS:
        raise SpriteganError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    cfg = RunConfig(preset=preset)
    apply_overrides(cfg, {k: v for k, v in PRESETS[preset].items() if k != "doc"})
    apply_overrides(cfg, overrides or {})
    return cfg
