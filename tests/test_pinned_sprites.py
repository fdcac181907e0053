"""Byte-for-byte pins: fixed tiny fp32 generators and the sha256 of the uint8 sprites they make.

The weights in tests/data/ were made once by tests/data/make_pinned.py. A refactor must leave every hash
here unchanged; a change that alters outputs on purpose updates these pins in its own commit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from spritegan.generate.pipeline import SpritePipeline

DATA = Path(__file__).resolve().parent / "data"
DCGAN = DATA / "pinned-dcgan.safetensors"
STYLEGAN = DATA / "pinned-stylegan.safetensors"
SEEDS = [0, 1, 2, 7, 123456789]

PINS = {
    "dcgan": "5d893655eefcb9cfcf9a71761904e374aecc6a3f3014ee46c925edf27c17aaf8",
    "dcgan-palette": "83defdbfbfaaba4f60b6b222fd81e1e89d29d19025ff7d4756e5bb311c16889a",
    "dcgan-trunc0.7": "8d8c78b8eae6ea711301f0f9d29f545b5a00cfee06460f9e5afd14d1810fd8e5",
    "stylegan": "cb440ba9785403da839d8ecc5c439f8be0ed7b449a99f09c5e54b46d11233500",
    "stylegan-trunc0.7": "c1d17e5e74abd7c0b7958abdd7aa9e08f353f7ba8c542e63702db9b1a3178bf3",
    "stylegan-palette": "7d32242aa3beb68277ab27d0e17107922e888b702c036b4b80595c7f8333663e",
    "stylegan-edit": "2779dd4e05567f6c7f1b42cea6f2c1b9b5fcf1c14004e8f00b70953c9145ef39",
    "stylegan-morph-w": "1a511554f219577ea81802792777216d8866d5a5dcca599229ce89b1ff7660af",
    "stylegan-morph-z": "c2412f2d6cd0fcd4536726ab81e296feb51fc3e86ceafd44c24d597c45ada7fd",
    "dcgan-morph-z": "69227a3d8f0c9f77508337a4ff50bb39b3779549e5968e9571baaf3776116d05",
    "stylegan-project": "c41da21656abac64869c3c2e0879337aba4899a507413e0cf8fed207e339a7e3",
}


def sha(images: torch.Tensor) -> str:
    assert images.dtype == torch.uint8
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()


def direction(w_dim: int) -> torch.Tensor:
    """A fixed W direction (not a saved file: its values are the pin's input)."""
    return torch.randn(w_dim, generator=torch.Generator().manual_seed(5))


@pytest.mark.parametrize(
    ("name", "file", "kwargs"),
    [
        ("dcgan", DCGAN, {}),
        ("dcgan-palette", DCGAN, {"palette": True}),
        ("dcgan-trunc0.7", DCGAN, {"truncation": 0.7}),
        ("stylegan", STYLEGAN, {}),
        ("stylegan-trunc0.7", STYLEGAN, {"truncation": 0.7}),
        ("stylegan-palette", STYLEGAN, {"palette": True, "truncation": 0.7}),
    ],
)
def test_pipeline_sprites_are_pinned(name, file, kwargs):
    pipe = SpritePipeline.from_run(file)
    images = pipe(SEEDS, **kwargs)
    assert images.shape == (len(SEEDS), 4, 16, 16)
    assert sha(images) == PINS[name]


def edit_images(pipe: SpritePipeline) -> torch.Tensor:
    from spritegan.generate.edit import edit_strip

    with torch.no_grad():
        ws = pipe.ws(pipe.latents([3, 4]), truncation=0.7)
    return edit_strip(pipe, ws, direction(pipe.generator.w_dim), [-2.0, 0.0, 1.5])


def morph_images(pipe: SpritePipeline, space: str) -> torch.Tensor:
    from spritegan.generate.morph import morph_frames

    return morph_frames(pipe, [3, 17, 42], 9, space, truncation=0.7, loop=True)[0]


def project_images(pipe: SpritePipeline) -> torch.Tensor:
    """Five Adam steps of W and of W+ projection towards seed 9's sprite; the sprites of the results."""
    from spritegan.generate.project import project
    from spritegan.tensors import to_model

    target = to_model(pipe([9]))
    ws = [project(pipe, target, 5, 0.05, "l1", wplus=plus)[0] for plus in (False, True)]
    return pipe(ws=torch.cat(ws))


@pytest.mark.parametrize(
    ("name", "file", "make"),
    [
        ("stylegan-edit", STYLEGAN, edit_images),
        ("stylegan-morph-w", STYLEGAN, lambda p: morph_images(p, "w")),
        ("stylegan-morph-z", STYLEGAN, lambda p: morph_images(p, "z")),
        ("dcgan-morph-z", DCGAN, lambda p: morph_images(p, "z")),
        ("stylegan-project", STYLEGAN, project_images),
    ],
)
def test_w_space_sprites_are_pinned(name, file, make):
    images = make(SpritePipeline.from_run(file))
    assert sha(images) == PINS[name]
