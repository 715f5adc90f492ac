"""Does the model deblur real blur? Score it on real GoPro pairs it never trained on.

Three sets of real pairs, read from ``../shared/realblur`` next to the repository (or
``--shared DIR``) and never copied or shown:

- ``full pairs``: the 4 full 1280x720 pairs of training sequence GOPR0374_11_00
  (``gopro_train_pairs/{blur,sharp}``);
- ``crops``: the 30 aligned 128x128 crops of sequence GOPR0372_07_00 cut by the SVRNN authors
  (``gopro_train_crops/{blur,sharp}``);
- ``held-out block``: pairs averaged from the last 60 frames of ``gopro_frames/GOPR0477_11_00``
  (:func:`svrnn_lite.frames.frame_windows`, the same windows as the held-out split that
  ``data_scripts/frames_to_pairs.py`` writes), frames no training window touches.

For each set it prints the mean PSNR of the blurry inputs and of the outputs (GoPro convention),
the mean gain and the share of images improved; then one table of all images binned by input
PSNR (under 24, 24-28, 28-32, over 32 dB). ``--per-image`` also lists every image with its
brightening (``realism_check.brightening``: about 0 for pairs averaged as GoPro ``blur``, above
0 for pairs averaged in linear light), which tells the two kinds of pair apart in the full
pairs. ``--json FILE`` also writes the numbers. The model is
the shipped one unless ``--checkpoint`` names another. A set whose files are absent is skipped
with a message (exit status 0). With ``--unpaired DIR --out DIR`` it also deblurs real photos
without a sharp reference (e.g. ``../shared/realblur/real_unpaired``) into side-by-side
comparisons to look at yourself.

Usage::

    .venv/bin/python benchmarks/real_blur_check.py [--checkpoint runs/x/last.pt] [--json r.json]
    .venv/bin/python benchmarks/real_blur_check.py --per-image    # with each image's brightening
    .venv/bin/python benchmarks/real_blur_check.py --unpaired ../shared/realblur/real_unpaired \\
        --out /tmp/real_unpaired
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from realism_check import brightening

from svrnn_lite import load_pretrained
from svrnn_lite.atomic import atomic_path
from svrnn_lite.checkpoint import load_checkpoint
from svrnn_lite.data import PairDataset
from svrnn_lite.evaluate import evaluate
from svrnn_lite.frames import average_window, frame_windows
from svrnn_lite.images import load_image, save_image
from svrnn_lite.inference import deblur
from svrnn_lite.layout import IMAGE_SUFFIXES
from svrnn_lite.metrics import CONVENTION

SHARED = Path(__file__).resolve().parents[2] / "shared" / "realblur"
FRAMES = "gopro_frames/GOPR0477_11_00"
#: Input-PSNR bins of the summary table, dB.
BINS = (24.0, 28.0, 32.0)


class FramePairs:
    """The held-out pairs of a folder of frames, made in memory when first asked for
    (``gamma``: averaged in linear light, GoPro ``blur_gamma``; None: GoPro ``blur``)."""

    def __init__(self, folder: Path, gamma: float | None = None):
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self.windows = frame_windows(len(self.files))["test"]
        self.split = f"{folder.name}/held-out"
        self.gamma = gamma

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int):
        return average_window(self.files, *self.windows[index], gamma=self.gamma)


def real_sets(shared: Path) -> dict:
    """The sets of real pairs found under ``shared`` (missing ones are left out)."""
    sets = {}
    for name, folder in (("full pairs", "gopro_train_pairs"), ("crops", "gopro_train_crops")):
        blur = shared / folder / "blur"
        if blur.is_dir():
            pairs = [(b, shared / folder / "sharp" / b.name) for b in sorted(blur.glob("*.png"))]
            sets[name] = PairDataset(pairs)
    if (shared / FRAMES).is_dir():
        sets["held-out block"] = FramePairs(shared / FRAMES)
    return sets


def summary(rows: list[dict]) -> dict:
    """Mean input and output PSNR, mean gain and share improved of some rows."""
    gains = np.array([r["psnr"] - r["psnr_blurry"] for r in rows])
    return {
        "images": len(rows),
        "psnr_blurry": float(np.mean([r["psnr_blurry"] for r in rows])),
        "psnr": float(np.mean([r["psnr"] for r in rows])),
        "gain": float(gains.mean()),
        "improved": float((gains > 0).mean()),
        "worst": float(gains.min()),
    }


def binned(rows: list[dict]) -> dict:
    """:func:`summary` of the rows in each input-PSNR bin of :data:`BINS`."""
    edges = (-np.inf, *BINS, np.inf)
    names = [f"under {BINS[0]:.0f}"]
    names += [f"{a:.0f}-{b:.0f}" for a, b in zip(BINS[:-1], BINS[1:], strict=True)]
    names += [f"over {BINS[-1]:.0f}"]
    table = {}
    for name, low, high in zip(names, edges[:-1], edges[1:], strict=True):
        inside = [r for r in rows if low <= r["psnr_blurry"] < high]
        if inside:
            table[name] = summary(inside)
    return table


def add_brightening(rows: list[dict], pairs) -> None:
    """Give every row the brightening of its pair (rows in the order of ``pairs``)."""
    for row, (blurred, sharp) in zip(rows, (pairs[i] for i in range(len(pairs))), strict=True):
        row["brightening"] = brightening(blurred, sharp)


def _image_line(row: dict) -> str:
    gain = row["psnr"] - row["psnr_blurry"]
    return (
        f"{'':>16}  {Path(row['name']).stem[:40]:<40}  PSNR {row['psnr_blurry']:6.2f} -> "
        f"{row['psnr']:6.2f} dB  gain {gain:+.2f}  brightening {row['brightening']:+.3f}"
    )


def _line(label: str, s: dict) -> str:
    return (
        f"{label:>16}  {s['images']:3d} images  PSNR {s['psnr_blurry']:6.2f} -> {s['psnr']:6.2f} "
        f"dB  gain {s['gain']:+.2f}  improved {100 * s['improved']:3.0f}%  worst {s['worst']:+.2f}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="the realblur folder")
    parser.add_argument("--checkpoint", type=Path, help="a training checkpoint (default: shipped)")
    parser.add_argument("--json", type=Path, help="write the numbers to this file")
    parser.add_argument("--per-image", action="store_true",
                        help="list every image with its gain and brightening")  # fmt: skip
    parser.add_argument("--unpaired", type=Path, help="folder of real blurry photos to deblur")
    parser.add_argument("--out", type=Path, help="where to write the unpaired comparisons")
    args = parser.parse_args(argv)
    if args.unpaired and not args.out:
        parser.error("--unpaired needs --out")
    model = load_checkpoint(args.checkpoint) if args.checkpoint else load_pretrained("lite")
    model.eval()

    sets = real_sets(args.shared)
    if not sets:
        print(f"no real GoPro pairs under {args.shared}: skipped")
    results, every_row = {}, []
    for name, pairs in sets.items():
        rows = evaluate(model, pairs)
        every_row += rows
        results[name] = {"summary": summary(rows), "rows": rows}
        print(_line(name, results[name]["summary"]))
        if args.per_image:
            add_brightening(rows, pairs)
            for row in rows:
                print(_image_line(row))
    if every_row:
        table = binned(every_row)
        print("by input PSNR (dB), all sets together:")
        for name, s in table.items():
            print(_line(name, s))
        print(CONVENTION)
        if args.json:
            record = {
                "model": str(args.checkpoint or "shipped lite"),
                "sets": results,
                "by_input_psnr": table,
                "convention": CONVENTION,
            }
            with atomic_path(args.json) as tmp:
                tmp.write_text(json.dumps(record, indent=1) + "\n")

    if args.unpaired:
        args.out.mkdir(parents=True, exist_ok=True)
        for path in sorted(args.unpaired.iterdir()):
            image = load_image(path)
            restored = np.clip(deblur(model, image, tile=512), 0.0, 1.0)
            save_image(args.out / f"{path.stem}_blurry_vs_deblurred.png",
                       np.concatenate([image, restored], axis=1))  # fmt: skip
            print(f"wrote {args.out / path.stem}_blurry_vs_deblurred.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
