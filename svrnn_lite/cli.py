"""The ``svrnn-lite`` command line.

Run ``svrnn-lite --help`` for the list of subcommands and ``svrnn-lite COMMAND --help`` for
each one's options and an example. Every failure is reported as one ``error:`` line on stderr
with a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from svrnn_lite import __version__

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _synth(subparsers) -> None:
    from svrnn_lite import synth

    p = subparsers.add_parser(
        "synth",
        help="write a synthetic dataset in the GoPro layout",
        description="Write blurry/sharp pairs synthesised from bundled images in the GoPro "
        "layout <root>/{train,test}/<sequence>/{blur,blur_gamma,sharp}/<frame>.png.",
        epilog="Example: svrnn-lite synth data/synthetic --seed 0",
    )
    synth.add_arguments(p)
    p.set_defaults(func=synth.run)


def _train(subparsers) -> None:
    from svrnn_lite import train

    p = subparsers.add_parser(
        "train",
        help="train a model (resumable)",
        description="Train a deblurring network with L2 loss and Adam; a checkpoint is saved "
        "atomically every --val-every steps and on Ctrl-C, and --resume continues it.",
        epilog="Example: svrnn-lite train --data data/synthetic --preset lite --steps 2000 "
        "--out runs/lite",
    )
    train.add_arguments(p)
    p.set_defaults(func=train.run)


SUBCOMMANDS = (_synth, _train)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``svrnn-lite`` command."""
    parser = argparse.ArgumentParser(
        prog="svrnn-lite",
        description=(
            "Blind image deblurring with a multi-task CNN and a spatially variant RNN "
            "(the package behind the svrnn-lite book)."
        ),
        epilog="Example: svrnn-lite synth data/synthetic && svrnn-lite train --data data/synthetic",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``svrnn-lite`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"svrnn-lite {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (OSError, ValueError, RuntimeError) as error:
        print(f"svrnn-lite {args.command}: error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
