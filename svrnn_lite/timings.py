"""The book's one table of measured CPU times, and the paper's Table 1 next to it.

Every CPU time the book quotes comes from one stored run of ``benchmarks/bench_peers.py``, which
times the paper's peers (re-implemented, random weights) side by side with svrnn_lite's networks
on one 1280x720 image and writes ``book/chapters/data/peers.json``::

    .venv/bin/python benchmarks/bench_peers.py --json book/chapters/data/peers.json

This module reads that file and turns it into what chapters *The multi-task UNet* and
*Evaluation* show: the paper's Table 1 with the times measured here (``table1_markdown``), which
of its ratios reproduce (``reproduction``), the speed targets of issue 17 (``targets``), the
quality-versus-time plot (``plot_quality_vs_time``) and the table of our presets
(``presets_markdown``, ``layer_breakdown``). Every sentence the chapters print about the times is
computed here from the file, so re-running the benchmark and the chapters keeps the text true.

Examples
--------
>>> run = {"machine": {"processor": "CPU", "threads": 2}, "image": {"width": 64, "height": 32},
...        "runs": 1, "results": [{"name": "paper", "median_s": 2.0, "times_s": [2.0]},
...                               {"name": "deblurgan", "median_s": 3.0, "times_s": [3.0]}]}
>>> [(r.method, r.measured_ratio) for r in table1_rows(run) if r.measured_s][:2]
[('DeblurGAN', 1.5), ('multi-task (batch 20)', 1.0)]
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "NAFNET",
    "PAPER_MACHINE",
    "TABLE_1",
    "Published",
    "load",
    "machine_text",
    "table1_rows",
    "table1_markdown",
    "reproduction",
    "TARGETS",
    "targets",
    "arithmetic_floor",
    "floor_sentence",
    "plot_quality_vs_time",
    "presets_markdown",
    "layer_breakdown",
]

PAPER_MACHINE = "6-core AMD Ryzen 5 5600X at 100% load, TensorFlow"
"""Where the paper's CPU column was measured (its Table 1)."""

PAPER = "paper"  # the run every measured ratio refers to: build_model("paper"), multi-task
PAPER_PUBLISHED_S = 4.0  # the multi-task network's published CPU time, which published ratios use


class Published(NamedTuple):
    """One row of the paper's Table 1 (GoPro test set; CPU s per 1280x720 image)."""

    method: str
    psnr: float
    ssim: float
    cpu_s: float | None  # None: no CPU time published (NAFNet, not in Table 1)
    measured: str | None  # the name of the stored run timing its architecture; None: none does


TABLE_1 = (
    Published("DeblurGAN-v2 (MobileNet)", 28.17, 0.925, 3.2, "deblurgan-v2-mobilenet"),
    Published("DeblurGAN", 28.70, 0.927, 7.8, "deblurgan"),
    Published("SVRNN", 29.19, 0.931, 4.0, "svrnn"),
    Published("multi-task (batch 20)", 29.43, 0.942, 4.0, PAPER),
    Published("DeblurGAN-v2 (Inception-ResNet-v2)", 29.55, 0.934, 10.4, None),
    Published("multi-task (batch 32)", 29.56, 0.943, 4.0, PAPER),
    Published("SIUN", 30.22, 0.904, 4.5, None),
    Published("Stack(4)-DMPHN", 31.20, 0.945, 138.1, None),
    Published("MPRNet", 32.66, 0.959, 219.4, "mprnet"),
)
"""The paper's Table 1, in its order, with the stored run that times each architecture."""

NAFNET = Published("NAFNet-w32 (not in Table 1)", 32.87, 0.960, None, "nafnet-w32")
"""A later, stronger peer, timed too: GoPro scores from the NAFNet paper; no CPU time published."""

OUR_PRESETS = {"half": "our half preset (width 0.5)", "lite": "our lite preset (width 0.25)"}
PRESETS = ("paper", "half", "lite")
ARCH_NAMES = {"multitask": "multi-task", "baseline": "SVRNN baseline", "plain": "plain UNet"}
REQUIRED = ("machine", "image", "runs", "results", "provisional", "reference_conv", "load_average")


