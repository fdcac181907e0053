"""The collapse and convergence signals (metrics/monitor.py) on tiny tensors, and their warnings."""

import pytest
import torch

from spritegan.metrics import monitor as mon


def _sprites(n: int, seed: int = 0, size: int = 16) -> torch.Tensor:
    """uint8 RGBA sprites: random colours, hard alpha."""
    g = torch.Generator().manual_seed(seed)
    rgb = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    alpha = (torch.rand(n, 1, size, size, generator=g) < 0.5).to(torch.uint8) * 255
    return torch.cat([rgb, alpha], 1)


def test_features_ignore_hidden_colour_and_downsample():
    x = _sprites(2, size=24)
    hidden = x.clone()
    hidden[:, :3][(x[:, 3:] == 0).expand(-1, 3, -1, -1)] = 7  # other colours under transparent pixels
    assert torch.equal(mon.monitor_features(x), mon.monitor_features(hidden))
    assert mon.monitor_features(x).shape == (2, 4 * 12 * 12)
    assert mon.monitor_features(_sprites(2, size=8)).shape == (2, 4 * 8 * 8)
    as_model = x.float() / 127.5 - 1  # model output in [-1, 1] reads the same as its uint8 image
    assert torch.allclose(mon.monitor_features(as_model), mon.monitor_features(x), atol=1e-6)


def test_identical_fakes_have_no_diversity_and_reals_have_all_of_it():
    real = mon.monitor_features(_sprites(32))
    same = real[:1].repeat(32, 1)
    assert mon.diversity(same, real) == pytest.approx(0.0, abs=1e-9)
    assert mon.diversity(real, real) == pytest.approx(1.0)
    other = mon.monitor_features(_sprites(32, seed=1))
    assert 0.9 < mon.diversity(other, real) < 1.1  # another batch of the same distribution
    with pytest.raises(ValueError, match="no spread"):
        mon.diversity(real, same)


def test_distinct_neighbours_and_pool_distances():
    pool = mon.monitor_features(_sprites(20))
    assert mon.distinct_share(pool, pool) == 1.0  # each is its own nearest neighbour
    assert mon.distinct_share(pool[:1].repeat(8, 1), pool) == 1 / 8
    index, dist = mon.nearest(pool[3:5], pool)
    assert index.tolist() == [3, 4] and dist.abs().max() < 1e-9


def test_monitor_reads_its_own_real_batch_as_real_and_a_repeated_sprite_as_collapse():
    images = _sprites(200)
    monitor = mon.TrainingMonitor.from_images(images, n=32)
    batch, _ = mon.split_real(images, 32)
    assert monitor.measure(batch) == pytest.approx({"diversity": 1.0, "distinct_nn": 1.0, "nn_distance": 1.0})
    collapsed = monitor.measure(batch[:1].repeat(32, 1, 1, 1))
    assert collapsed["diversity"] == pytest.approx(0.0, abs=1e-9)
    assert collapsed["distinct_nn"] < 0.1
    noise = monitor.measure(torch.rand(32, 4, 16, 16) * 2 - 1)  # float model output
    assert noise["diversity"] < 1.0 and noise["nn_distance"] > 0.5  # runs on floats; blurry noise is not real


def test_split_real_is_disjoint_seeded_and_refuses_one_image():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1)
    batch, pool = mon.split_real(images, 64)
    assert len(batch) == 5 and len(pool) == 5
    assert not set(batch.flatten().tolist()) & set(pool.flatten().tolist())
    assert torch.equal(batch, mon.split_real(images, 64)[0])
    with pytest.raises(ValueError, match="at least 2"):
        mon.split_real(images[:1], 4)


def test_sign_real_and_score_gap():
    assert mon.sign_real(torch.tensor([0.3, 2.0, 5.0])) == 1.0
    assert mon.sign_real(torch.tensor([-0.3, -2.0])) == -1.0
    assert mon.sign_real(torch.tensor([1.0, -1.0, 2.0, -3.0])) == 0.0
    assert -1.0 <= mon.sign_real(torch.randn(100)) <= 1.0
    assert mon.score_gap(torch.tensor([3.0, 5.0]), torch.tensor([-1.0, 1.0])) == pytest.approx(4.0)


def test_alarms_warn_once_per_crossing_and_rearm_after_recovery():
    alarms = mon.Alarms()
    healthy = {
        "images": 1e5,
        "diversity": 0.9,
        "distinct_nn": 0.9,
        "nn_distance": 2.0,
        "d_sign_real": 0.4,
        "score_gap": 0.8,
    }
    assert alarms.check(200, healthy) == []
    lines = alarms.check(300, {**healthy, "diversity": 0.12})
    assert (
        len(lines) == 1 and "diversity fell to 12% of the real data's" in lines[0] and "step 300" in lines[0]
    )
    assert alarms.check(320, {**healthy, "diversity": 0.10}) == []  # still low: said once
    assert alarms.check(340, healthy) == []
    assert len(alarms.check(360, {**healthy, "diversity": 0.2})) == 1  # a new crossing
    everything = {
        "images": 1e5,
        "diversity": 0.1,
        "distinct_nn": 0.05,
        "nn_distance": 9.0,
        "d_sign_real": 0.99,
        "score_gap": 9.0,
    }
    lines = mon.Alarms().check(500, everything)
    assert len(lines) == 4 and all(line.startswith("warning: at step 500, ") for line in lines)
    collapse = next(line for line in lines if "distinct training images" in line)
    won = next(line for line in lines if "D has won" in line)
    assert "train.r1_gamma=1" in collapse and "train.keep_healthy=true" in collapse  # what to try
    assert "train.r1_gamma=1" in won
    assert len(mon.Alarms(relativistic=True).check(500, everything)) == 3  # no sign under rpgan


