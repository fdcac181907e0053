"""The reference: a plain PyTorch 64x64 DCGAN (Radford et al. 2016), written from the paper's description.

G: z (nz x 1 x 1) -> transposed convs 1->4->8->16->32->64 with 8/4/2/1 x ngf filters, batch norm and ReLU,
tanh out. D: strided 4x4 convs 64->32->16->8->4 with 1/2/4/8 x ndf filters, batch norm after all but the
first, LeakyReLU 0.2, a 4x4 conv to one logit. N(0, 0.02) init, Adam 2e-4 with betas (0.5, 0.999), BCE.
No spritegan code is used here, so it measures what a textbook implementation gets from the same machine.
"""

from __future__ import annotations

import torch
from torch import nn

NZ, NGF, NDF = 100, 64, 64


def weights_init(m: nn.Module) -> None:
    """Conv weights N(0, 0.02); batch-norm scale N(1, 0.02) and shift 0."""
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (N, nz, 1, 1) -> image (N, nc, 64, 64) in [-1, 1]."""

    def __init__(self, nz: int = NZ, ngf: int = NGF, nc: int = 4) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    """image (N, nc, 64, 64) -> logit (N,)."""

    def __init__(self, ndf: int = NDF, nc: int = 4) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


class ReferenceDCGAN:
    """Both nets, their Adam optimizers and one training step on uint8 images kept in memory."""

    def __init__(
        self,
        images: torch.Tensor,
        batch_size: int = 128,
        device: str | torch.device = "cpu",
        seed: int = 0,
        channels_last: bool = False,
        amp: bool = False,
    ) -> None:
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.images, self.batch_size = images, batch_size
        nc = int(images.shape[1])
        self.G = Generator(nc=nc).to(self.device)
        self.D = Discriminator(nc=nc).to(self.device)
        self.G.apply(weights_init)
        self.D.apply(weights_init)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.amp = amp and self.device.type == "cuda"
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.criterion = nn.BCEWithLogitsLoss()
        self.gen = torch.Generator().manual_seed(seed)

    def real_batch(self) -> torch.Tensor:
        """A random batch of reals as float in [-1, 1] on the device."""
        idx = torch.randint(len(self.images), (self.batch_size,), generator=self.gen)
        x = self.images[idx].to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        return x.contiguous(memory_format=self.memory_format)

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, NZ, 1, 1, generator=self.gen).to(self.device)

    def train_step(self) -> tuple[float, float]:
        """One D update on a real and a fake batch, then one G update (non-saturating BCE)."""
        real = self.real_batch()
        n = len(real)
        ones = torch.ones(n, device=self.device)
        zeros = torch.zeros(n, device=self.device)
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp):
            fake = self.G(self.noise(n))
            loss_d = self.criterion(self.D(real).float(), ones) + self.criterion(
                self.D(fake.detach()).float(), zeros
            )
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp):
            loss_g = self.criterion(self.D(fake).float(), ones)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return loss_d.detach(), loss_g.detach()

    @torch.inference_mode()
    def generate(self, n: int, batch_size: int = 256) -> torch.Tensor:
        """n uint8 images (N, C, 64, 64) from the generator in eval mode."""
        self.G.eval()
        out = []
        for i in range(0, n, batch_size):
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp):
                x = self.G(self.noise(min(batch_size, n - i)))
            out.append(x.float().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8).cpu())
        self.G.train()
        return torch.cat(out)
