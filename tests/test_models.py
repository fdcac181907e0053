import pytest
import torch

from spritegan.config import ModelConfig
from spritegan.errors import SpriteganError
from spritegan.models import build_discriminator, build_generator
from spritegan.models.dcgan import ConditionalNorm
from spritegan.models.layers import MinibatchStd, plan_resolution


@pytest.mark.parametrize("size", [8, 12, 16, 24, 25, 32, 48, 64, 80, 100, 128, 256])
def test_plan_resolution_covers_size(size):
    h0, w0, n, pad = plan_resolution((size, size))
    assert h0 * 2**n == size + pad and w0 * 2**n == size + pad
    assert 3 <= h0 <= 16 and n >= 2


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
@pytest.mark.parametrize("size", [16, 24, 32, 80])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_shapes_every_size_and_channel(arch, size, channels):
    cfg = ModelConfig(
        arch=arch,
        image_size=[size, size],
        channels=channels,
        z_dim=8,
        g_width=4,
        d_width=4,
        max_channels=16,
        mlp_hidden=[16, 16],
    )
    g, d = build_generator(cfg), build_discriminator(cfg)
    x = g(torch.randn(2, 8))
    assert x.shape == (2, channels, size, size)
    assert x.abs().max() <= 1.0
    assert d(x).shape == (2,)


def test_non_square_and_padded_sizes():
    cfg = ModelConfig(image_size=[24, 16], channels=4, z_dim=8, g_width=4, d_width=4, max_channels=16)
    assert build_generator(cfg)(torch.randn(3, 8)).shape == (3, 4, 24, 16)
    cfg = ModelConfig(image_size=[25, 25], channels=3, z_dim=8, g_width=4, d_width=4, max_channels=16)
    x = build_generator(cfg)(torch.randn(2, 8))
    assert x.shape == (2, 3, 25, 25)
    assert build_discriminator(cfg)(x).shape == (2,)


@pytest.mark.parametrize(
    "options",
    [
        {"g_upsample": "nearest", "d_norm": "spectral", "minibatch_std": True},
        {"g_norm": "none", "d_norm": "none", "init": "glorot", "d_dropout": 0.2},
    ],
)
def test_options_build_and_backprop(options):
    cfg = ModelConfig(
        image_size=[32, 32], channels=4, z_dim=8, g_width=4, d_width=4, max_channels=16, **options
    )
    g, d = build_generator(cfg), build_discriminator(cfg)
    d(g(torch.randn(4, 8))).sum().backward()
    assert all(p.grad is not None for p in g.parameters())


def test_conditional_labels_change_output_and_score():
    cfg = ModelConfig(
        image_size=[16, 16], channels=4, z_dim=8, g_width=4, d_width=4, max_channels=16, cond_dim=3
    )
    g, d = build_generator(cfg).eval(), build_discriminator(cfg)
    z = torch.randn(2, 8)
    a, b = torch.tensor([[1.0, 0, 0]] * 2), torch.tensor([[0, 1.0, 0]] * 2)
    assert not torch.allclose(g(z, a), g(z, b))
    x = g(z, a)
    assert not torch.allclose(d(x, a), d(x, b))


def test_free_slot_has_its_own_projection_in_d():
    """Rows with the all-zero label get D's free projection; labelled rows never see it."""
    base = dict(image_size=[16, 16], channels=4, z_dim=8, g_width=4, d_width=4, max_channels=16, cond_dim=3)
    torch.manual_seed(0)
    d = build_discriminator(ModelConfig(d_free_head=True, **base))
    x = torch.randn(4, 4, 16, 16)
    labels = torch.tensor([[1.0, 0, 0], [0, 0, 0], [0, 1.0, 1.0], [0, 0, 0]])
    before = d(x, labels).detach()
    assert float(d.free_project.abs().sum()) == 0  # starts as the plain unconditional score
    with torch.no_grad():
        d.free_project.normal_()
    after = d(x, labels).detach()
    free = torch.tensor([False, True, False, True])
    assert torch.equal(after[~free], before[~free]) and not torch.allclose(after[free], before[free])
    d(x, labels).sum().backward()
    assert d.free_project.grad is not None and d.free_project.grad.abs().sum() > 0
    plain = build_discriminator(ModelConfig(**base))  # off by default: the D of earlier runs
    assert plain.free_project is None and "free_project" not in plain.state_dict()


