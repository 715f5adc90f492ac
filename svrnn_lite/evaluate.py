"""Scoring a deblurring model the way the GoPro benchmark does, and timing it on the CPU.

For every test pair we score the blurry input itself and the model's output against the sharp
image (PSNR and SSIM, :mod:`svrnn_lite.metrics` conventions), so every table shows how much the
model *gains*. CPU time is the median of several runs on one 1280x720 frame in one process.
Explained in chapter *Evaluation*.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from svrnn_lite.atomic import atomic_path
from svrnn_lite.inference import deblur
from svrnn_lite.metrics import CONVENTION, psnr, ssim

FIELDS = ("name", "psnr_blurry", "ssim_blurry", "psnr", "ssim")


def evaluate(
    model,
    pairs,
    tile: int | None = None,
    overlap: int = 64,
    progress: bool = False,
    restored: dict | None = None,
) -> list[dict]:
    """PSNR and SSIM of the blurry input and of ``model``'s output for every pair.

    Parameters
    ----------
    model : torch.nn.Module
        Any network of :mod:`svrnn_lite.models`.
    pairs : PairDataset or SyntheticPairs
        Whole test images; a ``PairDataset``'s file paths name the rows.
    tile : int, optional
        Deblur in tiles of this size (:func:`svrnn_lite.inference.deblur`); whole images by
        default.
    overlap : int
        Overlap of neighbouring tiles (with ``tile``).
    progress : bool
        Show a progress bar.
    restored : dict, optional
        For every pair index among its keys, the model's output for that pair is stored there,
        so that :func:`figure_grid` can show it without running the model again.

    Returns
    -------
    list of dict
        One row per pair with the keys of :data:`FIELDS`.

    Examples
    --------
    >>> from svrnn_lite.data import SyntheticPairs
    >>> outputs = {1: None}
    >>> rows = evaluate(lambda x: x, SyntheticPairs("test", n=2, size=(32, 48)), restored=outputs)
    >>> rows[0]["psnr"] == rows[0]["psnr_blurry"]   # the identity gains nothing
    True
    >>> outputs[1].shape
    (32, 48, 3)
    """
    if hasattr(model, "eval"):
        model.eval()
    rows = []
    for i in tqdm(range(len(pairs)), desc="evaluating", disable=not progress):
        blurred, sharp = pairs[i]
        output = deblur(model, blurred, tile=tile, overlap=overlap)
        if restored is not None and i in restored:
            restored[i] = output
        rows.append(
            {
                "name": _name(pairs, i),
                "psnr_blurry": psnr(blurred, sharp),
                "ssim_blurry": ssim(blurred, sharp),
                "psnr": psnr(output, sharp),
                "ssim": ssim(output, sharp),
            }
        )
    return rows


def summarise(rows: list[dict]) -> dict:
    """Means over the rows, the PSNR gain, and the metric convention.

    Examples
    --------
    >>> s = summarise([{"name": "a", "psnr_blurry": 20, "ssim_blurry": 0.6, "psnr": 24,
    ...                 "ssim": 0.8}])
    >>> s["psnr_gain"], s["images"]
    (4.0, 1)
    """
    means = {key: float(np.mean([r[key] for r in rows])) for key in FIELDS[1:]}
    return {
        "images": len(rows),
        **means,
        "psnr_gain": means["psnr"] - means["psnr_blurry"],
        "convention": CONVENTION,
    }


def write_results(rows: list[dict], out_dir: str | os.PathLike, extra: dict | None = None) -> dict:
    """Write ``results.csv`` (one row per image) and ``results.json`` (summary + rows),
    each atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "results.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    summary = {**summarise(rows), **(extra or {})}
    with atomic_path(out_dir / "results.json") as tmp:
        tmp.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    return summary


def figure_grid(
    model,
    pairs,
    indices=(0, 1, 2),
    tile: int | None = None,
    overlap: int = 64,
    restored: dict | None = None,
):
    """Rows of blurry input / output / sharp target / absolute error; a matplotlib Figure.

    Parameters
    ----------
    model : torch.nn.Module
        Run on the pairs whose output ``restored`` does not hold.
    pairs : PairDataset or SyntheticPairs
    indices : sequence of int
        The pairs shown, one row each.
    tile, overlap : int
        As for :func:`evaluate`.
    restored : dict, optional
        Outputs already computed, by pair index, as :func:`evaluate` keeps them.

    Examples
    --------
    >>> from svrnn_lite.data import SyntheticPairs
    >>> pairs, outputs = SyntheticPairs("test", n=1, size=(32, 48)), {0: None}
    >>> rows = evaluate(lambda x: x, pairs, restored=outputs)
    >>> figure_grid(None, pairs, indices=[0], restored=outputs).axes[1].get_title()
    'output, ... dB'
    """
    import matplotlib.pyplot as plt

    restored = restored or {}
    fig, axes = plt.subplots(len(indices), 4, figsize=(12, 2.0 * len(indices) + 0.4), squeeze=False)
    for row, i in zip(axes, indices, strict=True):
        blurred, sharp = pairs[i]
        output = restored.get(i)
        if output is None:
            output = deblur(model, blurred, tile=tile, overlap=overlap)
        output = np.clip(output, 0, 1)
        error = np.abs(output - sharp).mean(axis=2)
        panels = [
            (blurred, f"blurry, {psnr(blurred, sharp):.2f} dB"),
            (output, f"output, {psnr(output, sharp):.2f} dB"),
            (sharp, "sharp"),
            (error, "|output - sharp|"),
        ]
        for ax, (image, title) in zip(row, panels, strict=True):
            if image.ndim == 2:  # the error map, on a fixed scale so rows compare
                ax.imshow(image, cmap="magma", vmin=0, vmax=0.25)
            else:
                ax.imshow(np.clip(image, 0, 1))
            ax.set_title(title)
            ax.axis("off")
    fig.tight_layout()
    return fig


@torch.inference_mode()
def cpu_seconds_per_frame(model, height: int = 720, width: int = 1280, repeats: int = 3) -> float:
    """Median wall time of ``model`` on one ``height`` x ``width`` frame (after one warm-up run)."""
    model.eval()
    frame = torch.rand(1, 3, height, width)
    model(frame)  # warm-up: allocations, numba compilation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(frame)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _name(pairs, index: int) -> str:
    files = getattr(pairs, "pairs", None)
    if files is None:
        return f"{getattr(pairs, 'split', 'pair')}/{index:04d}"
    blur_path = Path(files[index][0])
    return f"{blur_path.parent.parent.name}/{blur_path.name}"
