"""How close is the synthetic blur to GoPro's? Compare statistics of blurry/sharp pairs.

Reads the 30 real GoPro training crops (128x128; which of GoPro's variants, the brightening below
says) in
``../shared/realblur/gopro_train_crops/{blur,sharp}`` next to the repository (or the folder given
as an argument), cuts one random 128x128 crop from each of the first ``--n`` synthetic training
pairs made from photographs (:func:`svrnn_lite.synth.synth_pair`, the default dataset unless
``--shake`` or ``--object-speed`` override the motion; the dead-leaves pairs are left out, as their
content is not a photograph's; 300 pairs take about a minute), and prints for both:

- PSNR(blur, sharp) in dB on 8-bit RGB values: how far the blurry input is from the target;
- gradient-energy ratio ``sum |grad blur|^2 / sum |grad sharp|^2`` of the grey image: how much of
  the sharp image's detail survives the blur (1 = none lost);
- the noise level of the blurry and of the sharp image in 8-bit grey levels (Immerkaer's estimate,
  which fine texture also raises): averaging more frames lowers the blurry image's;
- the brightening ``mean(blur - sharp) / rms(blur - sharp)``: motion only moves the content, so
  averaging the encoded values (GoPro ``blur``) leaves the mean nearly unchanged, while averaging
  in linear light (``blur_gamma``) brightens, most where bright and dark content mix;

and the share of nearly static crops, whose input is above :data:`STATIC_PSNR`.

The real crops are for development only: they are read, never copied or shown. Without them the
script says so and exits with status 0.

``--photos DIR`` synthesises from a folder of photographs instead (``svrnn-lite synth
--photos``), ``--also PAIRS ...`` adds random crops of the training pairs of GoPro-layout
folders (e.g. real pairs written by ``data_scripts/frames_to_pairs.py``) to the comparison, and
``--variant blur_gamma`` takes the synthetic and ``--also`` pairs averaged in linear light.

Usage::

    .venv/bin/python benchmarks/realism_check.py [REAL_DIR] [--n 300] [--seed 0]
        [--shake PX_PER_FRAME] [--object-speed PX_PER_FRAME] [--photos DIR] [--also PAIRS ...]
        [--variant blur_gamma]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

from svrnn_lite.images import load_image
from svrnn_lite.layout import gopro_pairs
from svrnn_lite.metrics import psnr
from svrnn_lite.synth import DEAD_LEAVES, sequence_of, synth_pair

DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "realblur" / "gopro_train_crops"
CROP = 128
#: A crop whose blurry input is above this PSNR is nearly static: it teaches only to copy the
#: input (``svrnn-lite train --static-psnr`` redraws such training crops).
STATIC_PSNR = 30.0


def gradient_energy(image: np.ndarray) -> float:
    """Sum of squared finite differences of the grey image."""
    grey = image.mean(axis=-1)
    return float((np.diff(grey, axis=0) ** 2).sum() + (np.diff(grey, axis=1) ** 2).sum())


def noise_sigma(image: np.ndarray) -> float:
    """Standard deviation of the noise of the grey image, in 8-bit levels (Immerkaer 1996).

    The mean absolute response to the mask [1 -2 1]^T [1 -2 1] (a second difference along each
    axis), which cancels smooth image content, scaled to a Gaussian's standard deviation.
    """
    grey = image.mean(axis=-1) * 255
    response = np.diff(np.diff(grey, 2, axis=0), 2, axis=1)
    return float(np.sqrt(np.pi / 2) * np.abs(response).mean() / 6)


def brightening(blurred: np.ndarray, sharp: np.ndarray) -> float:
    """``mean(blurred - sharp) / rms(blurred - sharp)``: about 0 for averages of the encoded values,
    above 0 for averages in linear light (Jensen's inequality: a power mean is above the mean).

    >>> sharp = np.zeros((4, 4, 3)); sharp[:, :2] = 1.0
    >>> round(brightening(np.full_like(sharp, 0.5), sharp), 3)  # the codes averaged
    0.0
    >>> round(brightening(np.full_like(sharp, 0.5 ** (1 / 2.2)), sharp), 3)  # the light averaged
    0.418
    """
    difference = blurred - sharp
    return float(difference.mean() / np.sqrt((difference**2).mean()))


def statistics(pairs) -> dict[str, np.ndarray]:
    """PSNR, gradient-energy ratio, noise levels and brightening of each (blur, sharp) pair."""
    pairs = list(pairs)
    return {
        "PSNR(blur, sharp) dB": np.array([psnr(b, s) for b, s in pairs]),
        "gradient energy blur/sharp": np.array(
            [gradient_energy(b) / gradient_energy(s) for b, s in pairs]
        ),
        "noise blur (grey levels)": np.array([noise_sigma(b) for b, _ in pairs]),
        "noise sharp (grey levels)": np.array([noise_sigma(s) for _, s in pairs]),
        "brightening mean/rms(b-s)": np.array([brightening(b, s) for b, s in pairs]),
    }


def real_pairs(folder: Path):
    for blur_path in sorted((folder / "blur").glob("*.png")):
        yield load_image(blur_path), load_image(folder / "sharp" / blur_path.name)


def random_crop(blurred, sharp, rng):
    top, left = (rng.integers(s - CROP + 1) for s in sharp.shape[:2])
    window = np.s_[top : top + CROP, left : left + CROP]
    return blurred[window], sharp[window]


def synthetic_pairs(n: int, seed: int, photos=None, variant="blur", **blur_kwargs):
    """128x128 crops at random places of the synthetic training pairs made from photographs."""
    rng = np.random.default_rng(seed)
    indices = (
        range(n)
        if photos
        else (i for i in itertools.count() if sequence_of("train", i)[0] != DEAD_LEAVES)
    )
    for i in itertools.islice(indices, n):
        _, pair, blurred_gamma = synth_pair("train", i, seed, photos=photos, **blur_kwargs)
        blurred = blurred_gamma if variant == "blur_gamma" else pair.blurred
        yield random_crop(blurred, pair.sharp, rng)


def folder_pairs(root: Path, n: int, seed: int, variant="blur"):
    """``n`` random 128x128 crops of the training pairs of a GoPro-layout folder."""
    rng = np.random.default_rng(seed)
    pairs = gopro_pairs(root, "train", variant)
    for i in rng.integers(len(pairs), size=n):
        yield random_crop(load_image(pairs[i][0]), load_image(pairs[i][1]), rng)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("real", nargs="?", type=Path, default=DEFAULT_REAL, help="real crops")
    parser.add_argument("--n", type=int, default=300, help="synthetic crops (%(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (%(default)s)")
    parser.add_argument("--shake", type=float, help="camera speed, px/frame (default: package's)")
    parser.add_argument("--object-speed", type=float, help="object speed, px/frame (same)")
    parser.add_argument("--photos", type=Path, help="synthesise from this folder of photos")
    parser.add_argument(
        "--also", type=Path, nargs="*", default=[],
        help="GoPro-layout folders whose training pairs to compare too (crops of each)",
    )  # fmt: skip
    parser.add_argument(
        "--variant", default="blur", choices=["blur", "blur_gamma"],
        help="the synthetic and --also pairs' blurry images (%(default)s)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    overrides = {
        name: value
        for name, value in (("shake", args.shake), ("object_speed", args.object_speed))
        if value is not None
    }
    if not (args.real / "blur").is_dir() or not (args.real / "sharp").is_dir():
        print(
            f"no real crops at {args.real} (expected blur/ and sharp/ inside): nothing to compare"
        )
        return 0

    sets = {"real": statistics(real_pairs(args.real))}
    sets["synthetic"] = statistics(
        synthetic_pairs(args.n, args.seed, photos=args.photos, variant=args.variant, **overrides)
    )
    for folder in args.also:
        sets[folder.name[:10]] = statistics(folder_pairs(folder, args.n, args.seed, args.variant))
    n_real = len(next(iter(sets["real"].values())))
    print(f"real: {n_real} GoPro crops from {args.real}")
    print(
        f"synthetic: {args.n} random {CROP}x{CROP} crops of svrnn_lite.synth train pairs "
        f"from {args.photos or 'the bundled photographs'}, seed {args.seed}, "
        f"settings {overrides or 'default'}, {args.variant}"
    )
    for folder in args.also:
        print(f"{folder.name[:10]}: {args.n} random {CROP}x{CROP} crops of {folder}/train, "
              f"{args.variant}")  # fmt: skip
    print(f"{'statistic':28s} {'data':10s} {'p10':>7s} {'p25':>7s} {'median':>7s} {'p75':>7s} "
          f"{'p90':>7s} {'mean':>7s}")  # fmt: skip
    for name in sets["real"]:
        for label, values in ((label, stats[name]) for label, stats in sets.items()):
            q = np.percentile(values, [10, 25, 50, 75, 90])
            cells = " ".join(f"{v:7.3f}" for v in (*q, values.mean()))
            print(f"{name:28s} {label:10s} {cells}")
    shares = (f"{label} {np.mean(stats['PSNR(blur, sharp) dB'] > STATIC_PSNR):.0%}"
              for label, stats in sets.items())  # fmt: skip
    print(f"nearly static crops (input above {STATIC_PSNR:g} dB): {', '.join(shares)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