def test_not_learning_warns_only_when_the_distance_stays_far():
    far = {"images": 1e5, "nn_distance": 9.0}
    alarms = mon.Alarms()
    assert [alarms.check(500 + 20 * i, far) for i in range(mon.NN_ROWS - 1)] == [[]] * (mon.NN_ROWS - 1)
    (line,) = alarms.check(600, far)
    assert "not learning yet" in line and "step 600" in line
    flicker = mon.Alarms()  # the demo's G: above 4 for single rows at steps 120, 200, 240, 280, then learning
    for step, distance in (
        (120, 4.8),
        (140, 3.7),
        (200, 4.2),
        (220, 3.5),
        (240, 4.05),
        (260, 3.3),
        (280, 4.05),
    ):
        assert flicker.check(step, {"images": 1e5, "nn_distance": distance}) == []


def test_alarms_wait_for_the_warmup():
    alarms = mon.Alarms()
    early = {"images": mon.WARMUP_IMAGES - 1, "diversity": 0.1, "distinct_nn": 0.05, "nn_distance": 9.0}
    assert alarms.check(20, early) == []  # a random G starts as one blurry sprite far from the data
    assert len(alarms.check(40, {**early, "images": mon.WARMUP_IMAGES})) == 2  # nn_distance waits its rows
    assert len(mon.Alarms().check(40, {k: v for k, v in early.items() if k != "images"})) == 2  # no count


def _two_colour_sprites(n: int, blue_every: int) -> torch.Tensor:
    """RGBA sprites, each a red square on transparency; every `blue_every`-th has a blue square instead."""
    x = torch.zeros(n, 4, 8, 8, dtype=torch.uint8)
    x[:, :, 2:6, 2:6] = torch.tensor([200, 10, 10, 255], dtype=torch.uint8).view(1, 4, 1, 1)
    x[::blue_every, :, 2:6, 2:6] = torch.tensor([10, 10, 200, 255], dtype=torch.uint8).view(1, 4, 1, 1)
    return x


def test_missing_colours_counts_palette_colours_the_batch_stopped_drawing():
    real = _two_colour_sprites(200, blue_every=4)  # blue: 25% of the visible pixels
    palette = [[10, 10, 200, 255], [200, 10, 10, 255]]
    monitor = mon.TrainingMonitor.from_images(real, n=32, palette=palette)
    assert monitor.measure(real[:32])["missing_colours"] == 0
    all_red = real[:32].clone()
    all_red[:, :, 2:6, 2:6] = real[1:2, :, 2:6, 2:6]
    assert monitor.missing_colours(all_red) == 1
    assert monitor.missing_colours(all_red.float() / 127.5 - 1) == 1  # G's output in [-1, 1] reads the same
    one_blue = all_red.clone()
    one_blue[0] = real[0]  # blue in 1 of 32 sprites: 3.1%, over 1/8 of its 25%
    assert monitor.missing_colours(one_blue) == 0
    assert "missing_colours" not in mon.TrainingMonitor.from_images(real, n=32).measure(real[:32])


def test_missing_colours_reads_no_colour_missing_in_a_real_batch_of_the_builtin_sprites():
    from spritegan.data.procedural import make_sprites
    from spritegan.metrics.pixelart import palette_of

    images = torch.from_numpy(make_sprites(2048, seed=0)[0]).permute(0, 3, 1, 2).contiguous()
    monitor = mon.TrainingMonitor.from_images(images, n=64, palette=palette_of(images))
    for seed in range(5):  # the 64-sprite batch the trainer measures, drawn five ways: the threshold's floor
        batch = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:64]]
        assert monitor.missing_colours(batch) == 0


def test_alarms_warn_of_missing_colours_only_when_they_stay_missing():
    alarms = mon.Alarms()
    early = [alarms.check(20 * i, {"images": 10.0, "missing_colours": 3.0}) for i in range(20)]
    assert early == [[]] * 20  # the warm-up does not count toward the streak
    rows = [
        alarms.check(500 + 20 * i, {"images": 1e6, "missing_colours": 3.0}) for i in range(mon.COLOURS_ROWS)
    ]
    assert rows[:-1] == [[]] * (mon.COLOURS_ROWS - 1)
    (line,) = rows[-1]
    assert "3 palette colour(s)" in line and "train.colour_usage=1" in line
    flicker = mon.Alarms()  # a colour that comes back now and then never warns
    for i in range(5 * mon.COLOURS_ROWS):
        missing = 0.0 if i % mon.COLOURS_ROWS == mon.COLOURS_ROWS - 1 else 1.0
        assert flicker.check(500 + 20 * i, {"images": 1e6, "missing_colours": missing}) == []
