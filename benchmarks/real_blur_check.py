"""Does training on synthetic blur transfer to real blur? Score a model on real GoPro crops.

Reads the real GoPro training crops (128x128, ``blur`` variant, with their sharp frames) in
``../shared/realblur/gopro_train_crops/{blur,sharp}`` next to the repository (or the folder given
as an argument), deblurs each with the shipped model (or ``--checkpoint``), and prints per-crop
and mean PSNR/SSIM of the blurry input and of the output (GoPro convention). The model never
trained on these crops: they are for checking only, read and never copied or shown. With
``--unpaired DIR --out DIR`` it also deblurs real photos without a sharp reference (e.g.
``../shared/realblur/real_unpaired``) and writes side-by-side comparisons to look at yourself.

Without the crops the script says so and exits with status 0.

Usage::

    .venv/bin/python benchmarks/real_blur_check.py [REAL_DIR] [--checkpoint runs/x/last.pt]
    .venv/bin/python benchmarks/real_blur_check.py --unpaired ../shared/realblur/real_unpaired \
        --out /tmp/real_unpaired
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from svrnn_lite import load_pretrained
from svrnn_lite.data import PairDataset
from svrnn_lite.evaluate import evaluate, summarise
from svrnn_lite.images import load_image, save_image
from svrnn_lite.inference import deblur
from svrnn_lite.metrics import CONVENTION
from svrnn_lite.models import load_checkpoint

SHARED = Path(__file__).resolve().parents[2] / "shared" / "realblur"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("real", nargs="?", type=Path, default=SHARED / "gopro_train_crops")
    parser.add_argument("--checkpoint", type=Path, help="a training checkpoint (default: shipped)")
    parser.add_argument("--unpaired", type=Path, help="folder of real blurry photos to deblur")
    parser.add_argument("--out", type=Path, help="where to write the unpaired comparisons")
    args = parser.parse_args(argv)
    model = load_checkpoint(args.checkpoint) if args.checkpoint else load_pretrained("lite")
    model.eval()

    if (args.real / "blur").is_dir() and (args.real / "sharp").is_dir():
        pairs = [(b, args.real / "sharp" / b.name) for b in sorted(args.real.glob("blur/*.png"))]
        rows = evaluate(model, PairDataset(pairs))
        for row in rows:
            print(f"{Path(row['name']).name:>24}  PSNR {row['psnr_blurry']:6.2f} -> "
                  f"{row['psnr']:6.2f} dB ({row['psnr'] - row['psnr_blurry']:+.2f})")  # fmt: skip
        mean = summarise(rows)
        gains = np.array([r["psnr"] - r["psnr_blurry"] for r in rows])
        print(
            f"{len(rows)} real GoPro crops: PSNR {mean['psnr_blurry']:.2f} -> "
            f"{mean['psnr']:.2f} dB ({mean['psnr_gain']:+.2f}; "
            f"{int((gains > 0).sum())} of {len(rows)} improved), "
            f"SSIM {mean['ssim_blurry']:.3f} -> {mean['ssim']:.3f}"
        )
        print(CONVENTION)
    else:
        print(f"no real crops at {args.real} (expected blur/ and sharp/ inside): skipped")

    if args.unpaired:
        if not args.out:
            parser.error("--unpaired needs --out")
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
