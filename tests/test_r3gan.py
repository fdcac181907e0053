"""The R3GAN-style recipe: model shapes and init, the relativistic pairing loss, R2, schedules, the preset."""

import math

import pytest
import torch

from spritegan.config import ModelConfig, build_config
from spritegan.errors import SpriteganError
from spritegan.models import build_discriminator, build_generator
from spritegan.train.losses import d_loss, g_loss, r2_penalty
from spritegan.train.schedules import cosine_progress, schedule_value


def _cfg(size, channels, **kw):
    base = dict(arch="r3gan", image_size=list(size), channels=channels, z_dim=8, g_width=4, d_width=4)
    return ModelConfig(**{**base, "max_channels": 16, **kw})


@pytest.mark.parametrize("size", [(24, 24), (32, 32), (16, 40)])
@pytest.mark.parametrize("channels", [4, 3, 1])
def test_shapes_for_sprite_sizes_and_modes(size, channels):
    torch.manual_seed(0)
    cfg = _cfg(size, channels)
    g, d = build_generator(cfg), build_discriminator(cfg)
    x = g(torch.randn(3, 8))
    assert x.shape == (3, channels, *size)
    assert x.abs().max() <= 1.0
    score, logits = d(x, with_logits=True)
    assert score.shape == (3,) and logits is None


def test_residual_branches_start_at_zero_and_nothing_is_normalised():
    cfg = _cfg((24, 24), 4, r3_blocks=2)
    for net in (build_generator(cfg), build_discriminator(cfg)):
        blocks = [m for m in net.modules() if m.__class__.__name__ == "ResidualBlock"]
        assert len(blocks) == 8  # 4 resolutions (3, 6, 12, 24 px) x 2 blocks
        assert all(b.project.weight.abs().sum() == 0 for b in blocks)
        x = torch.randn(2, blocks[0].expand.in_channels, 5, 5)
        assert torch.equal(blocks[0](x), x)  # every block is the identity at initialisation
        assert not any(isinstance(m, torch.nn.modules.batchnorm._NormBase) for m in net.modules())
    # fix-up scaling: the inner convs' std is He's times L^(-1/4), L = 8 residual blocks
    block = blocks[-1]
    fan_in = block.expand.weight[0].numel()
    expected = math.sqrt(2 / (1 + 0.2**2)) / math.sqrt(fan_in) * 8**-0.25
    assert abs(block.expand.weight.std().item() / expected - 1) < 0.3


def test_conditional_labels_reach_g_and_d():
    torch.manual_seed(0)
    cfg = _cfg((24, 24), 4, cond_dim=3, cond_embed=4, cond_aux=True)
    g, d = build_generator(cfg), build_discriminator(cfg)
    # zero-initialised residual branches pass the basis through; perturb them so labels show at the output
    with torch.no_grad():
        for p in g.parameters():
            p.add_(0.1 * torch.randn_like(p))
    z = torch.randn(2, 8)
    a, b = torch.eye(3)[[0, 0]], torch.eye(3)[[1, 1]]
    assert not torch.allclose(g(z, a), g(z, b))
    x = g(z, a)
    score_a, logits = d(x, a, with_logits=True)
    assert logits.shape == (2, 3)
    with torch.no_grad():
        d.project.weight.normal_()
    assert not torch.allclose(d(x, a), d(x, b))


def test_bad_r3_settings_are_one_line_errors():
    with pytest.raises(SpriteganError, match="r3_upsample"):
        build_config("r3gan", {"model.r3_upsample": "bicubic"})
    with pytest.raises(ValueError, match="r3_blocks"):
        build_generator(_cfg((24, 24), 4, r3_blocks=0))


def test_rpgan_losses_by_hand():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 3.0])
    # D: mean softplus(-(real - fake)) = mean(log(1 + e^-1), log(1 + e^3))
    expected_d = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(3.0))) / 2
    assert math.isclose(d_loss(real, fake, "rpgan").item(), expected_d, rel_tol=1e-6)
    # G: mean softplus(-(fake - real)) = mean(log(1 + e^1), log(1 + e^-3))
    expected_g = (math.log1p(math.exp(1.0)) + math.log1p(math.exp(-3.0))) / 2
    assert math.isclose(g_loss(fake, "rpgan", real).item(), expected_g, rel_tol=1e-6)
    # equal scores: log 2 for both; a flip swaps the pair's roles
    assert math.isclose(d_loss(real, real, "rpgan").item(), math.log(2), rel_tol=1e-6)
    flipped = d_loss(real, fake, "rpgan", flip=torch.tensor([True, False])).item()
    assert math.isclose(flipped, (math.log1p(math.exp(1.0)) + math.log1p(math.exp(3.0))) / 2, rel_tol=1e-6)


def test_rpgan_generator_gets_no_gradient_through_real_scores_and_needs_them():
    fake = torch.tensor([0.5, -1.0], requires_grad=True)
    real = torch.tensor([1.0, 2.0], requires_grad=True)
    g_loss(fake, "rpgan", real).backward()
    assert real.grad is None and fake.grad is not None
    # d/dfake mean softplus(real - fake) = -sigmoid(real - fake) / n
    assert torch.allclose(fake.grad, -torch.sigmoid(torch.tensor([0.5, 3.0])) / 2)
    with pytest.raises(ValueError, match="needs D's scores"):
        g_loss(fake, "rpgan")
    with pytest.raises(ValueError, match="pairs scores"):
        d_loss(torch.zeros(3), torch.zeros(2), "rpgan")


