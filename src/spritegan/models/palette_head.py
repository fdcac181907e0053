"""Palette-exact output heads: every generated pixel is one of the dataset's colours by construction.

`PaletteHead` (model.head=palette): the body emits E feature channels per pixel; logits over the K palette
colours are negative squared distances to K learned colour embeddings (a 1x1 projection: E*K multiply-adds
per pixel); the colour is the argmax, in training and in sampling. Gradients reach the logits through
softmax(logits / temperature) mixed over the palette (straight-through: the forward value is exactly the hard
colour). No per-pixel sampling: a feed-forward G's pixels are independent given z, so sampling them would
scatter the very specks this head removes.

`SnapHead` (model.head=snap, a baseline): the body emits an image; each pixel moves to the nearest palette
colour with a straight-through (identity) gradient.

`models/heads.py` wraps a generator body with one of these heads (or the palette-swap head).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from spritegan.models.colour_cap import capped_logits
from spritegan.models.despeckle import remove_specks
from spritegan.models.reader import SheetReader
from spritegan.models.refiner import PaletteRefiner, RefinerBase, SheetRefiner


class PaletteOutput(nn.Module):
    """What every palette-exact head shares: the palette, each colour's fixed code for D, and the sampling
    settings (neighbour agreement, speck removal). Subclasses add how a pixel's colour is chosen."""

    # the same on every rank: never averaged (train.distributed)
    constant_buffers = ("palette", "identity", "speck_sites")

    def __init__(
        self,
        colours: int,
        channels: int,
        temperature: float = 1.0,
        soft_training: bool = False,
        agree: float = 0.0,
        agree_steps: int = 3,
        tileable: bool = False,
        identity: int = 0,
        despeckle: int = 0,
        speck_sites: torch.Tensor | None = None,
        refiner: int = 0,
        refine_passes: int = 2,
        refiner_grid: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        # sampling only: see agreeing_choice, models/refiner.py and despeckle.remove_specks
        self.agree, self.agree_steps, self.tileable = agree, agree_steps, tileable
        self.despeckle = max(0, despeckle)
        self.refiner: RefinerBase | None = None
        if refiner > 0 and refiner_grid is not None:  # a posed G's sheets: frames stacked (SheetRefiner)
            self.refiner = SheetRefiner(colours, refiner, refiner_grid)
        elif refiner > 0:
            self.refiner = PaletteRefiner(colours, refiner, tileable)
        self.refine_passes = refine_passes
        self.reader: SheetReader | None = None  # a posed run's sheet reader, set by heads.palette_generator
        # colours one sprite may keep at sampling (0: any number); None: the head's own choices bound them
        # (a swap head's slots), so the refiner only picks among the colours a sprite already uses
        self.max_colours: int | None = None
        # (H, W) bool: where the data has small parts too, so G's stay there (from the config: not saved)
        self.register_buffer("speck_sites", speck_sites, persistent=False)
        if colours < 1:
            raise ValueError("a palette head needs at least one colour (model.palette_colors)")
        self.channels, self.temperature, self.soft_training = channels, temperature, soft_training
        self.register_buffer("palette", torch.zeros(colours, channels))  # model space, [-1, 1]
        self.register_buffer("confidence", torch.zeros(()), persistent=False)  # mean max-probability
        # a fixed code per colour (not saved: rebuilt the same from the sizes), see identity_channels
        self.register_buffer("identity", identity_codes(colours, identity), persistent=False)
        self._lookup: ColourLookup | None = None  # see learn_colours

    @torch.no_grad()
    def set_palette(self, palette_uint8: torch.Tensor) -> None:
        """Load the colours (uint8 (K, C))."""
        colours = palette_uint8.float().div(127.5).sub(1.0).to(self.palette.device)
        if colours.shape != self.palette.shape:
            raise ValueError(
                f"palette of shape {tuple(colours.shape)}, head expects {tuple(self.palette.shape)}"
            )
        self.palette.copy_(colours)

    def training_values(self) -> torch.Tensor:
        """What each colour contributes to G's training output, per channel: its colour, then its code for D
        when D reads codes (model.palette_identity)."""
        if self.training and self.identity.shape[1]:
            return torch.cat([self.palette, self.identity], dim=1)
        return self.palette

    def refine_rounds(self) -> int:
        """The refiner rounds sampling applies: 0 without a refiner or before it is trained."""
        return self.refine_passes if self.refiner is not None and self.refiner.trained() else 0

    def finish(self, index: torch.Tensor) -> torch.Tensor:
        """Sampled palette indices (N, H, W) cleaned up by the refiner (once trained), then with the specks
        the data never shows removed."""
        if self.refine_rounds():
            index = self.refiner.refine(index, self.refine_passes, self.max_colours)
        return remove_specks(index, self.palette, self.despeckle, self.tileable, self.speck_sites)

    def identity_channels(self, images: torch.Tensor) -> torch.Tensor:
        """Real images (N, C, H, W) in [-1, 1] with their colour codes appended (N, C + identity, H, W): what
        D sees of a real sprite when the training G's output carries its colours' codes. Each pixel takes
        the code of its nearest palette colour (exact for data of at most 256 colours)."""
        if not self.identity.shape[1]:
            return images
        if self._lookup is None:
            index = nearest_colours(images.float(), self.palette)
        else:
            index = self._lookup.index(images, self.palette)
        codes = self.identity[index].permute(0, 3, 1, 2)
        return torch.cat([images, codes.to(images.dtype)], dim=1)

    def learn_colours(self, images_uint8: torch.Tensor) -> None:
        """Remember the nearest palette entry of every colour in these uint8 (N, C, H, W) images, so
        identity_channels looks their pixels up instead of measuring distances to the whole palette (the
        trainer calls it once with the training set; colours it has not seen still take the slow path)."""
        self._lookup = ColourLookup(images_uint8) if self.identity.shape[1] else None


class PaletteHead(PaletteOutput):
    def __init__(
        self,
        embed_dim: int,
        colours: int,
        channels: int,
        temperature: float = 1.0,
        soft_training: bool = False,
        agree: float = 0.0,
        agree_steps: int = 3,
        sprite_prior: int = 0,
        tileable: bool = False,
        identity: int = 0,
        despeckle: int = 0,
        speck_sites: torch.Tensor | None = None,
        max_colours: int = 0,
        refiner: int = 0,
        refine_passes: int = 2,
        refiner_grid: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(
            colours,
            channels,
            temperature,
            soft_training,
            agree,
            agree_steps,
            tileable,
            identity,
            despeckle,
            speck_sites,
            refiner,
            refine_passes,
            refiner_grid,
        )
        self.max_colours = max(0, max_colours)  # sampling only: see capped_logits
        # train.colour_usage: each training forward keeps `usage`, the batch's mean colour probabilities
        self.track_usage = False
        self.usage: torch.Tensor | None = None
        self.keys = nn.Parameter(torch.zeros(colours, embed_dim))
        self.bias = nn.Parameter(torch.zeros(colours))
        self.log_scale = nn.Parameter(torch.tensor(2.0))  # sharpness of the distance logits, learned
        nn.init.normal_(self.keys[:, channels:], std=0.1)
        self.prior = SpritePrior(embed_dim, colours, sprite_prior) if sprite_prior > 0 else None

    @torch.no_grad()
    def set_palette(self, palette_uint8: torch.Tensor) -> None:
        """Load the colours (uint8 (K, C)); the first C embedding dims start at the colours themselves, so at
        initialisation the head picks the palette colour nearest to the body's first C channels."""
        super().set_palette(palette_uint8)
        self.keys[:, : self.channels].copy_(self.palette)

    def _affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The distance logits as one linear map: weight (K, E) = 2 scale keys, bias_k - scale ||key_k||^2."""
        scale = self.log_scale.exp()
        return (2 * scale) * self.keys, self.bias - scale * self.keys.square().sum(1)

    def _rows(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, E, H, W) fp32 features -> pixels as rows (N*H*W, E'), weight (K, E'), bias (K,): the logits
        are bias + pixels @ weight.T (E' > E with the per-sprite colour prior's extra columns)."""
        e = features.shape[1]
        # pixels as rows, colours along the contiguous last axis: argmax and softmax run along memory
        pixels = features.permute(0, 2, 3, 1).reshape(-1, e)
        weight, bias = self._affine()
        if self.prior is not None:  # per-sprite colour prior: extra columns of pixels and weight
            pixels, weight = self.prior.extend(features, pixels, weight)
        return pixels, weight, bias

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """(N, E, H, W) -> (N, K, H, W), for inspection; the forward pass works on (pixels, K) rows."""
        n, _, h, w = features.shape
        pixels, weight, bias = self._rows(features.float())
        rows = torch.addmm(bias, pixels, weight.t())
        return rows.reshape(n, h, w, -1).permute(0, 3, 1, 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        n, _, h, w = features.shape
        with torch.autocast(features.device.type, enabled=False):
            pixels, weight, bias = self._rows(features.float())
            if torch.is_grad_enabled() and (pixels.requires_grad or weight.requires_grad):
                soft = self.soft_training and self.training
                out, confidence = _StraightThroughChoice.apply(
                    pixels, weight, bias, self.training_values(), self.temperature, soft
                )
                self.confidence = confidence
                if self.track_usage:
                    self.usage = colour_usage(pixels, weight, bias, self.temperature, w)
            else:
                out = self.palette[self._sampled_index(pixels, weight, bias, (n, h, w))]  # exact colours
            return out.reshape(n, h, w, -1).permute(0, 3, 1, 2)

    def _sampled_index(self, pixels, weight, bias, shape: tuple[int, int, int]) -> torch.Tensor:
        """Palette indices (N, H, W) at sampling: the argmax, or the neighbour-agreeing choice, among each
        image's kept colours (capped_logits), then the specks the data never shows removed."""
        n, h, w = shape
        if self.agree <= 0 and not 0 < self.max_colours < len(self.palette):
            return self.finish(choose_colours(pixels, weight, bias).reshape(n, h, w))  # blockwise
        logits = torch.addmm(bias, pixels, weight.t()).reshape(n, h, w, -1).permute(0, 3, 1, 2)
        logits = capped_logits(logits, self.max_colours)
        if self.agree <= 0:
            return self.finish(logits.argmax(1))
        step = n if _tracing() else max(1, AGREE_ELEMENTS // logits[0].numel())
        index = torch.cat(
            [
                agreeing_choice(logits[i : i + step], self.agree, self.agree_steps, self.tileable)
                for i in range(0, n, step)
            ]
        )
        return self.finish(index)


USAGE_ROWS = 16384  # pixels of a batch that colour_usage averages over (a fixed stride through them)


def colour_usage(
    pixels: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, temperature: float, width: int
) -> torch.Tensor:
    """The mean over pixel rows of softmax(logits / T): how much of each colour a batch draws, differentiable.
    At most USAGE_ROWS rows, taken at a stride with no common factor with the image width, so every column
    of the sprites is sampled."""
    stride = max(1, len(pixels) // USAGE_ROWS)
    while stride > 1 and math.gcd(stride, width) != 1:
        stride += 1
    logits = torch.addmm(bias, pixels[::stride], weight.t()) / temperature
    return torch.softmax(logits, dim=1).mean(0)


def colour_code_channels(cfg) -> int:
    """How many colour-code channels D reads beside the image (model.palette_identity with a palette head)."""
    return cfg.palette_identity if cfg.head == "palette" else 0


def nearest_colours(images: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Index (N, H, W) of each pixel's nearest palette colour; images (N, C, H, W), palette (K, C)."""
    n, c, h, w = images.shape
    return nearest_rows(images.permute(0, 2, 3, 1).reshape(-1, c), palette).reshape(n, h, w)


class ColourLookup:
    """The nearest palette entry of each colour a data set uses, found once and then looked up by exact
    colour. The reals D sees each step are training images, whose colours are a fixed set; measuring every
    pixel's distance to all K palette colours each step cost 15-20% of a `sprite` step (docs/benchmarks.md)."""

    def __init__(self, images_uint8: torch.Tensor) -> None:
        c = images_uint8.shape[1]
        self.weights = torch.tensor([256**i for i in range(c)], dtype=torch.long)
        pixels = images_uint8.permute(0, 2, 3, 1).reshape(-1, c).long()
        self.keys, self.counts = torch.unique(pixels @ self.weights, return_counts=True)  # sorted
        levels = torch.stack([(self.keys // w) % 256 for w in self.weights], dim=1)
        self.colours = levels.float().div(127.5).sub(1.0)
        self.palette = torch.empty(0)  # the palette self.nearest was found for
        self.nearest = torch.empty(0, dtype=torch.long)

    def _match(self, palette: torch.Tensor) -> torch.Tensor:
        """The palette as a CPU float tensor, with each seen colour's nearest entry found for it once."""
        palette = palette.detach().float().cpu()
        if not torch.equal(palette, self.palette):  # first use, or a palette loaded since
            self.palette, self.nearest = palette.clone(), nearest_rows(self.colours, palette)
        return palette

    def shares(self, palette: torch.Tensor) -> torch.Tensor:
        """The share (K,) of the construction images' pixels whose nearest palette colour is each entry."""
        self._match(palette)
        shares = torch.zeros(len(palette), dtype=torch.float64).index_add_(
            0, self.nearest, self.counts.double()
        )
        return (shares / shares.sum()).float()

    def index(self, images: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
        """Palette index (N, H, W) of each pixel of images (N, C, H, W) in [-1, 1]: looked up for the
        colours seen at construction, measured for any other."""
        palette = self._match(palette)
        n, c, h, w = images.shape
        flat = images.detach().permute(0, 2, 3, 1).reshape(-1, c).cpu()
        level = flat.add(1.0).mul(127.5).round()
        exact = (level.div(127.5).sub(1.0) - flat).abs().amax(1) < 1e-5  # a uint8 colour in model space
        key = level.clamp(0, 255).long() @ self.weights
        at = torch.searchsorted(self.keys, key).clamp(max=len(self.keys) - 1)
        found = exact & (self.keys[at] == key)
        index = self.nearest[at]
        if not bool(found.all()):
            index[~found] = nearest_rows(flat[~found], palette)
        return index.reshape(n, h, w).to(images.device)


def nearest_rows(rows: torch.Tensor, palette: torch.Tensor, chunk: int = 1 << 16) -> torch.Tensor:
    """Index of each row's (M, C) nearest palette colour (K, C), a chunk of rows at a time."""
    return torch.cat(
        [torch.cdist(rows[i : i + chunk], palette).argmin(1) for i in range(0, len(rows), chunk)]
        or [torch.empty(0, dtype=torch.long)]
    )


def colour_shares(images_uint8: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """The share of the pixels of uint8 images (N, C, H, W) whose nearest palette colour (K, C; [-1, 1]) is
    each entry (K,): each distinct colour is matched once and counted by how often it occurs."""
    return ColourLookup(images_uint8).shares(palette)


def identity_codes(colours: int, dims: int) -> torch.Tensor:
    """(colours, dims) fixed codes, one per palette entry: seeded Gaussian rows scaled to norm sqrt(dims)/2,
    so each channel has the spread of a colour channel in [-1, 1] and different colours are far apart."""
    if dims <= 0:
        return torch.zeros(colours, 0)
    codes = torch.randn(colours, dims, generator=torch.Generator().manual_seed(colours * 1000 + dims))
    return codes * (0.5 * dims**0.5 / codes.norm(dim=1, keepdim=True))


class SpritePrior(nn.Module):
    """A per-sprite log-prior over the palette, added to every pixel's logits (model.palette_sprite_prior).

    The per-pixel head picks each pixel's colour alone, so a region whose features sit between two colours
    comes out patchy. This adds V u(n) to the logits of every pixel of sprite n, where u(n) (D values) is an
    MLP of the sprite's pooled features (mean and max): near-tied pixels lean towards the colours the
    sprite as a whole uses. The MLP's last layer starts at zero, so training starts from the plain head.
    Implemented as D extra feature columns (u broadcast over pixels) and D extra weight columns (V).
    """

    def __init__(self, embed_dim: int, colours: int, dims: int, hidden: int = 64) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * embed_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, dims))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)
        self.weight = nn.Parameter(torch.randn(colours, dims) * 0.1)  # V (K, D)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, E, H, W) -> u (N, D)."""
        return self.mlp(torch.cat([features.mean((2, 3)), features.amax((2, 3))], dim=1))

    def extend(
        self, features: torch.Tensor, pixels: torch.Tensor, weight: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel rows (N*H*W, E) and weight (K, E) with the prior's columns appended: rows (N*H*W, E+D)."""
        n, _, h, w = features.shape
        u = self(features)
        rows = u.repeat_interleave(h * w, dim=0)
        return torch.cat([pixels, rows], dim=1), torch.cat([weight, self.weight], dim=1)


# Logits handled at a time by the neighbour-agreement choice (each pass makes a few temporaries this size).
AGREE_ELEMENTS = 1 << 22


def _tracing() -> bool:
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


# Rows of the (pixels, K) logit block handled at a time on a CPU: 1,024 x 224 fp32 logits are under 1 MB,
# so each block stays in the core's cache between its matmul, softmax and backward products.
CPU_ROWS = 1024
# The soft forward keeps its softmax probabilities for the backward when they take at most this many bytes
# (the punks: 37k pixels x 224 colours, 33 MB; the step ran 1.07x faster); larger batches recompute them
# block by block (a 96x128 batch's 201 MB made some steps 1.3x slower, not faster).
KEEP_PROBS_BYTES = 64 << 20
# K is padded to a multiple of this: fp32 matmuls whose output width is not a multiple of 16 (K = 222 for
# the punks) ran 2-3x slower on the Zen 5 test machine (MKL sgemm), and argmax/softmax rows align too.
K_MULTIPLE = 16


def _padded(weight: torch.Tensor, bias: torch.Tensor, palette: torch.Tensor | None = None):
    """weight, bias (and palette) with K padded to a multiple of K_MULTIPLE by colours no logit can choose
    (bias -inf: zero probability, never the argmax)."""
    pad = (-weight.shape[0]) % K_MULTIPLE
    if pad == 0:
        return weight, bias, palette
    return (
        torch.cat([weight, weight.new_zeros(pad, weight.shape[1])]),
        torch.cat([bias, bias.new_full((pad,), float("-inf"))]),
        None if palette is None else torch.cat([palette, palette.new_zeros(pad, palette.shape[1])]),
    )


def _block_rows(pixels: torch.Tensor) -> int:
    return CPU_ROWS if pixels.device.type == "cpu" else max(1, len(pixels))


def choose_colours(pixels: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The argmax colour index of each pixel row (M, E) under logits pixels @ weight.T + bias, block by block
    (one block when traced for export: a traced loop would fix the batch size)."""
    if _tracing():
        return torch.addmm(bias, pixels, weight.t()).argmax(1)
    weight, bias, _ = _padded(weight, bias)
    return _argmax_blocks(pixels, weight, bias)


def _argmax_blocks(pixels: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """choose_colours on an already padded weight and bias."""
    index = torch.empty(len(pixels), dtype=torch.long, device=pixels.device)
    rows = _block_rows(pixels)
    for start in range(0, len(pixels), rows):
        index[start : start + rows] = torch.addmm(bias, pixels[start : start + rows], weight.t()).argmax(1)
    return index


class _StraightThroughChoice(torch.autograd.Function):
    """Forward: the palette colour of the argmax logit (or, with `soft`, the softmax(logits / T) mixture of
    palette colours itself). Backward: as if the output were that mixture.

    The head runs on every pixel, so its cost is set by how often a (pixels, K) block is read. Nothing of that
    size is kept for the backward pass: it recomputes the logits of a block of rows (a cheap E-wide matmul)
    while the block is in cache, then with q = softmax(logits / T), soft colour s_m = sum_k q_mk p_k and
    a_mk = q_mk (g_m . p_k - g_m . s_m) / T (the softmax backward of the colour mixture):
      d x_m = sum_k a_mk w_k,   d w_k = sum_m a_mk x_m,   d b_k = sum_m a_mk.
    """

    @staticmethod
    def forward(ctx, pixels, weight, bias, palette, temperature, soft=False):
        # fp32 throughout: argmax and softmax over bf16 rows run several times slower on CPU than over fp32
        k = len(palette)
        weight_p, bias_p, palette_p = _padded(weight, bias, palette)
        ctx.probs = None
        if soft:
            keep = len(pixels) * len(weight_p) * pixels.element_size() <= KEEP_PROBS_BYTES
            ctx.probs = pixels.new_empty(len(pixels), len(weight_p)) if keep else None
            out = _mixture_blocks(pixels, weight_p, bias_p, palette_p, temperature, ctx.probs)
        else:
            out = palette[_argmax_blocks(pixels, weight_p, bias_p)]  # (M, C), exact colours
        sample = pixels[:: max(1, len(pixels) // 4096)]
        logits = torch.addmm(bias_p, sample, weight_p.t()) / temperature
        confidence = torch.softmax(logits, dim=1).amax(1).mean()
        # the soft colours are the output itself: kept, the backward skips one (pixels, K) product per block
        ctx.save_for_backward(pixels, weight_p, bias_p, palette_p, out if soft else None)
        ctx.temperature, ctx.k = temperature, k
        ctx.mark_non_differentiable(confidence)
        return out, confidence

    @staticmethod
    def backward(ctx, grad_out, _grad_confidence):
        pixels, weight, bias, palette, soft_colours = ctx.saved_tensors
        t = ctx.temperature
        grad_pixels = torch.empty_like(pixels)
        grad_weight = torch.zeros_like(weight)
        grad_bias = torch.zeros_like(bias)
        rows = _block_rows(pixels)
        for start in range(0, len(pixels), rows):
            x, g = pixels[start : start + rows], grad_out[start : start + rows]
            if ctx.probs is not None:
                q = ctx.probs[start : start + rows]
            else:
                logits = torch.addmm(bias, x, weight.t())
                if t != 1.0:
                    logits.div_(t)
                q = torch.softmax(logits, dim=1)
            s = soft_colours[start : start + rows] if soft_colours is not None else q @ palette
            dot = (s * g).sum(1, keepdim=True)  # g_m . s_m
            a = torch.addmm(dot, g, palette.t(), beta=-1).mul_(q)  # q_mk (g_m . p_k - g_m . s_m)
            torch.mm(a, weight, out=grad_pixels[start : start + rows])
            grad_weight.addmm_(a.t(), x)
            grad_bias.add_(a.sum(0))
        k, ctx.probs = ctx.k, None
        if t != 1.0:  # in place: a copy of the (pixels, E) gradient is a large fresh tensor
            grad_pixels.div_(t)
            grad_weight.div_(t)
            grad_bias.div_(t)
        return grad_pixels, grad_weight[:k], grad_bias[:k], None, None, None


def _mixture_blocks(
    pixels: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    palette: torch.Tensor,
    temperature: float,
    probs: torch.Tensor | None = None,
) -> torch.Tensor:
    """The softmax(logits / T) mixture of palette colours of each pixel row, block by block (padded inputs);
    the probabilities are also written into `probs` (pixels, K) when it is given."""
    out = pixels.new_empty(len(pixels), palette.shape[1])
    rows = _block_rows(pixels)
    for start in range(0, len(pixels), rows):
        logits = torch.addmm(bias, pixels[start : start + rows], weight.t())
        if temperature != 1.0:
            logits.div_(temperature)
        if probs is not None:  # written in place: a copy of the block cost half a softmax
            q = torch.ops.aten._softmax.out(logits, 1, False, out=probs[start : start + rows])
        else:
            q = torch.softmax(logits, dim=1)
        torch.mm(q, palette, out=out[start : start + rows])
    return out


class SnapHead(nn.Module):
    """Nearest-palette snap of an image with a straight-through gradient (the baseline to beat)."""

    constant_buffers = ("palette",)

    def __init__(self, colours: int, channels: int) -> None:
        super().__init__()
        self.register_buffer("palette", torch.zeros(colours, channels))

    @torch.no_grad()
    def set_palette(self, palette_uint8: torch.Tensor) -> None:
        self.palette.copy_(palette_uint8.float().div(127.5).sub(1.0).to(self.palette.device))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        with torch.autocast(image.device.type, enabled=False):
            image = image.float()
            hard = self.palette[nearest_colours(image, self.palette)].permute(0, 3, 1, 2)
            return image + (hard - image).detach() if image.requires_grad else hard


def agreeing_choice(
    logits: torch.Tensor, strength: float, steps: int = 3, wrap: bool = False
) -> torch.Tensor:
    """Colour indices (N, H, W) from logits (N, K, H, W) that favour agreeing with the 4 neighbours.

    A Potts-model MAP estimate by iterated conditional modes (Besag 1986): start at the argmax, then
    `steps` times give each pixel the colour maximising log softmax(logits) + strength * (number of its 4
    neighbours with that colour). Lone pixels the head was unsure of join their surroundings; confident
    single pixels (eyes, outline corners) stay when their log-probability margin exceeds the bonus.
    strength 0 is the plain argmax. `wrap`: the image is a tile, so edge pixels' neighbours are across the
    opposite edge (a tileable G stays a torus).
    """
    index = logits.argmax(1)
    if strength <= 0 or steps <= 0:
        return index
    unary = torch.log_softmax(logits.float(), dim=1)
    colours = torch.arange(logits.shape[1], device=logits.device).view(1, -1, 1, 1)
    tracing = _tracing()
    for _ in range(steps):
        if wrap:  # (N, 1, H+2, W+2): one row and column from the opposite edge on each side
            padded = torch.cat([index[:, -1:], index, index[:, :1]], dim=1)
            padded = torch.cat([padded[:, :, -1:], padded, padded[:, :, :1]], dim=2).unsqueeze(1)
        else:
            padded = torch.nn.functional.pad(index, (1, 1, 1, 1), value=-1).unsqueeze(1)
        agree = (
            (padded[..., :-2, 1:-1] == colours).to(unary.dtype)
            + (padded[..., 2:, 1:-1] == colours).to(unary.dtype)
            + (padded[..., 1:-1, :-2] == colours).to(unary.dtype)
            + (padded[..., 1:-1, 2:] == colours).to(unary.dtype)
        )
        new = (unary + strength * agree).argmax(1)
        if not tracing and torch.equal(new, index):
            break
        index = new
    return index
