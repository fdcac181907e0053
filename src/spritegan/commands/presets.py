"""`spritegan presets`: list the named recipes and what each reproduces."""

from __future__ import annotations

import argparse

from spritegan.commands import add_command

EXAMPLES = """  spritegan presets
  spritegan presets --show cyberpunk-gan
"""


def register(subparsers) -> None:
    p = add_command(subparsers, "presets", "List the named training recipes.", EXAMPLES)
    p.add_argument("--show", metavar="NAME", help="print one preset's resolved config")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import yaml

    from spritegan.config import PRESETS, build_config

    if args.show:
        print(yaml.safe_dump(build_config(args.show).to_dict(), sort_keys=False), end="")
        return 0
    width = max(len(n) for n in PRESETS)
    for name, preset in PRESETS.items():
        print(f"{name:<{width}}  {preset['doc']}")
    return 0
