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
