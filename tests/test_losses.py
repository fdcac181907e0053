import math

import torch

from spritegan.train.ema import ema_beta, update_ema
from spritegan.train.losses import d_loss, frame_drift, g_loss, label_classification_loss, r1_penalty


def test_bce_matches_closed_form():
    real, fake = torch.tensor([0.0]), torch.tensor([0.0])
    assert math.isclose(d_loss(real, fake, "bce").item(), 2 * math.log(2), rel_tol=1e-6)
    smoothed = d_loss(torch.tensor([2.0]), torch.tensor([-2.0]), "bce", real_label=0.9).item()
    p = 1 / (1 + math.exp(-2.0))
    expected = -(0.9 * math.log(p) + 0.1 * math.log(1 - p)) - math.log(1 - 1 / (1 + math.exp(2.0)))
    assert math.isclose(smoothed, expected, rel_tol=1e-5)


def test_label_flip_swaps_targets():
    real, fake = torch.tensor([3.0, 3.0]), torch.tensor([-3.0, -3.0])
    flipped = d_loss(real, fake, "ns", flip=torch.tensor([True, True]))
    swapped = d_loss(fake, real, "ns")
    assert torch.allclose(flipped, swapped)


def test_hinge_and_generator_losses():
    assert d_loss(torch.tensor([2.0]), torch.tensor([-2.0]), "hinge").item() == 0.0
    assert d_loss(torch.tensor([0.0]), torch.tensor([0.0]), "hinge").item() == 2.0
    assert g_loss(torch.tensor([1.5]), "hinge").item() == -1.5
    assert math.isclose(g_loss(torch.tensor([0.0]), "ns").item(), math.log(2), rel_tol=1e-6)


def test_r1_of_linear_score_is_squared_weight_norm():
    w = torch.tensor([1.0, -2.0, 2.0])
    x = torch.randn(5, 3, requires_grad=True)
    assert math.isclose(r1_penalty(x @ w, x).item(), 9.0, rel_tol=1e-6)


def test_ema_half_life_and_update():
    beta = ema_beta(1000, 1.0)
    assert math.isclose(beta, 0.5)
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = a.weight.detach().clone()
    update_ema(a, b, beta)
    assert torch.allclose(a.weight, 0.5 * before + 0.5 * b.weight)
    update_ema(a, b, 0.0)
    assert torch.equal(a.weight, b.weight)


def test_ema_rampup_caps_the_half_life_by_the_images_seen():
    from spritegan.train.ema import rampup_half_life

    assert rampup_half_life(20.0, 0.05, 0) == 0.0  # nothing seen yet: G_ema follows G
    assert math.isclose(rampup_half_life(20.0, 0.05, 96_000), 4.8)  # the demo's 96k images
    assert rampup_half_life(20.0, 0.05, 685_000) == 20.0  # a 30-minute punks run ends uncapped
    assert rampup_half_life(20.0, 0.0, 1_000) == 20.0  # rampup 0: no cap


def test_recalibrated_batchnorm_matches_the_batch_statistics():
    from spritegan.config import ModelConfig
    from spritegan.models import build_generator
    from spritegan.train.ema import recalibrate_batchnorm

    torch.manual_seed(0)
    cfg = ModelConfig(image_size=[16, 16], channels=4, z_dim=8, g_width=4, max_channels=16)
    g = build_generator(cfg)
    with torch.no_grad():
        for p in g.parameters():
            p.add_(0.5 * torch.randn_like(p))  # weights far from those the running statistics came from
    z = torch.randn(256, 8)
    train_out = g.train()(z).detach()
    stale = (g.eval()(z) - train_out).abs().mean()
    recalibrate_batchnorm(g.eval(), lambda i: (z,), batches=1)
    assert not g.training
    fresh = (g(z) - train_out).abs().mean()
    assert fresh < 0.01 < stale


