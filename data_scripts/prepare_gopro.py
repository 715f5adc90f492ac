"""Check a downloaded GoPro dataset (GOPRO_Large) and write an index of its image pairs.

GoPro (Nah et al. 2017) comes as ``GOPRO_Large/{train,test}/<sequence>/{blur,blur_gamma,sharp}/
<frame>.png``: 2103 training and 1111 test pairs of 1280x720 PNG images, in 22 and 11 sequences.
This script checks that a copy is complete before hours of training find out that it is not::

    .venv/bin/python data_scripts/prepare_gopro.py /path/GOPRO_Large
    .venv/bin/python data_scripts/prepare_gopro.py /path/GOPRO_Large --check-images   # slower

It counts the pairs of each split and sequence, lists what is missing (a split or a ``blur`` or
``sharp`` folder, frames with no partner, empty files, fewer pairs than expected) and prints a
summary table. When nothing is missing it writes ``<root>/index.json`` (every pair, as paths
relative to the root, and the pairs per sequence) and prints the command that trains on the data;
otherwise it writes no index and exits with code 1 (``--allow-incomplete`` writes it anyway).
By default only the files' existence and size are checked; ``--check-images`` also decodes every
image and compares the sizes of the blurry and sharp ones. The pairs are listed as
:func:`svrnn_lite.data.gopro_pairs` lists them, which is how ``svrnn-lite train`` reads the data.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from svrnn_lite.atomic import atomic_path
from svrnn_lite.images import ImageError, load_image
from svrnn_lite.layout import IMAGE_SUFFIXES, gopro_pairs

#: The first key of every index this script writes.
INDEX_FORMAT = "svrnn-lite GoPro index, version 1"
#: Pairs in the published dataset.
EXPECTED = {"train": 2103, "test": 1111}
#: Sequences in the published dataset.
SEQUENCES = {"train": 22, "test": 11}
SPLIT_WORDS = {"train": "training", "test": "test"}
#: File problems printed per split; the rest are counted.
MAX_LISTED = 10
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar")
#: The book's recipe for the paper's network on GoPro (chapter *Training*).
TRAIN_OPTIONS = (
    "--preset paper --steps 262000 --batch-size 32 --crop 128 --lr 1e-4 "
    "--val-every 2000 --val-images 8 --out runs/gopro-paper"
)


class DatasetError(Exception):
    """A problem that stops the check; the message is one line naming the path and the fix."""


@dataclass
class SplitReport:
    """What :func:`scan_split` found in one split.

    Attributes
    ----------
    split : str
        ``"train"`` or ``"test"``.
    expected : int
        How many pairs the split should have.
    pairs : list of (Path, Path)
        The usable (blurry, sharp) pairs, in the order of :func:`svrnn_lite.data.gopro_pairs`.
    sequences : dict of str to int
        Usable pairs per sequence folder.
    problems : list of str
        One line per problem (a missing folder or file, an empty or unreadable file, ...).
    """

    split: str
    expected: int
    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def count_ok(self) -> bool:
        """Whether the split has exactly the expected number of pairs."""
        return len(self.pairs) == self.expected

    @property
    def complete(self) -> bool:
        """Whether the split has no problem and the expected number of pairs."""
        return not self.problems and self.count_ok


def check_root(root: Path) -> Path:
    """Check that ``root`` is a readable folder holding ``train/`` or ``test/``.

    Parameters
    ----------
    root : Path
        The folder the user named.

    Returns
    -------
    Path
        ``root``, absolute.

    Raises
    ------
    DatasetError
        If ``root`` does not exist, is a file, cannot be read or is not the dataset folder; the
        message suggests the right path when it can find one (a ``GOPRO_Large`` folder inside
        ``root``, or the parent of a ``train/`` folder).
    """
    try:
        root.stat()
    except FileNotFoundError:
        hint = "give the path of the unpacked GOPRO_Large folder (it holds train/ and test/)"
        for suffix in (".zip", ".tar.gz", ".tar"):
            archive = root.with_name(root.name + suffix)
            if archive.is_file():
                hint = f"{archive} is there: unpack it first"
        raise DatasetError(f"no such folder: {root}: {hint}") from None
    except OSError as error:
        raise DatasetError(_os_message(error, root)) from None
    if not root.is_dir():
        if root.name.lower().endswith(ARCHIVE_SUFFIXES):
            what = "unpack the archive and give the GOPRO_Large folder it holds"
        else:
            what = "give the GOPRO_Large folder that holds train/ and test/"
        raise DatasetError(f"{root} is a file, not a folder: {what}")
    root = root.absolute()
    if (root / "train").is_dir() or (root / "test").is_dir():
        return root
    suggestion = _find_dataset_near(root)
    if suggestion is not None:
        raise DatasetError(
            f"{root} is not the dataset folder (it has no train/ or test/ folder), "
            f"but {suggestion} is: run  {_command(suggestion)}"
        )
    raise DatasetError(
        f"{root} is not in the GoPro layout: it has no train/ or test/ folder (expected "
        f"{root}/{{train,test}}/<sequence>/{{blur,sharp}}/<frame>.png); give the GOPRO_Large folder"
    )


def _find_dataset_near(path: Path) -> Path | None:
    """A folder with ``train/`` or ``test/`` that ``path`` is in (3 levels up) or holds (2 down)."""
    for parent in list(path.parents)[:3]:
        if (parent / "train").is_dir() and (parent / "test").is_dir():
            return parent
    try:
        children = sorted(p for p in path.iterdir() if p.is_dir())
        grandchildren = [g for child in children for g in sorted(child.iterdir()) if g.is_dir()]
    except OSError:
        return None
    for candidate in children + grandchildren:
        if (candidate / "train").is_dir() or (candidate / "test").is_dir():
            return candidate
    return None


def scan_split(
    root: Path, split: str, variant: str = "blur", expected: int = 0, check_images: bool = False
) -> SplitReport:
    """Find the pairs of one split and everything that is missing or broken in it.

    Parameters
    ----------
    root : Path
        The dataset folder.
    split : {"train", "test"}
    variant : {"blur", "blur_gamma"}
        Which blurry images to pair with the sharp ones.
    expected : int
        How many pairs the split should have.
    check_images : bool
        Also decode every image and compare the sizes of each blurry and sharp pair (slow).

    Returns
    -------
    SplitReport
        The usable pairs and the problems. A split without problems is also listed by
        :func:`svrnn_lite.data.gopro_pairs`, and the two lists must agree.

    Raises
    ------
    OSError
        If a folder cannot be read (permissions, a disconnected drive, ...).
    """
    report = SplitReport(split, expected)
    split_dir = root / split
    if not split_dir.is_dir():
        report.problems.append(f"{split}/: missing folder")
        return report
    sequences = sorted(p for p in split_dir.iterdir() if p.is_dir())
    if not sequences:
        report.problems.append(f"{split}/: no sequence folders in it")
    for sequence in sequences:
        _scan_sequence(root, sequence, variant, report, check_images)
    if not report.problems:
        _compare_with_package(root, report, variant)
    return report


def _scan_sequence(
    root: Path, sequence: Path, variant: str, report: SplitReport, check_images: bool
) -> None:
    """Add the usable pairs of one sequence folder to ``report``, and its problems."""
    folders = {"blurry": sequence / variant, "sharp": sequence / "sharp"}
    missing = [folder for folder in folders.values() if not folder.is_dir()]
    for folder in missing:
        report.problems.append(f"{_relative(folder, root)}/: missing folder")
    if missing:
        return
    blurry, sharp = _image_sizes(folders["blurry"]), _image_sizes(folders["sharp"])
    for name in sorted(blurry.keys() - sharp.keys()):
        report.problems.append(
            f"{_relative(folders['sharp'] / name, root)}: missing (its {variant}/ image exists)"
        )
    for name in sorted(sharp.keys() - blurry.keys()):
        report.problems.append(
            f"{_relative(folders['blurry'] / name, root)}: missing (its sharp/ image exists)"
        )
    usable = 0
    for name in sorted(blurry.keys() & sharp.keys()):
        pair = (folders["blurry"] / name, folders["sharp"] / name)
        problem = _file_problem(pair[0], blurry[name], root) or _file_problem(
            pair[1], sharp[name], root
        )
        if problem is None and check_images:
            problem = _image_problem(pair, root)
        if problem is None:
            report.pairs.append(pair)
            usable += 1
        else:
            report.problems.append(problem)
    report.sequences[sequence.name] = usable


def _image_sizes(folder: Path) -> dict[str, int]:
    """File name -> size in bytes of the images in ``folder`` (suffixes of ``IMAGE_SUFFIXES``)."""
    return {
        path.name: path.stat().st_size
        for path in folder.iterdir()
        if path.suffix.lower() in IMAGE_SUFFIXES
    }


def _file_problem(path: Path, size: int, root: Path) -> str | None:
    """Why a file cannot be used without opening it (empty, unreadable), or None."""
    if size == 0:
        return f"{_relative(path, root)}: empty file (0 bytes): download or unpack it again"
    if not os.access(path, os.R_OK):
        return f"{_relative(path, root)}: not readable: check its permissions"
    return None


def _image_problem(pair: tuple[Path, Path], root: Path) -> str | None:
    """Decode both images of a pair; why they cannot be used together, or None."""
    shapes = []
    for path in pair:
        try:
            shapes.append(load_image(path).shape)
        except (ImageError, OSError) as error:
            return f"{_relative(path, root)}: cannot be decoded ({_one_line(error)})"
    if shapes[0] != shapes[1]:
        (bh, bw, _), (sh, sw, _) = shapes
        return (
            f"{_relative(pair[0], root)} is {bw}x{bh} but {_relative(pair[1], root)} is {sw}x{sh}"
        )
    return None


def _compare_with_package(root: Path, report: SplitReport, variant: str) -> None:
    """Check that :func:`gopro_pairs`, which the trainer uses, lists the same pairs."""
    try:
        listed = gopro_pairs(root, report.split, variant)
    except (OSError, ValueError) as error:
        report.problems.append(f"{report.split}/: svrnn_lite.data.gopro_pairs refuses it: {error}")
        return
    if listed != report.pairs:
        report.problems.append(
            f"{report.split}/: svrnn_lite.data.gopro_pairs lists {len(listed)} pairs, "
            f"this check {len(report.pairs)}"
        )


def build_index(root: Path, reports: list[SplitReport], variant: str) -> dict:
    """The JSON index of the pairs found: paths relative to ``root``, pairs per sequence.

    Parameters
    ----------
    root : Path
        The dataset folder, absolute.
    reports : list of SplitReport
        One per split, from :func:`scan_split`.
    variant : str
        The blurry images paired with the sharp ones.

    Returns
    -------
    dict
        ``{"format", "root", "variant", "complete", "splits": {split: {"pairs": [[blurry,
        sharp], ...], "sequences": {name: pairs}}}}``; ``complete`` is false when the index
        was written with ``--allow-incomplete`` despite problems.
    """
    return {
        "format": INDEX_FORMAT,
        "root": str(root),
        "variant": variant,
        "complete": all(report.complete for report in reports),
        "splits": {
            report.split: {
                "pairs": [[_relative(b, root), _relative(s, root)] for b, s in report.pairs],
                "sequences": dict(report.sequences),
            }
            for report in reports
        },
    }


def write_index(index: dict, path: Path) -> None:
    """Write ``index`` as JSON to ``path`` atomically: a temporary file, then a rename.

    An interrupted or failed write leaves ``path`` as it was and no temporary file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as file:
        json.dump(index, file, indent=1)
        file.write("\n")


