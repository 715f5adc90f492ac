"""Where does a training step's CPU time go? Scans, convolutions and data, measured in one run.

One training step of ``svrnn-lite train`` (batch 16, 128x128 crops, Adam, Charbonnier loss,
the lite preset unless ``--preset``/``--arch``) is run ``--repeats`` times after a warm-up under
``torch.profiler``, and the time of each step is split by operator:

- ``scans``: the four-direction scans, forward and backward (the autograd Function
  ``_RecursiveFilter`` of :func:`svrnn_lite.spatial_rnn.spatial_rnn`);
- ``convs``: every convolution's forward and backward (``aten::mkldnn_convolution``,
  ``aten::convolution_backward`` and what they call);
- ``data``: how long the step waits for its batch. Batches are cut by the trainer's own loader
  (:func:`svrnn_lite.data.random_crop_batch` in a background thread, as ``train`` does) from a
  :class:`svrnn_lite.data.PairDataset` of 1280x720 images written to a temporary folder; the
  wait is the time ``result()`` blocks in the main thread.

It prints the median step time (without the profiler, timed in the same run), each share, and
the ratio of the step to the forward+backward time of its convolutions alone. Targets of
issue 13: scans <= 5% of the step, data <= 5%, step <= 1.15x its convolutions.

Usage::

    .venv/bin/python benchmarks/bench_train.py [--repeats 8] [--preset lite] [--arch multitask]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from svrnn_lite.data import PairDataset, random_crop_batch
from svrnn_lite.images import save_image
from svrnn_lite.layout import gopro_pairs
from svrnn_lite.models import build_model
from svrnn_lite.runtime import tune_malloc
from svrnn_lite.train import training_loss

SCAN_NAMES = ("_RecursiveFilter",)  # also matches its backward, _RecursiveFilterBackward
CONV_NAMES = ("aten::convolution", "aten::convolution_backward")


def dataset(folder: Path, n: int = 8) -> PairDataset:
    """``n`` random 1280x720 pairs in the GoPro layout, read back as the trainer reads them."""
    rng = np.random.default_rng(0)
    for kind in ("blur", "sharp"):
        (folder / "train" / "seq" / kind).mkdir(parents=True)
    for i in range(n):
        image = rng.random((720, 1280, 3), dtype=np.float32)
        for kind in ("blur", "sharp"):
            save_image(folder / "train" / "seq" / kind / f"{i:06d}.png", image, compress_level=1)
    return PairDataset(gopro_pairs(folder, "train"))


def top_level_time(events, names) -> float:
    """Seconds spent in events whose name starts with one of ``names``, not counting events of
    those names nested inside each other (their time is already in the outer one)."""
    chosen = sorted(
        (e for e in events if e.name.startswith(names)), key=lambda e: e.time_range.start
    )
    total, covered_until = 0.0, -1.0
    for e in chosen:
        start, end = e.time_range.start, e.time_range.end
        if start >= covered_until:
            total += end - start
            covered_until = end
        elif end > covered_until:
            total += end - covered_until
            covered_until = end
    return total / 1e6  # microseconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="lite")
    parser.add_argument("--arch", default="multitask")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args(argv)
    tune_malloc()  # as the command line does

    torch.manual_seed(0)
    model = build_model(args.preset, arch=args.arch, residual=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    with tempfile.TemporaryDirectory() as tmp:
        pairs = dataset(Path(tmp))
        for i in range(len(pairs)):
            pairs.stored(i)  # decoded once, as during a long run

        def batch_of(t):
            return random_crop_batch(
                pairs, np.random.default_rng([0, t]), args.batch_size, args.crop
            )

        def step(t, upcoming, waits):
            start = time.perf_counter()
            blurred, sharp = upcoming.result()
            waits.append(time.perf_counter() - start)
            loss = training_loss(model(blurred) - sharp, "charbonnier")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        with ThreadPoolExecutor(max_workers=1) as loader:
            waits, times = [], []
            upcoming = loader.submit(batch_of, 0)
            for t in range(2 + args.repeats):  # two warm-up steps
                start = time.perf_counter()
                current, upcoming = upcoming, loader.submit(batch_of, t + 1)
                step(t, current, waits)
                times.append(time.perf_counter() - start)
            step_time = statistics.median(times[2:])
            wait = statistics.median(waits[2:])

            start = time.perf_counter()
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for t in range(args.repeats):
                    current, upcoming = upcoming, loader.submit(batch_of, t + 100)
                    step(t, current, [])
            profiled = time.perf_counter() - start  # the profiled steps' wall time
            upcoming.result()
    events = prof.events()
    scans = top_level_time(events, SCAN_NAMES) / profiled
    convs = top_level_time(events, CONV_NAMES) / profiled

    print(
        f"{args.preset} {args.arch}, batch {args.batch_size} of {args.crop}x{args.crop}, "
        f"{torch.get_num_threads()} threads: step {step_time:.3f} s (median of {args.repeats})"
    )
    print(f"  scans (forward + backward)  {100 * scans:5.1f}% of the step   (target <= 5%)")
    print(f"  convolutions                {100 * convs:5.1f}% of the step")
    print(f"  waiting for data            {100 * wait / step_time:5.1f}% of the step   (<= 5%)")
    print(f"  step / its convolutions     {1 / convs:5.2f}x               (target <= 1.15x)")
    return 0


if __name__ == "__main__":
    main()
