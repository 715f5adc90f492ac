"""How fast do the networks of svrnn_lite.models run on one 1280x720 image on this CPU?

For each preset (paper, half, lite) and variant (multitask = the paper, baseline = SVRNN,
plain = no RNN) this times inference on one image (one process, ``torch.inference_mode``, one
warm-up run, then ``--runs`` timed runs) and sets the model's rate against the best rate a single
conv reaches on the same machine at the same moment:

    model rate = flops_per_image(model) / time,    ratio = model rate / reference conv rate

The reference conv is the fastest of the distinct large convs of the paper model at their 720p
shapes (found by a sweep at the start). The CPU is shared with other jobs, which can double a
run's time, so each timed model run is paired with a run of the reference conv just before it,
and the ratio is taken within each pair; the table gives the median time, the minimum time (the
least disturbed run), the median ratio over the pairs ("ratio") and the ratio of the fastest run
to the best reference rate seen in the whole benchmark ("best", the undisturbed estimate).
Forward hooks time the RNN scans (rnn1 ... rnn4) and, with ``--layers``, every layer. Targets of
issue 5: paper preset >= 90% of the best-conv rate with the RNN cascade <= 3% of the time; lite
<= 1.0 s per 720p frame.

The book quotes no time from this script: its one stored table of CPU times,
``book/chapters/data/peers.json``, is written by ``bench_peers.py``, which times these networks
with the same protocol (and this script's helpers) next to the paper's peers. Use this one for a
quick look, the per-layer times (``--layers``), the allocator (``--malloc``) or the memory layout
(``--layouts``).

The networks run their layers on channels-last tensors on a CPU (``svrnn_lite.layers.fast_layout``;
the reference conv is timed in that layout too). ``--layouts`` times every network a second time
in each pair with that switched off (every layer on NCHW tensors, as before the switch) and
prints the ratio of the two times, measured side by side.

Large fresh tensors are page-faulted in at a few GB/s, and glibc's malloc hands big blocks back to
the OS as soon as they are freed; ``--malloc tuned`` (the default) tells glibc through ``mallopt``
to serve large blocks from its heap and never trim it, so later runs reuse the pages.

Examples::

    .venv/bin/python benchmarks/bench_model.py                 # everything, about 3 minutes
    .venv/bin/python benchmarks/bench_model.py --quick         # lite only, 1 run, ~15 s
    .venv/bin/python benchmarks/bench_model.py --presets paper --archs multitask --layers
    .venv/bin/python benchmarks/bench_model.py --malloc default --presets half
    .venv/bin/python benchmarks/bench_model.py --presets lite,paper --archs multitask --layouts
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from collections import defaultdict
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

from svrnn_lite import models
from svrnn_lite.cost import flops_per_image, layer_table
from svrnn_lite.model_config import ARCHS, PRESET_WIDTHS
from svrnn_lite.models import build_model
from svrnn_lite.runtime import tune_malloc
from svrnn_lite.spatial_rnn import SpatialRNN

MIN_REFERENCE_GFLOP = 30  # convs of the paper model considered for the reference conv


def timed(fn) -> float:
    """Wall time of one call of ``fn``."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class ReferenceConv:
    """One 3x3 conv of the paper model at its 720p shape, ready to be timed."""

    def __init__(self, row, fmt) -> None:
        (c_in, h, w), c_out = row.in_shape, row.out_shape[0]
        x = torch.rand(1, c_in, h, w).contiguous(memory_format=fmt)
        weight = (torch.rand(c_out, c_in, 3, 3) * 0.01).contiguous(memory_format=fmt)
        self.run = functools.partial(F.conv2d, x, weight, torch.zeros(c_out), padding=1)
        self.flops = row.flops
        self.label = f"{row.name} {c_in}->{c_out} @ {w}x{h}"

    def rate(self) -> float:
        """GFLOP/s of one run."""
        with torch.inference_mode():
            return self.flops / timed(self.run) / 1e9


def find_reference_conv(size, fmt) -> tuple[ReferenceConv, float]:
    """The fastest of the distinct large convs of the paper model (best of 2 runs each)."""
    width, height = size
    best, best_rate, seen = None, 0.0, set()
    for row in layer_table(build_model("paper"), height, width):
        key = (row.in_shape, row.out_shape)
        if row.kind != "conv" or row.flops < MIN_REFERENCE_GFLOP * 1e9 or key in seen:
            continue
        seen.add(key)
        conv = ReferenceConv(row, fmt)
        conv.rate()  # warm-up
        rate = max(conv.rate(), conv.rate())
        if rate > best_rate:
            best, best_rate = conv, rate
    return best, best_rate


def nchw_layers():
    """Within this context the networks run every layer on NCHW tensors (no ``fast_layout``)."""
    return mock.patch.object(models, "fast_layout", lambda x: x)


def time_model(preset: str, arch: str, size, runs: int, reference: ReferenceConv, layouts=False):
    """Paired runs: (reference conv rate, model time) per run, and per-layer times per run; with
    ``layouts`` a third value per run, the model's time with its layers on NCHW tensors."""
    torch.manual_seed(0)
    model = build_model(preset, arch).eval()
    width, height = size
    image = torch.rand(1, 3, height, width)
    layer_times: dict[str, list[float]] = defaultdict(list)
    started: dict[nn.Module, float] = {}
    recording = True  # the hooks keep the times of channels-last runs only

    def pre(module, args):
        started[module] = time.perf_counter()

    def post(module, args, output):
        if recording:
            layer_times[names[module]].append(time.perf_counter() - started[module])

    names = {m: n for n, m in model.named_modules() if isinstance(m, nn.Conv2d | SpatialRNN)}
    handles = [m.register_forward_pre_hook(pre) for m in names]
    handles += [m.register_forward_hook(post) for m in names]

    def run():
        with torch.inference_mode():
            model(image)

    def run_nchw():
        nonlocal recording
        recording = False
        with nchw_layers():
            run()
        recording = True

    run()  # warm-up (numba compilation, first page faults)
    if layouts:
        run_nchw()  # its own warm-up
    layer_times.clear()
    pairs = []
    for _ in range(runs):
        pairs.append((reference.rate(), timed(run)))
        if layouts:
            pairs[-1] += (timed(run_nchw),)
    for handle in handles:
        handle.remove()
    return model, pairs, dict(layer_times)


