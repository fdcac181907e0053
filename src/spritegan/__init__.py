"""spritegan: GANs that invent game art from a few hundred images."""

__version__ = "0.1.0"
