"""Peak memory of deblurring a large photo tile by tile, against the stated bound.

Tiled inference (:func:`svrnn_lite.inference.deblur`) holds two full-size arrays, the caller's
input (3 bytes per pixel as uint8, 12 as float32) and the float32 output (12 bytes per pixel),
plus the activations of ONE tile; tiles are converted to float one at a time and the blending
weights are normalised with two 1-D sums, so nothing else grows with the photo. The command line
(``svrnn-lite deblur``) reads the file as float32 (12 bytes per pixel; the decoded file is freed
right away), deblurs it, drops the input and writes the output through an 8- or 16-bit
copy made band by band, so it too holds two float32 images at most. Peak memory therefore grows by
at most (input + 12) bytes per pixel beyond that of a small photo of a few tiles, which holds the
fixed costs (Python, torch, the model, one tile's activations), plus a slack for glibc's heap,
which fragments a little more with every few hundred tiles (deblurring one 512 px tile 120 times
in one process grew the resident memory by 46 MB, 15% of the tile's working memory, in steps that
level off)::

    bound(H, W) = peak(reference) + (H * W - h * w) * (input bytes per pixel + 12)
                  + SLACK * (peak(reference) - peak(baseline))

where the reference photo is h x w = 3 x 3 tiles. This script measures, each in a fresh
process, the peak resident memory (ru_maxrss) of

- the baseline: importing svrnn_lite and building the model,
- one tile: deblurring a single tile-sized image,
- the reference: a 3 x 3-tile photo deblurred in tiles,
- the full photo: an H x W photo (8000 x 6000 by default) deblurred in tiles,

and prints the bound and the ratio measured / bound (<= 1 means the bound holds), with the
time per megapixel. Run::

    .venv/bin/python benchmarks/bench_deblur_memory.py                  # uint8 array, ~2 min
    .venv/bin/python benchmarks/bench_deblur_memory.py --input float32  # float32 array
    .venv/bin/python benchmarks/bench_deblur_memory.py --input jpeg     # svrnn-lite deblur
    .venv/bin/python benchmarks/bench_deblur_memory.py --size 2000 1500
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SLACK = 0.2  # heap fragmentation allowance, as a share of the reference's working memory

CHILD = r"""
import json, resource, sys, time
import numpy as np
from svrnn_lite.models import build_model
from svrnn_lite.inference import deblur
from svrnn_lite.runtime import tune_malloc
tune_malloc()
height, width, tile, overlap = map(int, sys.argv[1:5])
dtype = sys.argv[5]
model = build_model("lite").eval()
start = time.perf_counter()
if height:
    rng = np.random.default_rng(0)
    if dtype == "uint8":
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    else:
        image = rng.random((height, width, 3), dtype=np.float32)
    out = deblur(model, image, tile=tile, overlap=overlap)
    assert out.shape == image.shape and all(np.isfinite(row).all() for row in out)
seconds = time.perf_counter() - start
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": seconds}))
"""


CHILD_CLI = r"""
import json, resource, sys, time
from pathlib import Path
photo = Path(sys.argv[1])
start = time.perf_counter()
if photo.name:
    from svrnn_lite.cli import main
    code = main(["deblur", str(photo), "-o", str(photo.parent / "out"), *sys.argv[2:]])
    assert code == 0 and len(list((photo.parent / "out").glob("photo*.jpg"))) == 1
else:
    from svrnn_lite import load_pretrained
    load_pretrained("lite")
seconds = time.perf_counter() - start
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": seconds}))
"""


def write_jpeg(folder: Path, height: int, width: int) -> Path:
    """A JPEG test photo with detail at every scale the network sees."""
    import numpy as np
    from PIL import Image

    small = np.random.default_rng(0).integers(0, 256, (height // 8 + 1, width // 8 + 1, 3))
    big = np.repeat(np.repeat(small.astype(np.uint8), 8, 0), 8, 1)[:height, :width]
    Image.fromarray(big).save(folder / "photo.jpg", quality=90)
    return folder / "photo.jpg"


def measure(height: int, width: int, tile: int, overlap: int, kind: str) -> dict:
    """Peak memory of one fresh process deblurring a photo: an array of dtype ``kind`` through
    the API, or (``kind`` "jpeg") a file through the command line; 0 x 0: just the model."""
    if kind != "jpeg":
        args = [CHILD, str(height), str(width), str(tile), str(overlap), kind]
        return run_child(args)
    with tempfile.TemporaryDirectory() as folder:
        photo = write_jpeg(Path(folder), height, width) if height else Path("")
        return run_child([CHILD_CLI, str(photo), "--tile", str(tile), "--overlap", str(overlap)])


def run_child(args: list[str]) -> dict:
    result = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"measurement failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, nargs=2, default=(8000, 6000), metavar=("W", "H"))
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument(
        "--input",
        choices=["uint8", "float32", "jpeg"],
        default="uint8",
        help="an array of this dtype given to deblur(), or a JPEG file given to svrnn-lite deblur",
    )
    args = parser.parse_args(argv)
    width, height = args.size

    baseline = measure(0, 0, args.tile, args.overlap, args.input)
    one_tile = measure(args.tile, args.tile, args.tile, args.overlap, args.input)
    side = 3 * (args.tile - args.overlap) + args.overlap  # 3 x 3 tiles
    reference = measure(side, side, args.tile, args.overlap, args.input)
    photo = measure(height, width, args.tile, args.overlap, args.input)
    per_pixel = (3 if args.input == "uint8" else 12) + 12  # input (float32 from a file) + output
    extra_mb = (height * width - side * side) * per_pixel / 2**20
    slack_mb = SLACK * (reference["peak_mb"] - baseline["peak_mb"])
    bound_mb = reference["peak_mb"] + extra_mb + slack_mb
    megapixels = height * width / 1e6

    print(
        f"lite model, {width}x{height} photo ({args.input}), {args.tile} px tiles, "
        f"{args.overlap} px overlap"
    )
    print(f"{'':40s}{'peak MB':>10s}")
    print(f"{'import + model (baseline)':40s}{baseline['peak_mb']:10.0f}")
    print(f"{'one tile through the model':40s}{one_tile['peak_mb']:10.0f}")
    print(f"{f'reference photo {side}x{side} (3x3 tiles)':40s}{reference['peak_mb']:10.0f}")
    print(f"{f'+ {per_pixel} B per extra pixel':40s}{extra_mb:10.0f}")
    print(f"{f'+ {SLACK:.0%} heap slack of the reference':40s}{slack_mb:10.0f}")
    print(f"{'bound = reference + extra pixels + slack':40s}{bound_mb:10.0f}")
    print(f"{'measured, whole photo':40s}{photo['peak_mb']:10.0f}")
    print(f"measured / bound: {photo['peak_mb'] / bound_mb:.2f}  (<= 1.00: the bound holds)")
    print(f"time: {photo['seconds']:.1f} s, {photo['seconds'] / megapixels:.2f} s per megapixel")
    return 0 if photo["peak_mb"] <= bound_mb else 1


if __name__ == "__main__":
    sys.exit(main())
