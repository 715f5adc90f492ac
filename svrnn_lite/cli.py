"""The ``svrnn-lite`` command line.

Run ``svrnn-lite --help`` for the list of subcommands and ``svrnn-lite COMMAND --help`` for
each one's options and an example.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from svrnn_lite import __version__


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``svrnn-lite`` command."""
    parser = argparse.ArgumentParser(
        prog="svrnn-lite",
        description=(
            "Blind image deblurring with a multi-task CNN and a spatially variant RNN "
            "(the package behind the svrnn-lite book)."
        ),
        epilog="Example: svrnn-lite --version",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``svrnn-lite`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
