"""The built-in procedural sprites: rendering, determinism and exact trait decoding."""

import itertools

import numpy as np
import pytest

from spritegan.data import procedural as P


def test_traits_and_palette():
    assert list(P.TRAITS) == [
        "body",
        "skin",
        "hair",
        "hair_colour",
        "eyes",
        "outfit",
        "outfit_colour",
        "accessory",
    ]
    assert P.N_COMBINATIONS >= 5000
    assert len(set(P.PALETTE)) == len(P.PALETTE)
    assert P.PALETTE[0] == (0, 0, 0, 0)
    assert all(c[3] == 255 for c in P.PALETTE[1:])


def test_render_shape_alpha_and_palette():
    t = P.sample_traits(np.random.default_rng(3))
    im = P.render_sprite(t)
    assert im.shape == (32, 32, 4) and im.dtype == np.uint8
    assert set(np.unique(im[..., 3]).tolist()) == {0, 255}
    assert (im[im[..., 3] == 0][:, :3] == 0).all()
    colours = {tuple(int(v) for v in px) for px in im.reshape(-1, 4)}
    assert colours <= set(P.PALETTE)
    assert 150 < int((im[..., 3] == 255).sum()) < 800


def test_make_sprites_deterministic_and_distinct():
    a, ta = P.make_sprites(300, seed=7)
    b, tb = P.make_sprites(300, seed=7)
    c, _ = P.make_sprites(300, seed=8)
    assert a.shape == (300, 32, 32, 4) and np.array_equal(a, b) and ta == tb
    assert not np.array_equal(a, c)
    assert len({im.tobytes() for im in a}) == 300
    for im, t in zip(a[:20], ta[:20], strict=True):
        assert np.array_equal(im, P.render_sprite(t))


def test_index_round_trip():
    for i in (0, 1, 12345, P.N_COMBINATIONS - 1):
        assert P.trait_index(P.traits_from_index(i)) == i
    with pytest.raises(ValueError):
        P.traits_from_index(P.N_COMBINATIONS)
    with pytest.raises(ValueError):
        P.render_sprite({**P.traits_from_index(0), "hair": "afro"})


def test_read_traits_every_shape_combination():
    # every combination of the traits that move pixels, with colours cycling through their values
    shape_traits = ["body", "hair", "outfit", "accessory"]
    colour_traits = ["skin", "hair_colour", "eyes", "outfit_colour"]
    for k, combo in enumerate(itertools.product(*(P.TRAITS[n] for n in shape_traits))):
        t = dict(zip(shape_traits, combo, strict=True))
        for j, name in enumerate(colour_traits):
            t[name] = P.TRAITS[name][(k + j * 2) % len(P.TRAITS[name])]
        t = {n: t[n] for n in P.TRAITS}
        assert P.read_traits(P.render_sprite(t)) == t


def test_read_traits_random_sample():
    rng = np.random.default_rng(0)
    for i in rng.choice(P.N_COMBINATIONS, 1500, replace=False):
        t = P.traits_from_index(int(i))
        assert P.read_traits(P.render_sprite(t)) == t


def test_read_traits_rejects_noise_and_corruption():
    rng = np.random.default_rng(1)
    assert P.read_traits(rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)) is None
    assert P.read_traits(np.zeros((32, 32, 4), np.uint8)) is None
    assert P.read_traits(np.zeros((24, 24, 4), np.uint8)) is None
    images, _ = P.make_sprites(60, seed=2)
    for im in images:
        bad = im.copy()
        y, x = rng.integers(0, 32, 2)
        bad[y, x] = (0, 0, 0, 0) if bad[y, x, 3] else P.PALETTE[1]
        assert P.read_traits(bad) is None
        off = im.copy()
        off[y, x, 0] ^= 1
        assert P.read_traits(off) is None
    assert P.read_traits(np.roll(images[0], 1, axis=1)) is None
    results = P.read_traits_batch(images[:3])
    assert all(r is not None for r in results)


def test_nearest_traits_recovers_noisy_sprites():
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(50):
        t = P.sample_traits(rng)
        clean = P.render_sprite(t)
        assert P.nearest_traits(clean) == (t, 1.0)
        noisy = clean.astype(np.int16)
        noisy[..., :3] += rng.integers(-10, 11, (32, 32, 3))
        mask = rng.random((32, 32)) < 0.03
        noisy[mask] = rng.integers(0, 256, (int(mask.sum()), 4))
        got, agreement = P.nearest_traits(np.clip(noisy, 0, 255).astype(np.uint8))
        assert 0.9 < agreement < 1.0
        hits += got == t
    assert hits >= 48


def test_nearest_traits_on_noise_has_low_agreement():
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 4), dtype=np.uint8)
    assert P.nearest_traits(noise)[1] < 0.8
    with pytest.raises(ValueError, match="RGBA"):
        P.snap_to_palette(np.zeros((24, 24, 4), np.uint8))


def test_agreement_threshold_rejects_degraded_sprites():
    from scipy.ndimage import uniform_filter

    rng = np.random.default_rng(7)
    for _ in range(10):
        sprite = P.render_sprite(P.sample_traits(rng))
        blurred = np.stack([uniform_filter(sprite[..., c].astype(float), 3) for c in range(4)], -1)
        flat = sprite.copy()
        opaque = sprite[..., 3] > 0
        flat[opaque, :3] = sprite[opaque, :3].mean(0).astype(np.uint8)
        for degraded in (blurred.astype(np.uint8), flat, np.zeros_like(sprite)):
            assert P.nearest_traits(degraded)[1] < P.MIN_AGREEMENT
