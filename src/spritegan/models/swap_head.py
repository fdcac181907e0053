"""A palette-swap head: each image picks a few palette colours, each pixel one of those slots.

Game characters are drawn in a handful of colours, and a variant is a palette swap: the same drawing with
its slots recoloured. `SwapPaletteHead` (model.palette_slots = S > 0) builds an image that way. Per pixel
the body's features give logits over S slots (a 1x1 projection); per image, an MLP of the generator's input
(z and the labels) gives each slot logits over the K dataset colours. (A first version read the features
pooled over the image instead: the spatial means carry little of the identity, and on the walkers every
character came out in one colour scheme within 2,000 steps.) The pixel's colour is the colour of
its slot: both choices are argmaxes, so every pixel is a dataset colour and an image uses at most S colours.
For a character sheet (model.arch=posed) the image is the sheet, so its 16 frames share one slot table:
a frame can put the shirt in another slot, but a slot cannot change colour between frames.

Gradients flow through the mixture: with q = softmax(slot logits / T) per pixel and r_s = softmax(colour
logits of slot s / T) per image, the soft colour is sum_s q_s sum_k r_sk p_k (straight-through for the hard
forward, or the forward itself with model.palette_train_mix). The per-pixel cost is S-wide, not K-wide.
"""

from __future__ import annotations

import torch
from torch import nn

from spritegan.models.palette_head import PaletteOutput, agreeing_choice

# colour logit margin of each slot's starting colour (softmax puts about 0.95 of the slot on it with K = 48)
START_MARGIN = 6.0


class SwapPaletteHead(PaletteOutput):
    takes_latent = True  # forward(features, latent): the generator passes its input (see models/heads.py)

    def __init__(
        self,
        embed_dim: int,
        colours: int,
        channels: int,
        slots: int,
        temperature: float = 1.0,
        soft_training: bool = False,
        agree: float = 0.0,
        agree_steps: int = 3,
        tileable: bool = False,
        identity: int = 0,
        despeckle: int = 0,
        speck_sites: torch.Tensor | None = None,
        latent_dim: int = 64,
        hidden: int = 256,
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
        if slots < 1:
            raise ValueError("a palette-swap head needs at least one slot (model.palette_slots)")
        self.slots, self.colours, self.latent_dim = slots, colours, latent_dim
        self.slot_logits = nn.Conv2d(embed_dim, slots, 1)
        self.log_scale = nn.Parameter(torch.tensor(2.0))  # sharpness of the slot logits, learned
        self.table = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, slots * colours)
        )
        # slots start sure of different colours (slot s of colour s, cycling), the same for every image, so
        # the first mixtures are of a few flat colours, not the palette's mean
        nn.init.normal_(self.table[2].weight, std=0.01)
        with torch.no_grad():
            start = torch.zeros(slots, colours)
            start[torch.arange(slots), torch.arange(slots) % colours] = START_MARGIN
            self.table[2].bias.copy_(start.flatten())

    def logits(self, features: torch.Tensor, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (N, E, H, W) and the images' latents (N, latent_dim) -> slot logits (N, S, H, W) and
        each image's colour logits per slot (N, S, K)."""
        slot_logits = self.slot_logits(features) * self.log_scale.exp()
        return slot_logits, self.table(latent).view(-1, self.slots, self.colours)

    def forward(self, features: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        with torch.autocast(features.device.type, enabled=False):
            slot_logits, colour_logits = self.logits(features.float(), latent.float())
            if torch.is_grad_enabled() and (features.requires_grad or self.slot_logits.weight.requires_grad):
                return self._trained(slot_logits, colour_logits)
            return self.palette[self.sampled_index(slot_logits, colour_logits)].permute(0, 3, 1, 2)

    def _trained(self, slot_logits: torch.Tensor, colour_logits: torch.Tensor) -> torch.Tensor:
        """The training output: the soft mixture (palette_train_mix) or the hard colours with its gradient.
        With colour codes (model.palette_identity) each pixel carries its colour's code for D."""
        values = self.training_values()
        t = self.temperature
        q = torch.softmax(slot_logits / t, dim=1)  # (N, S, H, W)
        r = torch.softmax(colour_logits / t, dim=2)  # (N, S, K)
        self.confidence = q.detach().amax(1).mean()
        soft = torch.einsum("nshw,nsc->nchw", q, r @ values)
        if self.soft_training and self.training:
            return soft
        hard = values[slot_colours(slot_logits.argmax(1), colour_logits)].permute(0, 3, 1, 2)
        return soft + (hard - soft).detach()

    def sampled_index(self, slot_logits: torch.Tensor, colour_logits: torch.Tensor) -> torch.Tensor:
        """Palette indices (N, H, W) at sampling: each pixel's slot (the argmax, or the neighbour-agreeing
        choice over slots), its colour, then the specks the data never shows removed."""
        slots = agreeing_choice(slot_logits, self.agree, self.agree_steps, self.tileable)
        return self.finish(slot_colours(slots, colour_logits))


def slot_colours(slots: torch.Tensor, colour_logits: torch.Tensor) -> torch.Tensor:
    """Palette index (N, H, W) of each pixel: the argmax colour of its slot. slots (N, H, W), colour logits
    (N, S, K)."""
    table = colour_logits.argmax(2)  # (N, S)
    return torch.gather(table, 1, slots.flatten(1)).view_as(slots)
