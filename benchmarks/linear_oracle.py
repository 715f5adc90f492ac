"""How much of the blur could a filter remove that knew the answer? A ceiling for the PSNR gain.

For every pair of the synthetic test split this fits, per colour channel, the K x K linear filter
(plus a constant) that maps the blurry image closest to the SHARP one in the least-squares sense,

    w* = argmin_w || P w - s ||^2,   P = the K x K neighbourhoods of the blurry channel,

applies it and scores the result like the model (GoPro convention). No blind method can know
``s``, and one filter per image cannot follow spatially variant blur (rotation, moving objects),
so the "oracle" gain is not a bound on a network, but it shows how much a global deconvolution
could buy on this data: the shipped model is printed next to it. The fit uses every
``--stride``-th neighbourhood (all of them for the filter's application).

Usage::

    .venv/bin/python benchmarks/linear_oracle.py              # 24 test pairs, 9x9, ~1 minute
    .venv/bin/python benchmarks/linear_oracle.py --kernel 15 --pairs 8
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from svrnn_lite import load_pretrained
from svrnn_lite.data import SyntheticPairs
from svrnn_lite.evaluate import evaluate
from svrnn_lite.metrics import CONVENTION, psnr
from svrnn_lite.synth import N_TEST


def oracle_filter(blurred: np.ndarray, sharp: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """The blurry image filtered, channel by channel, with its least-squares K x K filter."""
    radius = kernel // 2
    out = np.empty_like(blurred)
    for c in range(3):
        padded = np.pad(blurred[..., c], radius, mode="reflect")
        patches = sliding_window_view(padded, (kernel, kernel)).reshape(-1, kernel * kernel)
        patches = np.concatenate([patches, np.ones((len(patches), 1), patches.dtype)], axis=1)
        target = sharp[..., c].reshape(-1)
        w, *_ = np.linalg.lstsq(patches[::stride], target[::stride], rcond=None)
        out[..., c] = (patches @ w).reshape(blurred.shape[:2])
    return np.clip(out, 0.0, 1.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", type=int, default=9, help="filter size K (odd)")
    parser.add_argument("--pairs", type=int, default=N_TEST, help="test pairs (%(default)s)")
    parser.add_argument("--stride", type=int, default=7, help="fit on every n-th pixel")
    args = parser.parse_args(argv)
    if args.kernel < 1 or args.kernel % 2 == 0:
        parser.error(f"--kernel must be an odd number >= 1, got {args.kernel}")

    pairs = SyntheticPairs("test", n=args.pairs)
    rows = evaluate(load_pretrained("lite"), pairs)
    print(f"{'pair':>4s} {'blurry':>7s} {'oracle':>7s} {'model':>7s}   (PSNR dB, {CONVENTION})")
    oracle = []
    for i, row in enumerate(rows):
        blurred, sharp = pairs[i]
        oracle.append(psnr(oracle_filter(blurred, sharp, args.kernel, args.stride), sharp))
        print(f"{i:4d} {row['psnr_blurry']:7.2f} {oracle[-1]:7.2f} {row['psnr']:7.2f}", flush=True)
    blurry = np.mean([r["psnr_blurry"] for r in rows])
    model = np.mean([r["psnr"] for r in rows])
    print(
        f"mean {blurry:7.2f} {np.mean(oracle):7.2f} {model:7.2f}\n"
        f"gain over the blurry input: {args.kernel}x{args.kernel} oracle filter "
        f"{np.mean(oracle) - blurry:+.2f} dB, shipped lite model {model - blurry:+.2f} dB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