def print_layers(model, layer_times, size, best_time: float) -> None:
    """Per-layer minimum time and rate (the least disturbed run of each layer)."""
    rows = {row.name: row for row in layer_table(model, size[1], size[0])}
    total = sum(min(ts) for ts in layer_times.values())
    print(f"    {'layer':8s} {'min ms':>8s} {'GFLOP/s':>8s} {'share':>6s}")
    for name, ts in layer_times.items():
        t = min(ts)
        rate = f"{rows[name].flops / t / 1e9:8.1f}"
        print(f"    {name:8s} {1e3 * t:8.1f} {rate} {100 * t / best_time:5.1f}%")
    rest = best_time - total
    print(
        f"    convs + scans {total:.2f} s; the rest (pooling, upsampling, concatenation, "
        f"activations, padding) {rest:.2f} s = {100 * rest / best_time:.1f}% of the fastest run"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", default=",".join(PRESET_WIDTHS), help="comma-separated")
    parser.add_argument("--archs", default=",".join(ARCHS), help="comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per model (after warm-up)")
    parser.add_argument("--size", default="1280x720", help="W x H of the image")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--malloc", choices=["tuned", "default"], default="tuned")
    parser.add_argument(
        "--layouts", action="store_true", help="also time each network with its layers on NCHW"
    )
    parser.add_argument("--layers", action="store_true", help="print per-layer times")
    parser.add_argument("--quick", action="store_true", help="lite multitask only, 1 run")
    args = parser.parse_args(argv)
    if args.quick:
        args.presets, args.archs, args.runs = "lite", "multitask", 1
    size = tuple(int(s) for s in args.size.lower().split("x"))
    torch.set_num_threads(args.threads)
    tuned = tune_malloc() if args.malloc == "tuned" else False
    t_start = time.perf_counter()

    print(
        f"torch {torch.__version__}, {args.threads} threads, image {size[0]}x{size[1]}, "
        f"malloc {'tuned' if tuned else 'default'}, {args.runs} timed run(s) each, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    reference, rate = find_reference_conv(size, torch.channels_last)
    print(f"reference conv: {reference.label}, {rate:.0f} GFLOP/s in the sweep")
    results, best_reference = [], rate
    for preset in args.presets.split(","):
        for arch in args.archs.split(","):
            print(f"timing {preset} {arch} ...", flush=True)
            model, pairs, layer_times = time_model(
                preset, arch, size, args.runs, reference, args.layouts
            )
            flops = flops_per_image(model, size[1], size[0])
            best_reference = max(best_reference, *(pair[0] for pair in pairs))
            results.append((preset, arch, flops, pairs, layer_times))
            if args.layers:
                print_layers(model, layer_times, size, min(pair[1] for pair in pairs))

    print(
        f"\n{'preset':7s} {'arch':9s} {'GFLOP':>7s} {'median s':>9s} {'min s':>7s} "
        f"{'GFLOP/s':>8s} {'ratio':>6s} {'best':>6s} {'RNN scans':>10s}"
        + (f" {'NCHW/CL':>8s}" if args.layouts else "")
    )
    print("-" * (85 if args.layouts else 76))
    for preset, arch, flops, pairs, layer_times in results:
        times = [pair[1] for pair in pairs]
        t_median, t_min = statistics.median(times), min(times)
        ratio = statistics.median(flops / pair[1] / 1e9 / pair[0] for pair in pairs)
        best_ratio = flops / t_min / 1e9 / best_reference
        scans = sum(sum(ts) for n, ts in layer_times.items() if n.startswith("rnn"))
        share = f"{100 * scans / sum(times):9.1f}%" if arch != "plain" else f"{'-':>10s}"
        nchw = statistics.median(pair[2] / pair[1] for pair in pairs) if args.layouts else None
        print(
            f"{preset:7s} {arch:9s} {flops / 1e9:7.1f} {t_median:9.2f} {t_min:7.2f} "
            f"{flops / t_median / 1e9:8.0f} {100 * ratio:5.0f}% {100 * best_ratio:5.0f}% {share}"
            + (f" {nchw:7.2f}x" if nchw else "")
        )
    print(
        f"\nGFLOP/s: from the median time. ratio: median over the runs of the model's rate over "
        f"the rate of the reference conv\ntimed just before it. best: the fastest run's rate over "
        f"the best reference-conv rate of the whole benchmark ({best_reference:.0f} GFLOP/s).\n"
        f"RNN scans: share of the time in rnn1 ... rnn4. NCHW/CL (--layouts): median over the "
        f"runs of the time with every layer on NCHW tensors\nover the time in channels-last, "
        f"timed one after the other. Load average at end "
        f"{os.getloadavg()[0]:.1f}; total benchmark time {time.perf_counter() - t_start:.0f} s"
    )


if __name__ == "__main__":
    main()
