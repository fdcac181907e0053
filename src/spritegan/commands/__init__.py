"""Subcommands of the `spritegan` CLI, one module each (see spritegan.cli)."""

import argparse


def add_command(subparsers, name: str, help_text: str, examples: str) -> argparse.ArgumentParser:
    """Add a subcommand parser whose --help ends with runnable examples."""
    return subparsers.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _writable_folder(path, option: str, shown=None) -> None:
    """Refuse (one line) when the nearest existing folder at or above `path` cannot be written to; the
    message names `option` with `shown` (the path the user gave, default `path`)."""
    import os
    import tempfile
    from pathlib import Path

    from spritegan.errors import SpriteganError

    shown = path if shown is None else shown
    folder = Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise SpriteganError(f"{option} {shown}: {folder} is a file, not a folder")
    try:  # a real write: os.access says yes to root on a read-only mount
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise SpriteganError(f"{option} {shown}: cannot write in {folder} ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SpriteganError(f"{option} {shown}: cannot write in {folder} (permission denied)")


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """--agree, --despeckle, --max-colours, --refine and --best-of: how a palette head samples, for every
    command that samples a run (`sampling_overrides` hands them to SpritePipeline.from_run)."""
    parser.add_argument(
        "--agree",
        type=float,
        help="palette head: how strongly a pixel's colour follows its 4 neighbours' (0: per-pixel argmax; "
        "default: the run's model.palette_agree)",
    )
    parser.add_argument(
        "--despeckle",
        type=int,
        metavar="PIXELS",
        help="palette head: remove visible parts of at most this many pixels that touch nothing else (0: "
        "keep them; default: the run's model.palette_despeckle, set from its data)",
    )
    parser.add_argument(
        "--max-colours",
        type=int,
        metavar="N",
        help="palette head: each sprite keeps at most N colours, those it uses most (0: the whole palette; "
        "default: the run's model.palette_max_colours, the most any training image uses)",
    )
    parser.add_argument(
        "--refine",
        type=int,
        metavar="PASSES",
        help="palette head: rounds of the run's trained refiner, a learned clean-up of stray pixels (0: off; "
        "default: the run's model.palette_refine_passes; runs without a refiner ignore it)",
    )
    parser.add_argument(
        "--best-of",
        type=int,
        metavar="K",
        help="draw K latents per seed and keep one: with a posed run's trained sheet reader the sheet whose "
        "frames all read as one character, else the sprite the refiner changes least (K times the sampling "
        "work; default 1: the seed's own latent)",
    )


def sampling_overrides(args: argparse.Namespace) -> dict:
    """The palette head's sampling options given on the command line, as SpritePipeline.from_run takes them."""
    return {
        "agree": args.agree,
        "despeckle": args.despeckle,
        "max_colours": args.max_colours,
        "refine": args.refine,
        "best_of": args.best_of,
    }


def check_output_folder(path, option: str = "--out") -> None:
    """An output folder must be a folder (or not exist yet) somewhere we can write; checked before any work."""
    from pathlib import Path

    from spritegan.errors import SpriteganError

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise SpriteganError(f"{option} {path}: exists and is a file, not a folder")
    _writable_folder(p, option)


def check_output_file(path, option: str = "--out", overwrite: bool = True) -> None:
    """An output file must not be a folder, nor (unless `overwrite`) an existing file; its folder writable."""
    from pathlib import Path

    from spritegan.errors import SpriteganError

    p = Path(path)
    if p.is_dir():
        raise SpriteganError(f"{option} {path}: is a folder; give a file name")
    if p.exists() and not overwrite:
        raise SpriteganError(f"{option} {path}: file exists; choose another name or add --overwrite")
    _writable_folder(p.parent, option, shown=path)


def check_finite(value: float, option: str) -> None:
    """A float option must be a real number (argparse accepts nan and inf)."""
    import math

    from spritegan.errors import SpriteganError

    if not math.isfinite(value):
        raise SpriteganError(f"{option} {value}: must be a finite number")


def check_device(name: str, option: str = "--device") -> None:
    """cpu, cuda or cuda:N, and a CUDA device only where one is visible."""
    import torch

    from spritegan.errors import SpriteganError

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise SpriteganError(f"{option} {name!r}: not a device; use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SpriteganError(f"{option} {name}: no CUDA GPU is visible here; use --device cpu")
