"""Allow `python -m spritegan` (and `torchrun -m spritegan`)."""

from spritegan.cli import entry

if __name__ == "__main__":
    entry()
