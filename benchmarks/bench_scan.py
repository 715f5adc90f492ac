"""How fast are the scans? SpatialRNN (four directions): numba, vectorised torch, loop, memory.

Usage::

    .venv/bin/python benchmarks/bench_scan.py [--repeats 10] [--malloc tuned|default] [--clock cpu]
        [--quick] [--json FILE]

    # the stored run of chapter 3 (about a minute; run it on an otherwise idle machine)
    .venv/bin/python benchmarks/bench_scan.py --json book/chapters/data/scan.json

Everything is measured side by side in one process, round-robin, and the best time of each is
kept (the machine is shared and noisy). ``--clock cpu`` times with the process's CPU time (all its
threads together) instead of the wall clock: on a machine busy with other jobs it leaves out the
time the benchmark waits for a core, which makes ratios much steadier; run it with one thread
(``OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1``) so that CPU time is also the time.

Each case runs with the compiled numba kernels (the CPU default, "numba") and with the vectorised
torch scan that tensors on a GPU take ("torch", here on the CPU with ``use_numba(False)``).
Yardsticks:

- speed-up: autograd through the plain Python loop (``SpatialRNN(reference=True)``, the
  ``recursive_filter_reference`` of the chapter) divided by the compiled scan's time;
- torch / numba: the vectorised torch scan's time over the compiled scan's (on the CPU the log-depth
  scan does about log2(N) times the work of the loop, so it is expected to be slower here; it is
  meant for GPUs, where its N-fold shorter chain of dependent steps matters);
- memory-bandwidth bound: the bytes the four scans must read and write at least (forward: read
  x and g, write h; backward: read the incoming gradient, x, g and h, write dL/dx and dL/dg;
  each per direction) divided by the copy bandwidth of a tensor copy timed in the same run.
  ``time / bound`` says how far the scan is from just streaming its data once.

Large fresh tensors (the scan's outputs and gradients) are page-faulted in at a few GB/s, and
glibc returns big freed blocks to the OS every time by default; ``--malloc tuned`` (the default,
as in ``bench_model.py``) asks glibc through ``mallopt`` to keep freed memory, so repeated calls
reuse their pages. ``--malloc default`` shows the cost of the faults.

``--json FILE`` stores the tables with the machine (CPU model, cores, vector unit, threads,
torch; as ``bench_peers.py`` records it), the date, the command, the load average before and
after, and every case's best time. Chapter *The four-direction spatially variant RNN* shows its
table from one such file, ``book/chapters/data/scan.json``; a file of fewer than the default 10
timed calls per case (``--quick``: 3) is marked ``"provisional": true``.

Targets (issue 4): at (16, 32, 64, 64) forward+backward >= 15x faster than the loop and
<= 4x its bound; at (1, 32, 360, 640) forward <= 4x its bound.

Fused kernels (issue 15): the numba kernels ``forward_pair`` and ``backward_pair`` run the forward
and the reverse scan of each row along W in one loop. They stay only while they pay, so the
script times them against the two single-direction scans they replace (``forward`` and
``backward`` of ``_scan_numba``, reverse and not), on the training shape, in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numba
import torch

from svrnn_lite import SpatialRNN, _scan_numba
from svrnn_lite.recursive import use_numba
from svrnn_lite.runtime import tune_malloc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_peers import cpu_name, machine


def best_times(fns: dict, repeats: int, clock=time.perf_counter) -> dict:
    """Best time (s, by ``clock``) of each callable, called round-robin after one warm-up call."""
    for fn in fns.values():
        fn()
    times = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name] = min(times[name], clock() - start)
    return times


def inputs(b: int, c: int, h: int, w: int, requires_grad: bool):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(b, c, h, w, generator=gen, requires_grad=requires_grad)
    g = (torch.rand(b, 4 * c, h, w, generator=gen) * 1.8 - 0.9).requires_grad_(requires_grad)
    return x, g


def forward_backward(rnn, x, g, grad_out):
    def run():
        x.grad = g.grad = None
        rnn(x, g).backward(grad_out)

    return run


def forward_only(rnn, x, g):
    def run():
        with torch.no_grad():
            rnn(x, g)

    return run


def with_torch_scan(fn):
    """``fn`` run with numba switched off: CPU tensors then take the vectorised torch scan."""

    def run():
        previous = use_numba()
        use_numba(False)
        try:
            fn()
        finally:
            use_numba(previous)

    return run


def along_w(x, g, grad_out):
    """The two scans along W of SpatialRNN (directions 0 and 1) straight through the numba
    kernels: fused (the pair kernels) and as two single scans, forward and backward."""
    b, c, h, w = x.shape
    xv = x.detach().view(b, c * h, w, 1)
    gv, tv = (t.detach().view(b, 4 * c * h, w, 1) for t in (g, grad_out))
    hv, dgv = torch.empty_like(gv), torch.empty_like(gv)
    dxv = torch.empty_like(xv)
    fwd, rev = 0, c * h  # first rows of the gates of directions 0 and 1
    k = _scan_numba
    return {
        "fused fwd W": lambda: k.forward_pair(xv, gv, hv, fwd, rev),
        "single fwd W": lambda: (
            k.forward(xv, gv, hv, fwd, False),
            k.forward(xv, gv, hv, rev, True),
        ),
        "fused bwd W": lambda: k.backward_pair(tv, xv, gv, hv, dxv, dgv, fwd, rev, False),
        "single bwd W": lambda: (
            k.backward(tv, xv, gv, hv, dxv, dgv, fwd, False, False),
            k.backward(tv, xv, gv, hv, dxv, dgv, rev, True, True),
        ),
    }


TRAIN_SHAPE = (16, 32, 64, 64)  # training shape: forward + backward
BIG_SHAPE = (1, 32, 360, 640)  # 720p-like feature map (the paper model's RNNs run at half of
# 1280x720): forward only
DEFAULT_REPEATS = 10
QUICK_REPEATS = 3
CASES = {  # the rows of the table: (pass, which shape, the loop it is compared with)
    "fast fwd+bwd train": ("fwd+bwd", "train", "loop fwd+bwd train"),
    "fast fwd train": ("fwd", "train", None),
    "fast fwd 720p": ("fwd", "720p", "loop fwd 720p"),
}


def provisional(repeats: int) -> bool:
    """Whether a run is only a smoke test (fewer timed calls than the default): the chapter
    marks the table of a provisional stored run as such."""
    return repeats < DEFAULT_REPEATS


def main(argv=None) -> dict:
    """Time everything, print the tables; with ``--json FILE`` store them. Returns the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="timed calls each")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REPEATS} timed calls each")
    parser.add_argument("--malloc", choices=["tuned", "default"], default="tuned")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    parser.add_argument("--json", type=Path, metavar="FILE", help="store the results here")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    command = " ".join(["benchmarks/bench_scan.py", *(argv if argv is not None else sys.argv[1:])])
    if args.quick:
        args.repeats = QUICK_REPEATS
    if args.repeats < 1:
        parser.error("--repeats must be positive")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    tuned = tune_malloc() if args.malloc == "tuned" else False
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()[0]
    fast, slow = SpatialRNN(), SpatialRNN(reference=True)

    train, big = TRAIN_SHAPE, BIG_SHAPE
    x, g = inputs(*train, requires_grad=True)
    grad_out = torch.randn(g.shape, generator=torch.Generator().manual_seed(1))
    src, dst = torch.randn(g.shape), torch.empty(g.shape)
    xb, gb = inputs(*big, requires_grad=False)
    src_b, dst_b = torch.randn(gb.shape), torch.empty(gb.shape)

    fns = {
        "copy train": lambda: dst.copy_(src),
        "fast fwd+bwd train": forward_backward(fast, x, g, grad_out),
        "loop fwd+bwd train": forward_backward(slow, x, g, grad_out),
        "fast fwd train": forward_only(fast, x, g),
        "copy 720p": lambda: dst_b.copy_(src_b),
        "fast fwd 720p": forward_only(fast, xb, gb),
        "loop fwd 720p": forward_only(slow, xb, gb),
        "torch fwd+bwd train": with_torch_scan(forward_backward(fast, x, g, grad_out)),
        "torch fwd train": with_torch_scan(forward_only(fast, x, g)),
        "torch fwd 720p": with_torch_scan(forward_only(fast, xb, gb)),
        **along_w(x, g, grad_out),
    }
    t = best_times(fns, args.repeats, clock)

    item = 4  # float32
    bw = {k: 2 * s.numel() * item / t[f"copy {k}"] for k, s in (("train", src), ("720p", src_b))}
    n = {"train": x.numel(), "720p": xb.numel()}
    shapes = {"train": train, "720p": big}
    # per direction: forward reads x, g and writes h (3 arrays); backward reads t, x, g, h and
    # writes dx, dg (6 arrays); four directions
    arrays = {"fwd+bwd": 9, "fwd": 3}
    rows = []
    for name, (pass_, size, loop_name) in CASES.items():
        bound = 4 * arrays[pass_] * n[size] * item / bw[size]
        loop = t[loop_name] if loop_name else None
        vectorised = t[name.replace("fast", "torch")]
        rows.append(
            {
                "case": pass_,
                "shape": list(shapes[size]),
                "loop_s": loop,
                "numba_s": t[name],
                "torch_s": vectorised,
                "bound_s": bound,
                "speedup": loop / t[name] if loop else None,
                "torch_over_numba": vectorised / t[name],
                "over_bound": t[name] / bound,
            }
        )
    fused = [
        {
            "pass": pass_,
            "fused_s": t[f"fused {pass_} W"],
            "single_s": t[f"single {pass_} W"],
            "speedup": t[f"single {pass_} W"] / t[f"fused {pass_} W"],
        }
        for pass_ in ("fwd", "bwd")
    ]
    r_speed, r_train, r_big = rows[0]["speedup"], rows[0]["over_bound"], rows[2]["over_bound"]
    targets = [
        {"what": f"fwd+bwd speed-up vs loop at {train}", "value": r_speed, "target": ">= 15x",
         "met": r_speed >= 15},
        {"what": f"fwd+bwd time / bound at {train}", "value": r_train, "target": "<= 4x",
         "met": r_train <= 4},
        {"what": f"fwd time / bound at {big}", "value": r_big, "target": "<= 4x",
         "met": r_big <= 4},
    ]  # fmt: skip

    print(
        f"{cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads "
        f"(numba {numba.get_num_threads()}), float32, "
        f"malloc {'tuned' if tuned else 'default'}, best of {args.repeats} calls each, "
        f"{args.clock} clock, load average at start {load_start:.1f}"
    )
    print(
        f"copy bandwidth: {bw['train'] / 1e9:.1f} GB/s on {tuple(g.shape)}, "
        f"{bw['720p'] / 1e9:.1f} GB/s on {tuple(gb.shape)}\n"
    )
    header = (
        f"{'case':<26}{'loop ms':>9}{'numba ms':>10}{'torch ms':>10}{'bound ms':>10}"
        f"{'speed-up':>10}{'torch/numba':>13}{'/bound':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        label = f"{r['case']} {tuple(r['shape'])}"
        loop = f"{r['loop_s'] * 1e3:.1f}" if r["loop_s"] else "-"
        speedup = f"{r['speedup']:.1f}x" if r["speedup"] else "-"
        print(
            f"{label:<26}{loop:>9}{r['numba_s'] * 1e3:>10.1f}{r['torch_s'] * 1e3:>10.1f}"
            f"{r['bound_s'] * 1e3:>10.1f}{speedup:>10}{r['torch_over_numba']:>12.2f}x"
            f"{r['over_bound']:>7.2f}x"
        )
    print()
    print(f"fused pair kernels against two single scans, along W at {train}:")
    for f in fused:
        print(
            f"  {f['pass']}: fused {f['fused_s'] * 1e3:.1f} ms, two single scans "
            f"{f['single_s'] * 1e3:.1f} ms, fused {f['speedup']:.2f}x faster"
        )
    print()
    for target in targets:
        print(
            f"{target['what']:<48}{target['value']:>7.2f}x   target {target['target']:<7} "
            f"{'met' if target['met'] else 'MISSED'}"
        )
    load_end = os.getloadavg()[0]
    report = {
        "provisional": provisional(args.repeats),
        "command": command,
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),  # its "threads" are torch's; the numba scans have their own
        "numba_threads": numba.get_num_threads(),
        "dtype": "float32",
        "repeats": args.repeats,
        "clock": args.clock,
        "malloc_tuned": tuned,
        "load_average": {"start": load_start, "end": load_end},
        "copy_gb_s": {k: v / 1e9 for k, v in bw.items()},
        "rows": rows,
        "fused": fused,
        "targets": targets,
        "times_s": t,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
        print(f"load average at end {load_end:.1f}; results written to {args.json}")
    return report


if __name__ == "__main__":
    main()
