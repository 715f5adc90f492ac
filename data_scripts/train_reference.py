"""Train the model shipped inside the package: the lite preset on the synthetic GoPro-layout data.

The recipe, fixed here so anyone can reproduce the shipped weights::

    .venv/bin/python data_scripts/train_reference.py           # about 6 min on 2 idle cores
    .venv/bin/python data_scripts/train_reference.py --time-limit 60   # or in slices: it resumes
    .venv/bin/python data_scripts/train_reference.py --export   # evaluate, write the weights

1. writes the default synthetic dataset (seed 0) to ``data/synthetic`` unless it is there;
2. trains ``lite`` with the settings of :data:`RECIPE` into ``runs/reference`` (resuming the run
   if it exists, so an interrupted training continues where it stopped);
3. ``--export`` scores the final checkpoint on the synthetic test split and writes the weights,
   their configuration, the data seed, the steps and the test metrics to
   ``svrnn_lite/weights/lite.pt``, which ``svrnn_lite.load_pretrained("lite")`` reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from svrnn_lite.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "synthetic"
RUN = ROOT / "runs" / "reference"
WEIGHTS = ROOT / "svrnn_lite" / "weights" / "lite.pt"

RECIPE = TrainConfig(
    preset="lite",
    arch="multitask",
    residual=True,  # learning the correction converges far faster on a CPU budget
    loss="psnr",  # with L2, barely blurred test images got over-sharpened (chapter Training)
    data=str(DATA),
    steps=1200,
    batch_size=8,
    crop=128,
    lr=1e-3,
    lr_power=2.0,
    val_every=500,
    val_images=8,
    seed=0,
    out=str(RUN),
    threads=2,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=float, help="minutes to train in this slice")
    parser.add_argument("--export", action="store_true", help="evaluate and write the weights")
    args = parser.parse_args(argv)

    if args.export:
        from svrnn_lite.pretrained import export_pretrained

        extra = export_pretrained(RUN / "last.pt", DATA, WEIGHTS, data_seed=0)
        print(extra["test_metrics"])
        return 0
    if not (DATA / "synth.json").exists():
        from svrnn_lite.synth import write_dataset

        write_dataset(DATA, seed=0)
    limit = None if args.time_limit is None else 60 * args.time_limit
    result = train(RECIPE, resume=(RUN / "last.pt").exists(), time_limit=limit)
    return 0 if result["finished"] else 3


if __name__ == "__main__":
    sys.exit(main())
