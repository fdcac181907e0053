"""The one generation path: seeds (+ labels, truncation) -> pixel-perfect uint8 sprites.

The CLI, the studio, the trainer's sheets and evaluation, metrics and the ONNX export all sample through
`SpritePipeline`, so a sprite is fully named by (model, seed, labels, truncation) and can be regenerated
byte for byte. Its steps, each usable alone:

    latents(seeds) -> z (N, z_dim)
    ws(z, labels, truncation) -> (N, num_ws, w_dim)       StyleGAN-style generators: W space
    render(ws) -> float images in [-1, 1]                  (or synthesize(z, labels, truncation) for any G)
    postprocess(images, snap, palette) -> uint8 (N, C, H, W)

With `best_of=K` each seed draws K latents (`candidate_latents`: the first is the seed's own) and keeps one:
with a posed run's trained sheet reader, the sheet whose frames all read surest as one character (one set
of labels); else the sprite the refiner changes least, one the model itself finds nothing to clean up in.
Still a pure function of (model, seed, labels, truncation, K).

Python API (a run folder or a generator file)::

    pipe = SpritePipeline.from_pretrained("runs/punks")
    images = pipe([0, 1, 2], traits="type=alien", truncation=0.7, output_type="pil")
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from spritegan.config import ModelConfig
from spritegan.errors import RunError, SpriteganError
from spritegan.generate import traits as T
from spritegan.generate.latent import broadcast, is_style_generator, require_style
from spritegan.generate.postprocess import snap_alpha, snap_palette
from spritegan.generate.sheet import to_pil
from spritegan.models import build_generator
from spritegan.models.despeckle import LIMIT as SPECK_LIMIT
from spritegan.models.palette_head import nearest_colours
from spritegan.storage import GENERATOR_FILE, load_generator_file, resolve_generator_path, save_generator
from spritegan.tensors import to_hwc_numpy, to_model, to_uint8

OutputType = Literal["pt", "np", "pil"]


MAX_REFINE_PASSES = 8


class _FromData:
    """The default of `SpritePipeline.__call__`'s labels: a conditional model draws each sprite's traits from
    the training data (its trait shares), as `spritegan generate` does; pass labels=None for the
    unconditional slot."""

    def __repr__(self) -> str:
        return "FROM_DATA"


FROM_DATA = _FromData()
MAX_BEST_OF = 64


def refine_passes(generator: torch.nn.Module) -> int:
    """The refiner rounds this generator applies at sampling (its palette head's): 0 without a trained one."""
    rounds = getattr(getattr(generator, "head", None), "refine_rounds", None)
    return rounds() if rounds is not None else 0


def sheet_reader(generator: torch.nn.Module) -> torch.nn.Module | None:
    """This generator's trained sheet reader (its palette head's, models/reader.py), or None."""
    reader = getattr(getattr(generator, "head", None), "reader", None)
    return reader if reader is not None and reader.trained() else None


def best_of_rank(generator: torch.nn.Module) -> str | None:
    """What `best_of` ranks a seed's candidates by: "reader", "refiner" (its edits), or None (nothing to)."""
    if sheet_reader(generator) is not None:
        return "reader"
    return "refiner" if refine_passes(generator) else None


def latents(seeds: Sequence[int], z_dim: int) -> torch.Tensor:
    """One standard-normal latent per seed, independent of batch size and device: seed s is always z_s."""
    out = torch.empty(len(seeds), z_dim)
    for i, s in enumerate(seeds):
        g = torch.Generator().manual_seed(int(s))
        out[i] = torch.randn(z_dim, generator=g)
    return out


def candidate_latents(seeds: Sequence[int], z_dim: int, k: int) -> torch.Tensor:
    """(len(seeds) * k, z_dim): k latents per seed, seed by seed, drawn one after another from the seed's own
    generator, so the first is `latents([seed])` and best of k's candidates start best of j's for j < k."""
    out = torch.empty(len(seeds) * k, z_dim)
    for i, s in enumerate(seeds):
        g = torch.Generator().manual_seed(int(s))
        for j in range(k):
            out[i * k + j] = torch.randn(z_dim, generator=g)
    return out


def refiner_edits(raw: torch.Tensor, refined: torch.Tensor) -> torch.Tensor:
    """(N,) pixels where each uint8 (N, C, H, W) image drawn with the refiner differs from it drawn without:
    `best_of` keeps a seed's candidate with the fewest."""
    return (raw != refined).any(1).flatten(1).sum(1)


def reader_doubt(generator: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N,) minus the sheet reader's consensus of each uint8 (N, C, H, W) sheet that generator drew: 0 when
    every frame reads surely as one set of labels, more the less they agree; `best_of` keeps the least."""
    head = generator.head
    index = nearest_colours(to_model(images).float().to(head.palette.device), head.palette)  # exact: drawn
    return -sheet_reader(generator).consensus(index)


class SpritePipeline:
    """Owns an (EMA) generator and the data facts needed to post-process its output."""

    def __init__(self, generator: torch.nn.Module, meta: dict[str, Any], device: str | torch.device = "cpu"):
        self.generator = generator.eval().requires_grad_(False).to(device)
        self.meta = meta
        self.device = torch.device(device)
        self.manifest: dict[str, Any] = meta.get("manifest", {})
        self.model_config = ModelConfig(**meta["model_config"])
        self.source: str | None = None  # the run folder or file it was loaded from (finds the label table)
        self.best_of = 1  # latents tried per seed, ranked by best_of_rank (from_pretrained's best_of)
        self._table: T.LabelTable | None | _FromData = FROM_DATA  # not looked up yet

    def label_table(self) -> T.LabelTable | None:
        """The training data's label table (looked up once): from the metadata, the run folder or its data."""
        if self._table is FROM_DATA:
            self._table = T.load_label_table(self.source or "", self.meta)
        return self._table

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: str | torch.device = "cpu",
        agree: float | None = None,
        despeckle: int | None = None,
        max_colours: int | None = None,
        refine: int | None = None,
        best_of: int | None = None,
    ) -> SpritePipeline:
        """Load `generator.safetensors` from a run folder (or the file itself) with no training state.

        `agree` overrides the palette head's neighbour agreement at sampling (model.palette_agree; 0 is
        the per-pixel argmax), `despeckle` the largest lone part it removes (model.palette_despeckle, in
        pixels; 0 keeps them), `max_colours` the colours one image may keep (model.palette_max_colours; 0:
        the whole palette), `refine` the rounds of the trained refiner (model.palette_refine_passes; 0 turns it
        off); None keeps the run's own setting. `best_of` K > 1 samples each seed as the best of K latents by
        the sheet reader or the refiner's edits (needs a trained reader or refiner)."""
        file = resolve_generator_path(path)
        weights, meta = load_generator_file(file)
        if "model_config" not in meta:
            raise RunError(f"{file}: generator file has no model_config metadata")
        if agree is not None:
            if not 0.0 <= agree <= 100.0:
                raise SpriteganError(f"--agree {agree}: choose 0 (per-pixel argmax) to 100")
            meta = {**meta, "model_config": {**meta["model_config"], "palette_agree": float(agree)}}
        if despeckle is not None:
            if not 0 <= despeckle <= SPECK_LIMIT:
                raise SpriteganError(
                    f"--despeckle {despeckle}: choose 0 (keep specks) to {SPECK_LIMIT} pixels"
                )
            meta = {**meta, "model_config": {**meta["model_config"], "palette_despeckle": int(despeckle)}}
        if max_colours is not None:
            if max_colours < 0:
                raise SpriteganError(f"--max-colours {max_colours}: choose 0 (the whole palette) or more")
            meta = {**meta, "model_config": {**meta["model_config"], "palette_max_colours": int(max_colours)}}
        if refine is not None:
            if not 0 <= refine <= MAX_REFINE_PASSES:
                raise SpriteganError(f"--refine {refine}: choose 0 (off) to {MAX_REFINE_PASSES} rounds")
            meta = {**meta, "model_config": {**meta["model_config"], "palette_refine_passes": int(refine)}}
        try:
            generator = build_generator(ModelConfig(**meta["model_config"]))
            generator.load_state_dict(weights)
        except (TypeError, RuntimeError) as exc:
            raise RunError(f"{file}: weights do not match the stored model config ({exc})") from exc
        pipe = cls(generator, meta, device)
        pipe.source = str(path)
        if best_of is not None:
            if not 1 <= best_of <= MAX_BEST_OF:
                raise SpriteganError(f"--best-of {best_of}: choose 1 (off) to {MAX_BEST_OF} latents per seed")
            if best_of > 1 and best_of_rank(generator) is None:
                raise SpriteganError(
                    f"--best-of {best_of}: {file} has no trained refiner or sheet reader to rank a seed's "
                    "latents by (train with model.palette_refiner, and do not turn it off with --refine 0, or "
                    "add a posed run's reader with `spritegan refine RUN --out NEW --reader`)"
                )
            pipe.best_of = int(best_of)
        return pipe

    from_run = from_pretrained  # the name the CLI grew up with

    def save_pretrained(self, path: str | Path) -> Path:
        """Write the generator file (weights + model config + manifest) into a folder, or to a file path
        ending in .safetensors; `from_pretrained` reads it back."""
        p = Path(path)
        return save_generator(
            p if p.suffix == ".safetensors" else p / GENERATOR_FILE, self.generator, self.meta
        )

    @property
    def z_dim(self) -> int:
        return self.model_config.z_dim

    @property
    def sampling_record(self) -> dict[str, float]:
        """What a result file records of how this pipeline samples: the palette head's neighbour agreement
        the speck size it removes, the colours an image keeps and the refiner's rounds (the run's, or the
        overrides given to from_pretrained; 0 for off); empty for other heads."""
        if self.model_config.head != "palette":
            return {}
        c = self.model_config
        return {
            "palette_agree": c.palette_agree,
            "palette_despeckle": max(0, c.palette_despeckle),
            "palette_max_colours": max(0, c.palette_max_colours),
            "palette_refine_passes": refine_passes(self.generator),
            **(
                {"best_of": self.best_of, "best_of_rank": best_of_rank(self.generator)}
                if self.best_of > 1
                else {}
            ),
        }

    @property
    def label_spec(self) -> dict | None:
        return self.manifest.get("labels") if self.model_config.cond_dim else None

    @property
    def is_style(self) -> bool:
        """Whether the generator has a W space (mapping + synthesis), so ws/render/edit/projection apply."""
        return is_style_generator(self.generator)

    def latents(self, seeds: Sequence[int]) -> torch.Tensor:
        return latents(seeds, self.z_dim)

    def labels_for(
        self,
        traits: str | torch.Tensor | None,
        seeds: Sequence[int],
        seed: int = 0,
        warn: Callable[[str], None] | None = None,
    ) -> torch.Tensor | None:
        """Label vectors (len(seeds), cond_dim) for a conditional model, as `spritegan generate --traits`:

        - None: each seed's traits drawn from the training data's label rows (trait shares match the data);
        - 'none': the unconditional slot (None); 'random': rows drawn from the data with `seed`; 'new':
          trait sets no training image has, each trait drawn by its share (`traits.new_traits`);
        - text such as 'type=alien,earring': the asked traits, the unasked ones drawn from training rows that
          agree with them, per seed (`complete_labels`); `warn` hears about trait sets the data never shows;
        - a tensor: (cond_dim,) for every sprite, or one row per sprite.
        Unconditional models give None (and refuse trait text).
        """
        n = len(seeds)
        if isinstance(traits, torch.Tensor):
            vec = traits.float()
            return vec.expand(n, -1) if vec.dim() == 1 else vec
        where = self.source or "this model"
        if traits is None or traits.strip().lower() == "none":
            if traits is not None or not self.label_spec:
                return None
            table = self.label_table()
            return T.traits_for_seeds(list(seeds), table) if table is not None else None
        if not self.label_spec:
            raise SpriteganError(
                f"{where}: this model is unconditional, so --traits cannot be used (train with --conditional)"
            )
        table = self.label_table()
        gen = torch.Generator().manual_seed(seed)
        mode = traits.strip().lower()
        if mode in ("random", "new"):
            if table is None:
                raise SpriteganError(
                    f"{where}: --traits {mode} needs the training labels, which are not found"
                )
            if mode == "new":
                return T.new_traits(n, self.label_spec, table, gen)
            return T.random_traits(n, table, gen)
        vec, asked = T.parse_trait_request(traits, self.label_spec)
        return self.complete_labels(vec, asked, seeds, warn, table)

    def complete_labels(
        self,
        vec: torch.Tensor,
        asked: torch.Tensor,
        seeds: Sequence[int],
        warn: Callable[[str], None] | None = None,
        table: T.LabelTable | None = None,
    ) -> torch.Tensor:
        """(len(seeds), cond_dim) rows that keep the asked indices of `vec` and draw the unasked traits from
        the training rows that agree with them, each with its seed's own generator (so `type=zombie` gives
        zombies with the accessories zombies have, and seed s is the same sprite in any batch). Without the
        training labels the unasked traits stay off."""
        table = self.label_table() if table is None else table
        if warn is not None and table is not None and not T.seen_combination(vec, table):
            warn(
                f"{T.describe(vec, self.label_spec)} never occur together in the training data; "
                "expect weaker results"
            )
        return T.complete_traits_for_seeds(vec, list(seeds), self.label_spec, table, asked)

    def ws(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0
    ) -> torch.Tensor:
        """z (N, z_dim) -> truncated W latents broadcast per layer (N, num_ws, w_dim)."""
        G = self.generator
        require_style(G, "W space")
        z = z.to(self.device)
        if labels is not None:
            labels = labels.to(self.device)
        return G.truncate(broadcast(G.mapping(z, labels), G.num_ws), truncation)

    def render(self, ws: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """W latents (N, num_ws, w_dim) -> raw images in [-1, 1], `batch_size` at a time (None: all at once)."""
        ws = ws.to(self.device)
        step = batch_size or max(1, len(ws))
        return torch.cat([self.generator.synthesis(ws[i : i + step]) for i in range(0, len(ws), step)])

    def postprocess(self, images: torch.Tensor, snap: bool = True, palette: bool = False) -> torch.Tensor:
        """Raw images (float in [-1, 1]) or uint8 -> uint8 (N, C, H, W) on the CPU, alpha snapped to the
        data's levels and (palette=True) colours snapped to its palette."""
        if images.dtype != torch.uint8:
            images = to_uint8(images)
        images = images.cpu()
        if snap:
            images = snap_alpha(images, self.manifest.get("alpha_levels"))
        if palette:
            images = snap_palette(images, self.manifest.get("palette"))
        return images

    def synthesize(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0
    ) -> torch.Tensor:
        """Raw generator output in [-1, 1] (differentiable when called with grad enabled)."""
        z = z.to(self.device)
        if labels is not None:
            labels = labels.to(self.device)
        if self.is_style:  # truncation towards w_avg in W; other generators scale z
            return self.generator(z, labels, truncation=truncation)
        return self.generator(z * truncation, labels)

    @torch.inference_mode()
    def __call__(
        self,
        seeds: Sequence[int] | None = None,
        *,
        n: int | None = None,
        seed: int = 0,
        labels: torch.Tensor | None | _FromData = FROM_DATA,
        traits: str | None = None,
        truncation: float = 1.0,
        z: torch.Tensor | None = None,
        ws: torch.Tensor | None = None,
        snap: bool = True,
        palette: bool = False,
        batch_size: int = 256,
        output_type: OutputType = "pt",
        best_of: int | None = None,
    ) -> Any:
        """Sprites for seeds (default seed, seed+1, ..., seed+n-1), given z, or given W latents `ws`.

        `traits` (text such as 'type=alien,hat', 'random' or 'none'; see `labels_for`) or `labels`
        (N, cond_dim) condition a conditional model; with neither, each sprite's traits are drawn from the
        training data (per seed; given z, as for seeds seed, seed+1, ...), and traits='none' or labels=None
        ask for the unconditional slot.
        output_type: "pt" uint8 tensor (N, C, H, W); "np" uint8 array (N, H, W, C); "pil" list of images.
        The pipeline's `best_of` (or this call's, checked by the caller) applies to sprites named by seeds;
        given z or ws are drawn as they are.
        """
        if output_type not in ("pt", "np", "pil"):
            raise ValueError(f"output_type {output_type!r}: choose pt, np or pil")
        if ws is not None:
            images = self.postprocess(self.render(ws, batch_size), snap, palette)
            return _convert(images, output_type)
        by_seed = z is None
        if by_seed and seeds is None:
            seeds = range(seed, seed + (n if n is not None else 1))
        if seeds is not None:
            seeds = list(seeds)
        rows = seeds if seeds is not None else range(seed, seed + len(z))
        if traits is not None:
            labels = self.labels_for(traits, rows, seed)
        elif labels is FROM_DATA:
            labels = self.labels_for(None, rows)
        k = self.best_of if best_of is None else best_of
        if by_seed and k > 1:
            images = self._best_of(seeds, labels, truncation, batch_size, k)
        else:
            images = self._sample(self.latents(seeds) if by_seed else z, labels, truncation, batch_size)
        return _convert(self.postprocess(images, snap, palette), output_type)

    def _sample(
        self, z: torch.Tensor, labels: torch.Tensor | None, truncation: float, batch_size: int
    ) -> torch.Tensor:
        """z -> uint8 (N, C, H, W) images as G draws them, `batch_size` at a time."""
        outs = []
        for i in range(0, len(z), batch_size):
            lab = labels[i : i + batch_size] if labels is not None else None
            outs.append(to_uint8(self.synthesize(z[i : i + batch_size], lab, truncation)).cpu())
        return self._joined(outs)

    def _best_of(
        self, seeds: list[int], labels: torch.Tensor | None, truncation: float, batch_size: int, k: int
    ) -> torch.Tensor:
        """Each seed's best of `k` candidate latents, drawn with the refiner on: the sheet the reader doubts
        least, or without a reader the sprite the refiner changes in the fewest pixels (the first on ties)."""
        by_reader = sheet_reader(self.generator) is not None
        per = max(1, batch_size // k)  # seeds per batch: their k candidates fit one batch
        outs = []
        for i in range(0, len(seeds), per):
            part = seeds[i : i + per]
            z = candidate_latents(part, self.z_dim, k)
            lab = labels[i : i + per].repeat_interleave(k, dim=0) if labels is not None else None
            if by_reader:
                refined = self._sample(z, lab, truncation, batch_size)
                score = reader_doubt(self.generator, refined)
            else:
                with self._refiner_off():
                    raw = self._sample(z, lab, truncation, batch_size)
                refined = self._sample(z, lab, truncation, batch_size)
                score = refiner_edits(raw, refined)
            pick = score.view(len(part), k).argmin(1)  # the first of equal minima
            outs.append(refined.view(len(part), k, *refined.shape[1:])[torch.arange(len(part)), pick])
        return self._joined(outs)

    def _joined(self, outs: list[torch.Tensor]) -> torch.Tensor:
        """Batches of uint8 images as one tensor; no batches: an empty (0, C, 1, 1) one."""
        if not outs:
            return torch.zeros(0, self.model_config.channels, 1, 1, dtype=torch.uint8)
        return torch.cat(outs)

    @contextlib.contextmanager
    def _refiner_off(self) -> Iterator[None]:
        """Sample as if the run's refiner were off (its rounds set to 0), then put its rounds back."""
        head = self.generator.head
        rounds = head.refine_passes
        head.refine_passes = 0
        try:
            yield
        finally:
            head.refine_passes = rounds


def _convert(images: torch.Tensor, output_type: OutputType) -> Any:
    """uint8 (N, C, H, W) -> the asked output type."""
    if output_type == "pt":
        return images
    if output_type == "np":
        return to_hwc_numpy(images)
    return [to_pil(im) for im in images]