def print_summary(root: Path, reports: list[SplitReport], variant: str) -> None:
    """Print one table row per split, then every split's problems (the first ``MAX_LISTED``)."""
    print(f"GoPro dataset at {root} (blurry images: {variant}/)")
    print(f"{'split':<7}{'sequences':>10}{'pairs':>8}{'expected':>10}  status")
    for report in reports:
        status = "complete" if report.complete else "INCOMPLETE"
        print(
            f"{report.split:<7}{len(report.sequences):>10}{len(report.pairs):>8}"
            f"{report.expected:>10}  {status}"
        )
    for report in reports:
        if report.complete:
            continue
        print()
        words = SPLIT_WORDS[report.split]
        print(f"{report.split}: found {len(report.pairs)} of {report.expected} {words} pairs")
        for problem in report.problems[:MAX_LISTED]:
            print(f"  {problem}")
        if len(report.problems) > MAX_LISTED:
            print(f"  ... and {len(report.problems) - MAX_LISTED} more")
        if not report.problems:
            print(
                "  no frame lacks its partner, so whole frames or sequences are missing "
                f"({len(report.sequences)} sequences found, GOPRO_Large has "
                f"{SEQUENCES[report.split]}): unpack the download again"
            )


def train_command(root: Path, variant: str) -> str:
    """The ``svrnn-lite train`` command line of the book's GoPro recipe for this dataset."""
    variant_option = "" if variant == "blur" else f" --variant {variant}"
    return f"svrnn-lite train --data {shlex.quote(str(root))}{variant_option} {TRAIN_OPTIONS}"


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _os_message(error: OSError, path: Path) -> str:
    """One line naming the path an OS error is about, and what to do."""
    where = error.filename or path
    if isinstance(error, PermissionError):
        return f"cannot read {where}: permission denied: check its permissions (chmod -R u+rX)"
    return f"cannot read {where}: {error.strerror or error}: check the drive and the path"


