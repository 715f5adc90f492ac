"""How long does one synthetic blur pair take? Target: a 640x360 pair well under 0.5 s.

Times :func:`svrnn_lite.blur.make_blur_pair` at the sizes the project uses (128x128 crops for
on-the-fly training data, 256x256 training pairs, 640x360 test pairs) with the slowest settings
GoPro allows (13 frames) and three moving objects, and, side by side in the same process, the part
spent warping frames (the floor: 13 bilinear warps of the background). Prints medians.

Usage::

    .venv/bin/python benchmarks/blur_speed.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from skimage import data
from skimage.transform import resize

from svrnn_lite.blur import make_blur_pair
from svrnn_lite.motion import Trajectory
from svrnn_lite.render import render_frames

TARGET_S = 0.5  # for a 640x360 pair


def median_seconds(fn, repeat: int) -> float:
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per size (%(default)s)")
    args = parser.parse_args(argv)
    n = 13  # a steady pan with a slight turn, for the warp-only timing
    shaky = Trajectory(np.linspace(-9, 9, n), np.linspace(6, -6, n), np.linspace(-0.01, 0.01, n))
    print(f"{'size':>10s} {'pair (s)':>9s} {'warps only (s)':>15s} {'pair / target':>14s}")
    for h, w in ((128, 128), (256, 256), (360, 640)):
        canvas = resize(data.astronaut(), (h + 64, w + 64), order=1).astype(np.float32)
        pair = median_seconds(
            lambda seed, c=canvas, s=(h, w): make_blur_pair(c, seed, 13, s, n_objects=3),
            args.repeat,
        )
        warps = median_seconds(
            lambda _, c=canvas, s=(h, w): render_frames(c, (32, 32), s, shaky), args.repeat
        )
        print(f"{w:>4d}x{h:<5d} {pair:9.3f} {warps:15.3f} {pair / TARGET_S:14.2f}")
    print(f"target: a 640x360 pair in under {TARGET_S} s (13 frames, 3 objects, noise, 8-bit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