def load(path: str | Path) -> dict:
    """The stored run, checked to have what the tables need."""
    run = json.loads(Path(path).read_text(encoding="utf-8"))
    missing = [key for key in REQUIRED if key not in run]
    if missing:
        raise ValueError(f"{path}: not a bench_peers.py --json file (no {', '.join(missing)})")
    return run


def _results(run: dict) -> dict[str, dict]:
    return {r["name"]: r for r in run["results"]}


def machine_text(run: dict) -> str:
    """One line naming the machine, the software and the protocol of the stored run.

    >>> machine_text({"machine": {"processor": "AMD EPYC", "physical_cores": 2, "simd": "AVX2",
    ...               "threads": 2, "torch": "2.13.0"}, "date": "2026-12-02T10:00:00+00:00",
    ...               "image": {"width": 1280, "height": 720}, "runs": 3, "results": []})
    'AMD EPYC (2 cores, AVX2), 2 threads, PyTorch 2.13.0, 2026-12-02: one 1280x720 image, median of 3 timed runs after a warm-up'
    """  # noqa: E501
    m = run["machine"]
    details = [f"{m['physical_cores']} cores" if m.get("physical_cores") else None, m.get("simd")]
    cpu = m["processor"] + (f" ({', '.join(d for d in details if d)})" if any(details) else "")
    parts = [cpu, f"{m['threads']} thread{'s' if m['threads'] != 1 else ''}"]
    if m.get("torch"):
        parts.append(f"PyTorch {m['torch']}")
    if run.get("date"):
        parts.append(run["date"][:10])
    image = run["image"]
    return (
        f"{', '.join(parts)}: one {image['width']}x{image['height']} image, median of "
        f"{run['runs']} timed run{'s' if run['runs'] != 1 else ''} after a warm-up"
    )


def provisional_note(run: dict) -> str:
    """What a provisional stored run is short of the book's 1280x720 run ("" when it is one).

    >>> provisional_note({"image": {"width": 640, "height": 360}, "runs": 3, "provisional": True})
    'PROVISIONAL: timed on a 640x360 image, not 1280x720: the ratios compare, the seconds are not per 1280x720 frame'
    >>> provisional_note({"image": {"width": 1280, "height": 720}, "runs": 3, "provisional": False})
    ''
    """  # noqa: E501
    if not run["provisional"]:
        return ""
    image, short = run["image"], []
    if (image["width"], image["height"]) != (1280, 720):
        short.append(f"timed on a {image['width']}x{image['height']} image, not 1280x720")
    if run["runs"] < 3:
        short.append(f"{run['runs']} timed run{'s' if run['runs'] != 1 else ''}, not 3 or more")
    note = "PROVISIONAL: " + "; ".join(short)
    if (image["width"], image["height"]) != (1280, 720):
        note += ": the ratios compare, the seconds are not per 1280x720 frame"
    return note


class Row(NamedTuple):
    """A row of the reproduced Table 1."""

    method: str
    psnr: float | None
    ssim: float | None
    published_s: float | None
    published_ratio: float | None  # published_s / the multi-task network's 4.0 s
    measured: str | None  # the bench_peers.py method that times it; None: not re-implemented
    measured_s: float | None  # its median time
    measured_ratio: float | None  # measured_s / the paper preset's median time, same run


def table1_rows(run: dict) -> list[Row]:
    """The paper's Table 1, NAFNet-w32 and our half and lite presets, with the stored times."""
    results = _results(run)
    paper_s = results[PAPER]["median_s"] if PAPER in results else None
    rows = []
    published = [*TABLE_1, NAFNET]
    published += [Published(label, None, None, None, name) for name, label in OUR_PRESETS.items()]
    for p in published:
        r = results.get(p.measured) if p.measured else None
        measured_s = r["median_s"] if r else None
        rows.append(
            Row(
                p.method,
                p.psnr,
                p.ssim,
                p.cpu_s,
                p.cpu_s / PAPER_PUBLISHED_S if p.cpu_s is not None else None,
                p.measured,
                measured_s,
                measured_s / paper_s if measured_s is not None and paper_s else None,
            )
        )
    return rows


