"""Allow `python -m spritegan` (and `torchrun -m spritegan`)."""

from spritegan.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
