"""The ``svrnn-lite`` command line.

Run ``svrnn-lite --help`` for the list of subcommands and ``svrnn-lite COMMAND --help`` for
each one's options and an example. Every failure is reported as one ``error:`` line on stderr
with a non-zero exit code, never a traceback. All the argument parsing of the package is here;
the settings the options list come from :mod:`svrnn_lite.synth_config` and
:mod:`svrnn_lite.train_config`, which load no numerical library, so ``svrnn-lite --help`` is
quick.

The commands are used in chapters *Blur synthesis by frame averaging* (``synth``), *Training*
(``train``) and *Evaluation* (``eval``, ``deblur``, ``bench``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from svrnn_lite import __version__
from svrnn_lite.atomic import atomic_path

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _synth(subparsers) -> None:
    from svrnn_lite.synth_config import N_TEST, N_TRAIN, PHOTO_SHAKE, TEST_SIZE, TRAIN_SIZE

    p = subparsers.add_parser(
        "synth",
        help="write a synthetic dataset in the GoPro layout",
        description="Write blurry/sharp pairs synthesised from bundled images in the GoPro "
        "layout <root>/{train,test}/<sequence>/{blur,blur_gamma,sharp}/<frame>.png.",
        epilog="Example: svrnn-lite synth data/synthetic --seed 0",
    )
    p.add_argument("root", type=Path, help="output folder (created if missing)")
    p.add_argument("--n-train", type=int, default=N_TRAIN, help="training pairs (%(default)s)")
    p.add_argument("--n-test", type=int, default=N_TEST, help="test pairs (%(default)s)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (%(default)s)")
    for split, (h, w) in (("train", TRAIN_SIZE), ("test", TEST_SIZE)):
        p.add_argument(
            f"--{split}-size", type=int, nargs=2, default=(h, w), metavar=("H", "W"),
            help=f"size of the {split} pairs in pixels ({h} {w})",
        )  # fmt: skip
    p.add_argument(
        "--photos", type=Path,
        help="a folder of your own sharp photographs to synthesise from, with GoPro-scale "
        "motion (default: the images bundled with scikit-image and matplotlib)",
    )  # fmt: skip
    p.add_argument(
        "--shake", type=float, nargs=2, metavar=("LOW", "HIGH"),
        help="with --photos: the range of camera shake, pixels per sub-frame (default GoPro's "
        f"scale, {PHOTO_SHAKE[0]:g} {PHOTO_SHAKE[1]:g}; larger values make stronger blur)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_synth)


def _run_synth(args) -> int:
    from svrnn_lite.synth import write_dataset

    written = write_dataset(
        args.root,
        n_train=args.n_train,
        n_test=args.n_test,
        seed=args.seed,
        train_size=tuple(args.train_size),
        test_size=tuple(args.test_size),
        progress=not args.quiet,
        photos=args.photos,
        photo_shake=args.shake,
    )
    print(
        f"wrote {written['train']} train and {written['test']} test pairs to {args.root} "
        f"({args.n_train} and {args.n_test} in the dataset)"
    )
    return 0


def _train(subparsers) -> None:
    from svrnn_lite.train_config import TrainConfig

    p = subparsers.add_parser(
        "train",
        help="train a model (resumable)",
        description="Train a deblurring network with Adam and an L2 (or per-crop PSNR) loss; a "
        "checkpoint is saved atomically every --val-every steps and on Ctrl-C, and --resume "
        "continues it. Started by torchrun (torchrun --nproc-per-node N -m svrnn_lite train "
        "...), it trains data-parallel on N processes (one GPU each, or CPUs), --batch-size "
        "crops per step between them.",
        epilog="Example: svrnn-lite train --data data/synthetic --preset lite --steps 2000 "
        "--out runs/lite",
    )
    defaults = TrainConfig()
    for f in fields(TrainConfig):  # one option per setting: --batch-size for batch_size
        flag, default = f.name.replace("_", "-"), getattr(defaults, f.name)
        if f.name == "data":  # one or more folders
            p.add_argument("--data", nargs="+", metavar="DIR", help=f.metadata["help"])
        elif isinstance(default, bool):  # --residual switches on, --no-progress switches off
            action = "store_false" if default else "store_true"
            flag = f"--no-{flag}" if default else f"--{flag}"
            p.add_argument(flag, dest=f.name, action=action, help=f.metadata["help"])
        else:
            kind = float if isinstance(default, float) else int if isinstance(default, int) else str
            help_text = f.metadata["help"] + " (%(default)s)"
            p.add_argument(f"--{flag}", type=kind, default=default, help=help_text)
    p.add_argument("--resume", action="store_true", help="continue OUT/last.pt")
    p.add_argument(
        "--time-limit", type=float, help="stop (and save) after this many minutes; resume later"
    )
    p.set_defaults(func=_run_train)


def _run_train(args) -> int:
    from svrnn_lite import distributed
    from svrnn_lite.train import train
    from svrnn_lite.train_config import TrainConfig

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    limit = None if args.time_limit is None else 60 * args.time_limit
    with distributed.process_group():  # under torchrun; nothing to do in a single process
        result = train(cfg, resume=args.resume, time_limit=limit)
    return EXIT_INTERRUPTED if result["interrupted"] else 0


def _model_options(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--checkpoint", type=Path, help="a checkpoint written by train")
    group.add_argument(
        "--pretrained", default="lite", help="a model shipped in the package (%(default)s)"
    )


def _load_model(args):
    from svrnn_lite.checkpoint import load_checkpoint
    from svrnn_lite.pretrained import load_pretrained

    if args.checkpoint is not None:
        return load_checkpoint(args.checkpoint).eval()
    return load_pretrained(args.pretrained)


def _tiling_options(parser, tile: int | None) -> None:
    parser.add_argument(
        "--tile",
        type=int,
        default=tile,
        help="deblur in tiles of this many pixels, so memory stays bounded"
        + (" (%(default)s)" if tile else "; whole images by default"),
    )
    parser.add_argument(
        "--overlap",
        type=int,
        help="overlap of neighbouring tiles (default: 64, or a quarter of --tile if smaller)",
    )


def _tiling(args) -> tuple[int | None, int]:
    """``(tile, overlap)`` from the options, checked before any work starts."""
    if args.tile is None:
        return None, 0
    if args.tile < 16:
        raise ValueError(f"--tile must be at least 16 pixels, got {args.tile}")
    overlap = min(64, args.tile // 4) if args.overlap is None else args.overlap
    if not 0 <= overlap < args.tile / 2:
        raise ValueError(
            f"--overlap must be at least 0 and less than half of --tile ({args.tile}), "
            f"got {overlap}"
        )
    return args.tile, overlap


def _output_folder(folder: Path) -> Path:
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} is a file; give a folder")
    return folder


def _eval(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score a model on a dataset in the GoPro layout",
        description="PSNR and SSIM (GoPro conventions) of the blurry input and of the model's "
        "output for every test pair, CPU seconds per 1280x720 frame; writes results.csv, "
        "results.json and grid.png to --out.",
        epilog="Example: svrnn-lite eval --data data/synthetic --out runs/eval",
    )
    p.add_argument("--data", type=Path, required=True, help="dataset folder (GoPro layout)")
    p.add_argument("--split", default="test", choices=["train", "test"], help="(%(default)s)")
    p.add_argument(
        "--variant", default="blur", choices=["blur", "blur_gamma"], help="(%(default)s)"
    )
    p.add_argument("--limit", type=int, help="score only the first N pairs")
    _tiling_options(p, tile=None)
    p.add_argument(
        "--out", type=Path, default=Path("runs/eval"), help="output folder (%(default)s)"
    )
    p.add_argument("--no-timing", action="store_true", help="skip the CPU timing")
    _model_options(p)
    p.set_defaults(func=_run_eval)


def _run_eval(args) -> int:
    from svrnn_lite.data import PairDataset
    from svrnn_lite.evaluate import cpu_seconds_per_frame, evaluate, figure_grid, write_results
    from svrnn_lite.layout import gopro_pairs
    from svrnn_lite.metrics import CONVENTION

    tile, overlap = _tiling(args)
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    out = _output_folder(args.out)
    model = _load_model(args)
    pairs = gopro_pairs(args.data, args.split, args.variant)[: args.limit]
    dataset = PairDataset(pairs)
    shown = range(min(3, len(dataset)))  # the pairs of grid.png
    restored = dict.fromkeys(shown)  # evaluate keeps their outputs here
    rows = evaluate(model, dataset, tile=tile, overlap=overlap, progress=True, restored=restored)
    extra = {"model": model.config.describe(), "data": str(args.data), "split": args.split}
    if not args.no_timing:
        extra["cpu_seconds_720p"] = cpu_seconds_per_frame(model)
    summary = write_results(rows, out, extra)
    grid = figure_grid(model, dataset, shown, restored=restored)
    with atomic_path(out / "grid.png") as tmp:
        grid.savefig(tmp, dpi=80, format="png")
    print(f"{'pairs':>8} {'PSNR blurry':>12} {'PSNR output':>12} {'gain':>6} {'SSIM':>6}")
    print(
        f"{summary['images']:>8} {summary['psnr_blurry']:>12.2f} {summary['psnr']:>12.2f} "
        f"{summary['psnr_gain']:>+6.2f} {summary['ssim']:>6.3f}"
    )
    if "cpu_seconds_720p" in extra:
        print(f"CPU seconds per 1280x720 frame: {extra['cpu_seconds_720p']:.2f}")
    print(CONVENTION)
    print(f"wrote {out / 'results.csv'}, results.json and grid.png")
    return 0


def _deblur(subparsers) -> None:
    p = subparsers.add_parser(
        "deblur",
        help="deblur your own photos",
        description="Deblur image files of any size (tiled with overlap when large, so memory "
        "stays bounded). 8/16-bit, grey, RGBA, palette and EXIF-rotated files are handled; "
        "alpha is kept. A file that fails is reported and skipped; the exit code is 1 if any "
        "failed.",
        epilog="Example: svrnn-lite deblur photo.jpg holiday/*.png -o deblurred/",
    )
    p.add_argument("images", nargs="+", type=Path, help="image files")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    _tiling_options(p, tile=512)
    p.add_argument("--suffix", default="_deblurred", help="added to each file name")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _model_options(p)
    p.set_defaults(func=_run_deblur)


def _run_deblur(args) -> int:
    from tqdm.auto import tqdm

    tile, overlap = _tiling(args)
    out = _output_folder(args.out)
    model = _load_model(args)
    failed, written = 0, {}
    for path in tqdm(args.images, desc="deblurring", unit="image"):
        suffix = path.suffix.lower() if path.suffix.lower() in OUTPUT_SUFFIXES else ".png"
        target = out / f"{path.stem}{args.suffix}{suffix}"
        try:
            if target in written:
                raise FileExistsError(
                    f"its output {target} was already written from {written[target]} in this "
                    "run; deblur files with the same name into separate folders"
                )
            if target.exists() and not args.overwrite:
                raise FileExistsError(f"{target} exists (use --overwrite to replace it)")
            _deblur_file(model, path, target, tile, overlap)
            written[target] = path
        except (OSError, ValueError, RuntimeError, MemoryError) as error:  # one file, not all
            failed += 1
            where = "" if str(path) in str(error) else f"{path}: "
            tqdm.write(f"svrnn-lite deblur: error: {where}{error}", file=sys.stderr)
            continue
        tqdm.write(f"{path} -> {target}")
    if failed:
        print(f"svrnn-lite deblur: {failed} of {len(args.images)} images failed", file=sys.stderr)
    return EXIT_ERROR if failed else 0


def _deblur_file(model, path: Path, target: Path, tile: int | None, overlap: int) -> None:
    """Read, deblur and write one file, holding at most two full-size float images at a time."""
    from svrnn_lite.images import load_image, save_image
    from svrnn_lite.inference import deblur

    rgb, alpha = load_image(path, with_alpha=True)
    restored = deblur(model, rgb, tile=tile, overlap=overlap)
    del rgb  # not needed while the output is written
    target.parent.mkdir(parents=True, exist_ok=True)  # only once there is something to write
    save_image(target, restored, alpha)


def _bench(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="time a model on one frame",
        description="Median CPU seconds of one forward pass (random weights) on one frame.",
        epilog="Example: svrnn-lite bench --preset lite --height 720 --width 1280",
    )
    p.add_argument(
        "--preset", default="lite", choices=["paper", "half", "lite"], help="(%(default)s)"
    )
    p.add_argument(
        "--arch",
        default="multitask",
        choices=["multitask", "baseline", "plain"],
        help="(%(default)s)",
    )
    p.add_argument("--height", type=int, default=720, help="frame height (%(default)s)")
    p.add_argument("--width", type=int, default=1280, help="frame width (%(default)s)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs (%(default)s)")
    p.set_defaults(func=_run_bench)


def _run_bench(args) -> int:
    import torch

    from svrnn_lite.evaluate import cpu_seconds_per_frame
    from svrnn_lite.models import build_model

    for option, value in (("--height", args.height), ("--width", args.width)):
        if value < 8:
            raise ValueError(f"{option} must be at least 8 pixels, got {value}")
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
    model = build_model(args.preset, arch=args.arch)
    seconds = cpu_seconds_per_frame(model, args.height, args.width, args.repeats)
    print(
        f"{model.config.describe()}: {seconds:.3f} s per {args.width}x{args.height} frame "
        f"(median of {args.repeats}, {torch.get_num_threads()} threads)"
    )
    return 0


OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
SUBCOMMANDS = (_synth, _train, _eval, _deblur, _bench)


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
    from svrnn_lite.runtime import tune_malloc

    tune_malloc()  # reuse freed memory: about twice as fast on large frames
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{_program(args.command)}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (OSError, ValueError, RuntimeError) as error:
        print(f"{_program(args.command)}: error: {error}", file=sys.stderr)
        return EXIT_ERROR


def _program(command: str, environ=None) -> str:
    """``svrnn-lite COMMAND``, and under torchrun which process: ``svrnn-lite train [rank 1 of 2]``.

    Examples
    --------
    >>> _program("train", {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    'svrnn-lite train [rank 1 of 2]'
    >>> _program("train", {})
    'svrnn-lite train'
    """
    environ = os.environ if environ is None else environ
    world = environ.get("WORLD_SIZE", "1")
    if world == "1" or "RANK" not in environ:
        return f"svrnn-lite {command}"
    return f"svrnn-lite {command} [rank {environ['RANK']} of {world}]"


if __name__ == "__main__":
    sys.exit(main())