def _command(root: Path) -> str:
    return f"python {shlex.quote(str(Path(__file__)))} {shlex.quote(str(root))}"


def main(argv=None) -> int:
    """Check the dataset the command line names and write its index; returns the exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: .venv/bin/python data_scripts/prepare_gopro.py ~/data/GOPRO_Large",
    )
    parser.add_argument("root", type=Path, help="the unpacked GOPRO_Large folder")
    parser.add_argument("--index", type=Path, help="where to write the index (ROOT/index.json)")
    parser.add_argument(
        "--variant", choices=("blur", "blur_gamma"), default="blur",
        help="blurry images to pair with the sharp ones (%(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--check-images", action="store_true",
        help="decode every image and compare blurry and sharp sizes (slow: 6428 PNG files)",
    )  # fmt: skip
    for split in ("train", "test"):
        parser.add_argument(
            f"--expect-{split}", type=int, default=EXPECTED[split], metavar="N",
            help=f"{SPLIT_WORDS[split]} pairs the dataset should have (%(default)s)",
        )  # fmt: skip
    parser.add_argument(
        "--allow-incomplete", action="store_true",
        help="write the index with the pairs that exist even if some are missing (exit code 0)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    try:
        root = check_root(args.root)
        index_path = (args.index or root / "index.json").absolute()
        expected = {"train": args.expect_train, "test": args.expect_test}
        reports = []
        for split in ("train", "test"):
            try:
                reports.append(
                    scan_split(root, split, args.variant, expected[split], args.check_images)
                )
            except OSError as error:
                raise DatasetError(_os_message(error, root / split)) from None
        print_summary(root, reports, args.variant)
        complete = all(report.complete for report in reports)
        if not complete and not args.allow_incomplete:
            n_problems = sum(len(r.problems) + (not r.count_ok) for r in reports)
            old = f"; the old {index_path} is left unchanged" if index_path.exists() else ""
            raise DatasetError(
                f"the dataset is incomplete ({n_problems} problem{'s' * (n_problems != 1)} "
                f"above): no index written"
                f"{old}; fix the files (or unpack the download again) or use --allow-incomplete"
            )
        if not reports[0].pairs:
            raise DatasetError(f"no usable training pairs in {root / 'train'}: nothing to index")
        try:
            write_index(build_index(root, reports, args.variant), index_path)
        except OSError as error:
            raise DatasetError(
                f"cannot write the index {index_path}: {error.strerror or error}: "
                "give a writable place with --index"
            ) from None
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    print(f"\nwrote {index_path}")
    if not complete:
        caveat = ""
        if any(report.problems for report in reports):
            caveat = (
                "; svrnn-lite train reads the folder, not the index, and stops at a sequence "
                "whose frames lack a partner or at a file it cannot decode: fix or move those first"
            )
        counts = " and ".join(f"{len(r.pairs)} {SPLIT_WORDS[r.split]}" for r in reports)
        print(f"warning: the dataset is incomplete; indexed the {counts} pairs found{caveat}",
              file=sys.stderr)  # fmt: skip
    print("train on it (a GPU is needed for the paper's network) with:")
    print(f"  {train_command(root, args.variant)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
