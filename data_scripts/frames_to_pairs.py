"""Make real blurry/sharp pairs from a folder of consecutive 240-fps frames, GoPro's own way.

Nah et al. (2017) made every GoPro pair by averaging N = 7..13 consecutive sharp frames of a
240-fps video (the gamma-encoded values, their ``blur`` variant) and keeping the centre frame as
the target. Given such frames (for example ``../shared/realblur/gopro_frames/GOPR0477_11_00``)
this script does the same and writes the pairs in the GoPro layout, so that ``svrnn-lite
train --data`` and ``svrnn-lite eval --data`` read them like GoPro::

    .venv/bin/python data_scripts/frames_to_pairs.py \\
        ../shared/realblur/gopro_frames/GOPR0477_11_00 /somewhere/gopro0477

- ``train/<name>/{blur,blur_gamma,sharp}/<centre>.png``: one pair per centre frame whose window
  lies wholly before the held-out block, N drawn from 7..13 (seeded; ``--n-frames 13 25``
  averages more frames, as a longer exposure or a faster camera would); ``blur`` averages the
  encoded values and ``blur_gamma`` the same frames in linear light, as GoPro ships both;
- ``test/<name>/{blur,blur_gamma,sharp}/<centre>.png``: pairs whose windows lie wholly inside
  the last ``--held-out`` frames (60 by default), every ``--test-every``-th centre: for
  validation only; no training window touches these frames.

The pairs are the data's, not ours to redistribute: write them outside the repository. Images
already written are kept, so an interrupted run continues (and a folder made before
``blur_gamma`` existed gains it); ``pairs.json`` records the window of every pair.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from svrnn_lite.atomic import atomic_path
from svrnn_lite.blur import GOPRO_GAMMA
from svrnn_lite.frames import N_FRAMES, average_window, frame_windows
from svrnn_lite.images import save_image
from svrnn_lite.layout import IMAGE_SUFFIXES

VARIANTS = ("blur", "blur_gamma", "sharp")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("frames", type=Path, help="folder of consecutive sharp frames")
    parser.add_argument("out", type=Path, help="output folder (GoPro layout)")
    parser.add_argument("--held-out", type=int, default=60, help="last frames kept for testing")
    parser.add_argument("--test-every", type=int, default=4, help="test centre spacing (frames)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the window lengths")
    parser.add_argument(
        "--n-frames", type=int, nargs=2, default=N_FRAMES, metavar=("MIN", "MAX"),
        help="frames averaged per pair, drawn from MIN..MAX (GoPro's %(default)s; more frames "
        "make longer exposures)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    files = sorted(p for p in args.frames.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        parser.error(f"no frames in {args.frames}")
    try:
        plan = frame_windows(
            len(files), args.held_out, args.test_every, args.seed, tuple(args.n_frames)
        )
    except ValueError as error:
        parser.error(str(error))
    name = args.frames.name
    record = {
        "frames": str(args.frames),
        "held_out": args.held_out,
        "n_frames": list(args.n_frames),
        "pairs": {},
    }
    for split, split_windows in plan.items():
        for first, n in split_windows:
            centre = files[first + n // 2]
            paths = {v: args.out / split / name / v / f"{centre.stem}.png" for v in VARIANTS}
            record["pairs"][f"{split}/{centre.stem}"] = [files[first].name, n]
            missing = [variant for variant, path in paths.items() if not path.exists()]
            if not missing:
                continue
            blurred, sharp = average_window(files, first, n)
            blurred_gamma, _ = average_window(files, first, n, gamma=GOPRO_GAMMA)
            images = {"blur": blurred, "blur_gamma": blurred_gamma, "sharp": sharp}
            for variant in missing:
                paths[variant].parent.mkdir(parents=True, exist_ok=True)
                save_image(paths[variant], images[variant])
        print(f"{split}: {len(split_windows)} pairs in {args.out / split / name}")
    with atomic_path(args.out / "pairs.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