def _fmt(value, spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


def _seconds(value: float | None) -> str:
    """Two decimals under 10 s, one under 100 s, whole seconds above."""
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table1_markdown(run: dict) -> str:
    """The reproduced Table 1 as a GitHub-flavoured Markdown table (for ``display(Markdown())``).

    >>> run = {"machine": {}, "image": {}, "runs": 1, "results": [
    ...     {"name": "paper", "median_s": 8.0}, {"name": "mprnet", "median_s": 400.0}]}
    >>> for line in table1_markdown(run).splitlines()[-4:-2]:
    ...     print(line)
    | MPRNet | 32.66 | 0.959 | 219.4 | 54.9 | 400 | 50.0 | `mprnet` |
    | NAFNet-w32 (not in Table 1) | 32.87 | 0.960 | - | - | - | - | not in this run |
    """
    lines = [
        "| method | GoPro PSNR (dB) | SSIM | paper: CPU s | paper: x multi-task "
        "| measured here: s | here: x paper preset | timed as |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table1_rows(run):
        timed = (
            "not re-implemented"
            if r.measured is None
            else f"`{r.measured}`"
            if r.measured_s is not None
            else "not in this run"
        )
        lines.append(
            f"| {r.method} | {_fmt(r.psnr, '.2f')} | {_fmt(r.ssim, '.3f')} "
            f"| {_fmt(r.published_s, '.1f')} | {_ratio(r.published_ratio)} "
            f"| {_seconds(r.measured_s)} | {_ratio(r.measured_ratio)} | {timed} |"
        )
    return "\n".join(lines)


class Reproduction(NamedTuple):
    """A published time ratio next to the measured one."""

    method: str
    published_ratio: float
    measured_ratio: float
    factor: float  # measured_ratio / published_ratio
    reproduces: bool  # the factor lies within [1 / tolerance, tolerance]

    def sentence(self, tolerance: float) -> str:
        f = self.factor
        verdict = (
            f"reproduces (within a factor of {tolerance:g})"
            if self.reproduces
            else f"does not reproduce (the measured ratio is {max(f, 1 / f):.1f} times "
            f"{'larger' if f > 1 else 'smaller'})"
        )
        return (
            f"{self.method}: {_ratio(self.published_ratio)}x the multi-task network's time in "
            f"the paper, {_ratio(self.measured_ratio)}x here; {verdict}"
        )


def reproduction(run: dict, tolerance: float = 1.5) -> list[Reproduction]:
    """Each peer's time ratio to the multi-task network, published against measured.

    Only ratios are compared: the paper's seconds were measured on another machine (six cores,
    TensorFlow), so its absolute times cannot reproduce here, but if its column is right, each
    method's time relative to the multi-task network should. The rows of the multi-task network
    itself (ratio 1 by definition) are left out.
    """
    out = []
    for r in table1_rows(run):
        if r.published_ratio is None or r.measured_ratio is None or r.measured == PAPER:
            continue
        factor = r.measured_ratio / r.published_ratio
        within = 1 / tolerance <= factor <= tolerance
        out.append(Reproduction(r.method, r.published_ratio, r.measured_ratio, factor, within))
    return out


TARGETS = (
    ("lite", "our lite preset", "deblurgan-v2-mobilenet", "DeblurGAN-v2 (MobileNet)"),
    (PAPER, "the paper preset", "deblurgan", "DeblurGAN"),
    (PAPER, "the paper preset", "nafnet-w32", "NAFNet-w32"),
    (PAPER, "the paper preset", "mprnet", "MPRNet"),
)


def targets(run: dict) -> list[tuple[str, bool | None]]:
    """The speed targets of issue 17, each with whether it holds in the stored run.

    ``None`` where the run lacks one of the two methods.

    >>> run = {"results": [{"name": "lite", "median_s": 1.0},
    ...                    {"name": "deblurgan-v2-mobilenet", "median_s": 1.2}]}
    >>> targets(run)[0]
    ('our lite preset (1.00 s) is faster than DeblurGAN-v2 (MobileNet) (1.20 s)', True)
    """
    results = _results(run)
    out = []
    for ours, our_label, peer, peer_label in TARGETS:
        if ours in results and peer in results:
            a, b = results[ours]["median_s"], results[peer]["median_s"]
            claim = f"{our_label} ({a:.2f} s) is faster than {peer_label} ({b:.2f} s)"
            out.append((claim, a < b))
        else:
            out.append((f"{our_label} is faster than {peer_label}", None))
    return out


def arithmetic_floor(run: dict, name: str) -> float:
    """The seconds ``name`` would take if every one of its FLOPs ran at the best rate of the run.

    The best rate is that of the fastest convolution in the benchmark's sweep of reference
    convolutions (``reference_gflops_sweep``): wide 3x3 convolutions, the kind of layer this
    machine's kernels run fastest. A network slower than a peer even at this floor cannot catch
    up by a faster implementation of the same layers, only by doing fewer FLOPs.

    >>> run = {"reference_gflops_sweep": 200.0, "results": [{"name": "paper", "gflop": 1000.0}]}
    >>> arithmetic_floor(run, "paper")
    5.0
    """
    return _results(run)[name]["gflop"] / run["reference_gflops_sweep"]


def floor_sentence(run: dict, ours: str, peer: str) -> str:
    """Whether a faster implementation of ``ours`` could beat ``peer``, from the stored run.

    >>> run = {"reference_gflops_sweep": 200.0, "results": [
    ...     {"name": "paper", "gflop": 1000.0, "median_s": 8.0},
    ...     {"name": "nafnet-w32", "gflop": 400.0, "median_s": 4.0}]}
    >>> print(floor_sentence(run, "paper", "nafnet-w32"))  # doctest: +NORMALIZE_WHITESPACE
    paper: 1000 GFLOP at the run's best rate, 200 GFLOP/s, take at least 5.00 s, against
    4.00 s measured for nafnet-w32 (400 GFLOP at 100 GFLOP/s): out of reach for any
    implementation of the same layers on this machine; paper runs at 62% of the best rate
    now
    """
    results = _results(run)
    a, b = results[ours], results[peer]
    best = run["reference_gflops_sweep"]
    floor = arithmetic_floor(run, ours)
    if a["median_s"] < b["median_s"]:
        verdict = "faster already"
    elif floor < b["median_s"]:
        verdict = "within reach of a faster implementation"
    else:
        verdict = "out of reach for any implementation of the same layers on this machine"
    return (
        f"{ours}: {a['gflop']:.0f} GFLOP at the run's best rate, {best:.0f} GFLOP/s, take at "
        f"least {floor:.2f} s, against {b['median_s']:.2f} s measured for {peer} "
        f"({b['gflop']:.0f} GFLOP at {b['gflop'] / b['median_s']:.0f} GFLOP/s): {verdict}; "
        f"{ours} runs at {100 * floor / a['median_s']:.0f}% of the best rate now"
    )


def plot_quality_vs_time(run: dict, ax=None, lite_quality: tuple[float, str] | None = None):
    """Published GoPro PSNR against the time measured here (log scale), per method.

    Filled dots: the methods timed here, at their measured time; hollow ones, joined to them: the
    same method at the paper's time. The half and lite presets have no GoPro score: the half
    preset is a dotted line at its time; ``lite_quality = (psnr, label)`` places the lite preset
    at a PSNR measured on *other* test data, drawn as a star and labelled as such.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2))
    results = _results(run)
    drawn_published = drawn_ours = drawn_peer = False
    for r in table1_rows(run):
        if r.psnr is None or r.measured_s is None:
            continue
        ours = r.measured in (PAPER, "svrnn")
        colour = "C3" if ours else "0.35"
        label = None
        if ours and not drawn_ours:
            label, drawn_ours = "multi-task / SVRNN, measured here", True
        elif not ours and not drawn_peer:
            label, drawn_peer = "peers (re-implemented), measured here", True
        ax.plot(r.measured_s, r.psnr, "o", color=colour, ms=7, label=label, zorder=3)
        if r.published_s is not None:
            pub_label = None if drawn_published else f"same, paper's time ({PAPER_MACHINE})"
            drawn_published = True
            ax.plot(r.published_s, r.psnr, "o", mfc="none", color=colour, ms=7, label=pub_label)
            ax.plot([r.published_s, r.measured_s], [r.psnr, r.psnr], color=colour, lw=0.6)
        if r.method == "multi-task (batch 20)":
            continue  # one label for both batch sizes, at batch 32's point
        name = "multi-task (batch 32, 20)" if r.method == "multi-task (batch 32)" else r.method
        left = r.method == "SVRNN"  # between DeblurGAN and multi-task: label on the left
        ax.annotate(
            name,
            (r.measured_s, r.psnr),
            fontsize=7,
            textcoords="offset points",
            xytext=(-6, -3) if left else (5, 4),
            ha="right" if left else "left",
        )
    if "half" in results:
        ax.axvline(results["half"]["median_s"], color="C1", ls=":", lw=1)
        ax.annotate("half preset (no GoPro score)", (results["half"]["median_s"], 0.02),
                    xycoords=("data", "axes fraction"), rotation=90, fontsize=7, color="C1",
                    xytext=(3, 0), textcoords="offset points")  # fmt: skip
    if "lite" in results:
        t = results["lite"]["median_s"]
        if lite_quality is None:
            ax.axvline(t, color="C2", ls=":", lw=1)
        else:
            psnr, label = lite_quality
            ax.plot(t, psnr, "*", color="C2", ms=12, label=label, zorder=3)
    image = run["image"]
    ax.set(
        xscale="log",
        xlabel=f"CPU seconds per {image['width']}x{image['height']} image",
        ylabel="GoPro PSNR (dB), published",
        title="the paper's Table 1: published quality, time measured here",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    return ax


def presets_markdown(run: dict) -> str:
    """Our networks in the stored run: FLOPs, time, rate, share of the best conv's rate, scans.

    "of the best conv": the median over the runs of the network's rate over the rate of the
    reference conv timed just before it (both see the same load). "RNN scans": the share of the
    time spent in the four RNN blocks, from the forward hooks.
    """
    lines = [
        "| preset | variant | GFLOP | median s | GFLOP/s | of the best conv | RNN scans |",
        "|---|---|---|---|---|---|---|",
    ]
    ours = [r for r in run["results"] if r.get("preset")]
    ours.sort(key=lambda r: (PRESETS.index(r["preset"]), list(ARCH_NAMES).index(r["arch"])))
    for r in ours:
        rate = r["gflop"] / r["median_s"]
        of_best = statistics.median(
            r["gflop"] / t / ref
            for t, ref in zip(r["times_s"], r["reference_gflops_per_run"], strict=True)
        )
        scans = sum(sum(ts) for name, ts in r["layer_times_s"].items() if name.startswith("rnn"))
        share = f"{100 * scans / sum(r['times_s']):.1f}%" if r["arch"] != "plain" else "-"
        lines.append(
            f"| {r['preset']} | {r['arch']} | {r['gflop']:.1f} | {r['median_s']:.2f} "
            f"| {rate:.0f} | {100 * of_best:.0f}% | {share} |"
        )
    return "\n".join(lines)


class Breakdown(NamedTuple):
    """The least disturbed run of one network, split by the forward hooks."""

    total_s: float  # the fastest run
    layers_s: float  # its convs and RNN blocks
    rest_s: float  # the rest: pooling, upsampling, concatenation, activations, padding
    layer_s: dict  # every conv's and RNN block's time in that run


def layer_breakdown(run: dict, name: str = PAPER) -> Breakdown:
    """Where the fastest run of ``name`` spent its time.

    >>> run = {"results": [{"name": "paper", "times_s": [5.0, 4.0],
    ...                     "layer_times_s": {"conv1": [1.0, 0.5], "rnn1": [2.0, 3.0]}}]}
    >>> layer_breakdown(run)
    Breakdown(total_s=4.0, layers_s=3.5, rest_s=0.5, layer_s={'conv1': 0.5, 'rnn1': 3.0})
    """
    r = _results(run)[name]
    fastest = min(range(len(r["times_s"])), key=r["times_s"].__getitem__)
    layer_s = {layer: ts[fastest] for layer, ts in r["layer_times_s"].items()}
    total = r["times_s"][fastest]
    layers = math.fsum(layer_s.values())
    return Breakdown(total, layers, total - layers, layer_s)
