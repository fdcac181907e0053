"""The `spritegan` command: thin subcommands over the library.

Each subcommand lives in `spritegan.commands.<name>` and exposes `register(subparsers)`, which adds its
parser and sets `func` (a callable taking the parsed args and returning an exit code). Heavy imports stay
inside the command functions so `spritegan --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from spritegan import __version__
from spritegan.errors import SpriteganError

COMMAND_MODULES = [
    "demo",
    "data",
    "presets",
    "train",
    "refine",
    "generate",
    "traits",
    "eval",
    "curves",
    "diagnose",
    "morph",
    "edit",
    "project",
    "inspect",
    "serve",
    "export",
    "bench",
]

EPILOG = """examples:
  spritegan demo                                   # train on built-in sprites for a few CPU minutes
  spritegan train --data builtin:sprites --preset sprite --out runs/sprites --steps 2000
  spritegan train --data my_sprites/ --resize 32 --fit pad --out runs/mine  # your folder, fitted and padded
  spritegan generate runs/sprites -n 100 --seed 0 --out out/sprites --scale 8
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spritegan",
        description="Train GANs on small game-art datasets and generate new sprites.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"spritegan {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:  # every one ships with the package: a missing one is a broken install
        importlib.import_module(f"spritegan.commands.{name}").register(subparsers)
    return parser


def attach_negative_values(argv: list[str]) -> list[str]:
    """`--strengths -3,-1.5,0` -> `--strengths=-3,-1.5,0`: argparse would read a negative list as an option."""
    out: list[str] = []
    for tok in argv:
        prev = out[-1] if out else ""
        if re.match(r"^-\.?\d", tok) and prev.startswith("--") and "=" not in prev:
            out[-1] = f"{prev}={tok}"
        else:
            out.append(tok)
    return out


def one_line(text: str) -> str:
    """Messages are printed as one line, whatever an underlying library put in them."""
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(attach_negative_values(sys.argv[1:] if argv is None else list(argv)))
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from spritegan.allocator import reuse_freed_memory
    from spritegan.precision import flush_denormals

    flush_denormals()  # before any tensor work starts torch's worker threads, so they inherit it
    reuse_freed_memory()  # before the large allocations: freed blocks are reused, not faulted in afresh
    try:
        return int(args.func(args) or 0)
    except SpriteganError as exc:
        print(f"spritegan {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except (
        OSError
    ) as exc:  # a read-only folder, a full disk, a path that is a file: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            f"spritegan {args.command}: error: {where}{one_line(exc.strerror or str(exc))}", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        print(f"spritegan {args.command}: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The console script and `python -m spritegan`: run `main`, then exit with its code.

    A torchrun worker (WORLD_SIZE > 1) ends the way a multiprocessing child does: flush, then `os._exit`,
    skipping interpreter finalisation. By then its process group is gone and every file is closed, but the
    C++ destructors that finalisation runs could still abort a gloo worker ('terminate called without an
    active exception', exit -6) after a run that had finished and written everything; torchrun then
    reported the whole job as failed (seen in clean-clone CI runs on two machines).
    """
    code = main()
    # the test of train.distributed.launched(), read here without importing torch (`--help` stays instant)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)


if __name__ == "__main__":
    entry()