def test_r2_penalty_is_the_squared_gradient_norm_on_fakes():
    torch.manual_seed(0)
    w = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    fake = torch.randn(4, 2, 2, requires_grad=True)
    scores = (fake * w).flatten(1).sum(1) + (fake**2).flatten(1).sum(1)  # grad: w + 2 x
    expected = (w + 2 * fake).square().flatten(1).sum(1).mean()
    penalty = r2_penalty(scores, fake)
    assert torch.allclose(penalty, expected)
    # it is differentiable (double backward): d/dfake of mean |w + 2x|^2 = 4 (w + 2x) / n
    (grad,) = torch.autograd.grad(penalty, fake)
    assert torch.allclose(grad, 4 * (w + 2 * fake.detach()) / 4)


def test_cosine_schedule_values():
    assert schedule_value(1.0, 0.0, 0, 100) == 1.0
    assert math.isclose(schedule_value(1.0, 0.0, 50, 100), 0.5)
    assert math.isclose(schedule_value(2.0, 4.0, 25, 100), 2.0 + 2.0 * (1 - math.cos(math.pi / 4)) / 2)
    assert schedule_value(1.0, 0.25, 100, 100) == 0.25
    assert schedule_value(1.0, 0.25, 1000, 100) == 0.25  # holds the end value after the horizon
    assert schedule_value(3.0, 0.0, 50, 0) == 3.0  # no horizon: no schedule
    assert cosine_progress(-5, 10) == 0.0 and cosine_progress(5, 10) == pytest.approx(0.5)


def test_trainer_applies_the_schedules(tmp_path):
    from spritegan.data.dataset import open_from_config
    from spritegan.train.ema import ema_beta
    from spritegan.train.loop import Trainer, fit_model_to_data

    cfg = build_config("r3gan", {"data.source": "builtin:sprites:16", "train.batch_size": 4})
    cfg.train.schedule_kimg = 0.008  # 8 images: 2 steps of 4
    cfg.train.threads = 1
    data = open_from_config(cfg.data)
    fit_model_to_data(cfg, data, False)
    tr = Trainer(cfg, data, tmp_path)
    assert tr.gamma_now(0.2) == pytest.approx(0.2)
    first = tr.train_step()
    assert first["augment_p"].item() == 0.0 and tr.beta == 0.0
    assert tr.opt_g.param_groups[0]["lr"] == cfg.train.lr_g
    assert tr.gamma_now(0.2) == pytest.approx(0.2 * (1 + 0.1) / 2)  # halfway: the cosine's midpoint
    assert "r2" in first and first["r2"].item() > 0
    tr.train_step()
    tr.train_step()  # at and after the horizon: the end values
    t = cfg.train
    assert tr.opt_d.param_groups[0]["lr"] == pytest.approx(t.lr_d * t.schedule_lr_end)
    assert tr.ada_p == pytest.approx(t.schedule_aug_end)
    assert tr.beta == pytest.approx(ema_beta(4, t.ema_half_life_kimg))
    assert tr.gamma_now(t.r1_gamma) == pytest.approx(t.r1_gamma * t.schedule_gamma_end)


def test_schedules_setting_picks_what_follows_the_cosine(tmp_path):
    from spritegan.data.dataset import open_from_config
    from spritegan.errors import SpriteganError
    from spritegan.train.ema import ema_beta
    from spritegan.train.loop import Trainer, fit_model_to_data

    over = {"data.source": "builtin:sprites:16", "train.batch_size": 4, "train.schedule_kimg": 0.008}
    cfg = build_config(
        "sprite", {**over, "train.schedules": "lr", "train.threads": 1, "train.diffaug": "translation"}
    )
    assert cfg.train.schedules == ["lr"]
    data = open_from_config(cfg.data)
    fit_model_to_data(cfg, data, False)
    tr = Trainer(cfg, data, tmp_path)
    for _ in range(3):
        tr.train_step()
    t = cfg.train
    assert tr.opt_g.param_groups[0]["lr"] == pytest.approx(t.lr_g * t.schedule_lr_end)  # lr followed it
    assert tr.ada_p == 1.0 and tr.beta == pytest.approx(ema_beta(4, t.ema_half_life_kimg))  # the rest did not
    assert tr.gamma_now(t.r1_gamma) == t.r1_gamma
    with pytest.raises(SpriteganError, match="train.schedules: unknown value 'momentum'"):
        build_config("sprite", {"train.schedules": "lr,momentum"})


def test_preset_trains_via_the_cli_and_generates(tmp_path):
    from spritegan.cli import main
    from spritegan.generate.pipeline import SpritePipeline

    run = tmp_path / "r3"
    argv = ["train", "--data", "builtin:sprites", "--preset", "r3gan", "--max-steps", "3", "--out", str(run)]
    assert main([*argv, "--no-progress", "--set", "train.threads=1"]) == 0
    assert (run / "samples" / "step-000003.png").exists()
    pipe = SpritePipeline.from_run(run)
    assert pipe.model_config.arch == "r3gan"
    sprites = pipe(n=4)
    assert sprites.shape == (4, 4, 32, 32) and sprites.dtype == torch.uint8
    out = tmp_path / "gen"
    assert main(["generate", str(run), "-n", "4", "--seed", "0", "--out", str(out)]) == 0
    assert (out / "sheet.png").exists()
