"""Peak memory of deblurring a large photo tile by tile, against the stated bound.

Tiled inference (:func:`svrnn_lite.inference.deblur`) keeps three full-size arrays (the input as
float32, the weighted output sum as float32 and the weight sum) and the activations of ONE tile,
so its peak memory grows by at most 28 bytes per pixel beyond that of a small photo of a few
tiles, which holds the fixed costs (Python, torch, the model, one tile's activations, the
allocator's slack after several tiles)::

    bound(H, W) = peak(reference) + (H * W - h * w) * (12 + 12 + 4) bytes

where the reference photo is h x w = 3 x 3 tiles. This script measures, each in a fresh
process, the peak resident memory (ru_maxrss) of

- the baseline: importing svrnn_lite and building the model,
- one tile: deblurring a single tile-sized image,
- the reference: a 3 x 3-tile photo deblurred in tiles,
- the full photo: an H x W photo (8000 x 6000 by default) deblurred in tiles,

and prints the bound and the ratio measured / bound (<= 1 means the bound holds), with the
time per megapixel. Run::

    .venv/bin/python benchmarks/bench_deblur_memory.py               # 8000 x 6000, ~2 minutes
    .venv/bin/python benchmarks/bench_deblur_memory.py --size 2000 1500
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
from svrnn_lite.models import build_model
from svrnn_lite.inference import deblur
from svrnn_lite.runtime import tune_malloc
tune_malloc()
height, width, tile, overlap = map(int, sys.argv[1:5])
model = build_model("lite").eval()
start = time.perf_counter()
if height:
    image = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    out = deblur(model, image, tile=tile, overlap=overlap)
    assert out.shape == image.shape and np.isfinite(out).all()
seconds = time.perf_counter() - start
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": seconds}))
"""


def measure(height: int, width: int, tile: int, overlap: int) -> dict:
    args = [sys.executable, "-c", CHILD, str(height), str(width), str(tile), str(overlap)]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, nargs=2, default=(8000, 6000), metavar=("W", "H"))
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=64)
    args = parser.parse_args(argv)
    width, height = args.size

    baseline = measure(0, 0, args.tile, args.overlap)
    one_tile = measure(args.tile, args.tile, args.tile, args.overlap)
    side = 3 * (args.tile - args.overlap) + args.overlap  # 3 x 3 tiles
    reference = measure(side, side, args.tile, args.overlap)
    photo = measure(height, width, args.tile, args.overlap)
    extra_mb = (height * width - side * side) * (12 + 12 + 4) / 2**20
    bound_mb = reference["peak_mb"] + extra_mb
    megapixels = height * width / 1e6

    print(f"lite model, {width}x{height} photo, {args.tile} px tiles, {args.overlap} px overlap")
    print(f"{'':40s}{'peak MB':>10s}")
    print(f"{'import + model (baseline)':40s}{baseline['peak_mb']:10.0f}")
    print(f"{'one tile through the model':40s}{one_tile['peak_mb']:10.0f}")
    print(f"{f'reference photo {side}x{side} (3x3 tiles)':40s}{reference['peak_mb']:10.0f}")
    print(f"{'+ 28 B per extra pixel':40s}{extra_mb:10.0f}")
    print(f"{'bound = reference + extra pixels':40s}{bound_mb:10.0f}")
    print(f"{'measured, whole photo':40s}{photo['peak_mb']:10.0f}")
    print(f"measured / bound: {photo['peak_mb'] / bound_mb:.2f}  (<= 1.00: the bound holds)")
    print(f"time: {photo['seconds']:.1f} s, {photo['seconds'] / megapixels:.2f} s per megapixel")
    return 0 if photo["peak_mb"] <= bound_mb else 1


if __name__ == "__main__":
    sys.exit(main())