def test_conditional_batch_norm_reaches_every_block():
    base = dict(image_size=[16, 16], channels=4, z_dim=8, g_width=4, d_width=4, max_channels=16, cond_dim=3)
    torch.manual_seed(0)
    g = build_generator(ModelConfig(cond_mode="cbn", **base))
    norms = [m for m in g.modules() if isinstance(m, ConditionalNorm)]
    assert len(norms) == 1 and all(float(p.abs().sum()) == 0 for p in norms[0].parameters())
    assert not norms[0].norm.affine
    z, a, b = torch.randn(4, 8), torch.tensor([[1.0, 0, 0]] * 4), torch.tensor([[0, 1.0, 0]] * 4)
    g.eval()
    before = g(z, a)
    with torch.no_grad():
        norms[0].gain.weight.normal_()
    assert not torch.allclose(before, g(z, a))
    assert not torch.allclose(g(z, a), g(z, b))
    assert g(z).shape == (4, 4, 16, 16)
    g.train()
    g(z, a).sum().backward()
    assert norms[0].gain.weight.grad is not None and norms[0].gain.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="cond_mode"):
        build_generator(ModelConfig(cond_mode="film", **base))


def test_glorot_and_normal_init_differ():
    base = dict(image_size=[16, 16], channels=3, z_dim=8, g_width=4, d_width=4, max_channels=16)
    torch.manual_seed(0)
    w_normal = build_generator(ModelConfig(init="normal", **base)).project.weight
    torch.manual_seed(0)
    w_glorot = build_generator(ModelConfig(init="glorot", **base)).project.weight
    assert abs(w_normal.std().item() - 0.02) < 0.005
    assert not torch.allclose(w_normal, w_glorot)


def test_minibatch_std_appends_one_channel():
    x = torch.randn(8, 5, 4, 4)
    y = MinibatchStd(4)(x)
    assert y.shape == (8, 6, 4, 4)
    same = MinibatchStd(4)(torch.ones(8, 5, 4, 4))
    assert same[:, -1].abs().max() < 1e-3


@pytest.mark.parametrize("bad", [{"channels": 2}, {"image_size": [4, 4]}, {"arch": "vae"}])
def test_bad_model_config_is_clear(bad):
    with pytest.raises(SpriteganError):
        build_generator(ModelConfig(**bad))


def test_packed_discriminator_scores_packs_of_stacked_images():
    """model.d_pack (PacGAN): D reads m images stacked on the channels and gives one score per pack; a
    single image's feature maps are those of a pack of its copies."""
    cfg = ModelConfig(
        image_size=[16, 16], channels=4, d_width=4, max_channels=16, minibatch_std=True, d_pack=2
    )
    torch.manual_seed(0)
    D = build_discriminator(cfg)
    assert D.features[0].in_channels == 8
    x = torch.randn(6, 4, 16, 16)
    score = D(x)
    assert score.shape == (3,)
    packs = torch.cat([x[0::2], x[1::2]], dim=1)  # image 2k on channels 0-3, image 2k+1 on 4-7
    D.pack = 1
    assert torch.allclose(score, D(packs), atol=1e-6)
    D.pack = 2
    maps = D.feature_maps(x[:1])
    D.pack = 1
    assert torch.equal(maps[-1], D.feature_maps(x[:1].repeat(1, 2, 1, 1))[-1])
    D.pack = 2
    with pytest.raises(SpriteganError, match="a batch of 5 images does not split into packs"):
        D(x[:5])
    score.sum().backward()  # gradients reach every image of a pack
    with pytest.raises(
        SpriteganError, match="model.d_pack 2: packs of images are scored by the unconditional"
    ):
        build_discriminator(ModelConfig(arch="stylegan", d_pack=2))
    with pytest.raises(SpriteganError, match="with labels"):
        build_discriminator(ModelConfig(image_size=[16, 16], cond_dim=3, d_pack=2))