def test_label_classification_loss_by_column_kind():
    # one categorical column of 3 classes at offset 0, then 2 binary traits; row 2 is the unconditional slot
    labels = torch.tensor([[0, 1.0, 0, 1, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    logits = torch.zeros(3, 5)
    loss = label_classification_loss(logits, labels, [(0, 3)])
    assert math.isclose(loss.item(), (math.log(3) + 2 * math.log(2)) / 3, rel_tol=1e-6)
    perfect = torch.tensor([[0, 20.0, 0, 20, -20], [20, 0, 0, -20, -20], [9, 9, 9, 9, 9]])
    assert label_classification_loss(perfect, labels, [(0, 3)]).item() < 1e-6
    empty = label_classification_loss(logits[2:], labels[2:], [(0, 3)])
    assert empty.item() == 0.0
    from spritegan.labels import categorical_groups

    spec = {"type": {"kind": "categorical", "classes": ["a", "b", "c"]}, "x": {"kind": "binary"}}
    assert categorical_groups({**spec, "y": {"kind": "binary"}}) == [(0, 3)]
    grad_logits = logits.clone().requires_grad_(True)
    label_classification_loss(grad_logits, labels, [(0, 3)]).backward()
    assert grad_logits.grad[2].abs().sum() == 0 and grad_logits.grad[0].abs().sum() > 0


def test_frame_drift_on_hand_made_sheets() -> None:
    """Squared distance of each frame's mean from its row's mean, averaged over sheets, rows and frames."""
    sheet = torch.zeros(1, 1, 4, 4)  # 2x2 frames of 2x2 pixels
    sheet[0, 0, :2, :2] = 1.0  # top row: frame means 1 and 3, row mean 2
    sheet[0, 0, :2, 2:] = 3.0
    assert math.isclose(frame_drift(sheet, 2, 2).item(), (1 + 1 + 0 + 0) / 4)
    # the same amount of a colour in every frame of a row, wherever it sits: no drift
    moved = torch.zeros(2, 3, 4, 8)
    for col in range(4):
        moved[:, :, col % 2, 2 * col + col % 2] = 1.0
    assert frame_drift(moved, 2, 4).item() == 0.0
    # one frame's mean moves by 0.5 in two channels: deviations 3/8 (that frame) and 1/8 (its row's others)
    changed = moved.clone()
    changed[0, :2, :2, 4:6] += 0.5
    expected = 2 * ((3 / 8) ** 2 + 3 * (1 / 8) ** 2) / (2 * 2 * 4)
    assert math.isclose(frame_drift(changed, 2, 4).item(), expected, rel_tol=1e-6)


def test_frame_drift_is_small_on_real_walkers_and_large_when_frames_change_character() -> None:
    from spritegan.data.walkers import make_walkers

    sheets = torch.tensor(make_walkers(64)[0]).permute(0, 3, 1, 2).float() / 127.5 - 1
    real = frame_drift(sheets, 4, 4).item()
    mixed = sheets.clone()
    mixed[:, :, :, 16:32] = sheets.roll(1, 0)[:, :, :, 16:32]  # column 2 from another character
    assert real < 1e-3 and frame_drift(mixed, 4, 4).item() > 20 * real


def test_colour_usage_loss_is_zero_at_the_data_shares_and_revives_a_dead_colour() -> None:
    from spritegan.train.losses import colour_usage_loss

    target = torch.tensor([0.5, 0.3, 0.2, 0.0])
    assert float(colour_usage_loss(target.clone(), target)) == 0.0
    # KL by hand: a colour the data never uses (share 0) adds nothing
    usage = torch.tensor([0.6, 0.3, 0.05, 0.05])
    by_hand = 0.5 * math.log(0.5 / 0.6) + 0.3 * math.log(0.3 / 0.3) + 0.2 * math.log(0.2 / 0.05)
    assert math.isclose(float(colour_usage_loss(usage, target)), by_hand, rel_tol=1e-6)
    # colour 2 nearly dead at every pixel: the push on its logits totals about its target share (0.2),
    # whether it is at 1e-3 or 1e-6 (the log makes the pull independent of how dead it is)
    for dead in (-7.0, -14.0):
        logits = torch.zeros(64, 4)
        logits[:, 2] = dead
        logits.requires_grad_(True)
        colour_usage_loss(logits.softmax(1).mean(0), target).backward()
        push = -float(logits.grad[:, 2].sum())
        assert 0.19 < push < 0.2001, (dead, push)
