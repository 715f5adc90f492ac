"""The paper's Table 1 in miniature: multi-task network vs SVRNN baseline vs RNN-free UNet.

Three runs of one recipe (:data:`RECIPE`, the one that trained the model shipped before the
training campaign of ``data_scripts/train_reference.py``) that differ only in ``arch``: the same
lite width, global residual, synthetic data, batch, crop, learning rate, schedule, steps
(:data:`STEPS`) and seed; all three train in about 15 minutes on two idle CPU cores. Then each
is scored on the synthetic test split (PSNR and SSIM, GoPro convention) and costed on a
1280x720 frame: parameters, GFLOP and CPU seconds, all three timed side by side in this one
process. The chapter *Evaluation* reads the results::

    .venv/bin/python data_scripts/run_ablation.py                    # about 15 minutes, resumable
    .venv/bin/python data_scripts/run_ablation.py --time-limit 5     # or in slices: it resumes

Runs go to ``runs/ablation/<arch>`` (each resumes from its ``last.pt`` when started again; a
finished one is not retrained) and the results to ``book/chapters/data/ablation.json`` and
``ablation.csv``. ``--steps``, ``--batch-size``, ``--crop``, ``--data``, ``--runs``,
``--results`` and ``--height``/``--width`` exist for quick checks and tests; the committed
results use the defaults.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from svrnn_lite.checkpoint import load_checkpoint, safe_load
from svrnn_lite.cost import count_parameters, flops_per_image
from svrnn_lite.data import PairDataset, SyntheticPairs, random_crop_batch
from svrnn_lite.evaluate import cpu_seconds_per_frame, evaluate
from svrnn_lite.layout import gopro_pairs
from svrnn_lite.metrics import CONVENTION
from svrnn_lite.runtime import tune_malloc
from svrnn_lite.train import CHECKPOINT, TrainConfig, train

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The recipe of every arm (with its own ``arch``): the one that trained the model shipped before
#: the training campaign, on the bundled synthetic data.
RECIPE = TrainConfig(
    preset="lite",
    arch="multitask",
    residual=True,
    loss="psnr",
    data=str(ROOT / "data" / "synthetic"),
    steps=1200,
    batch_size=8,
    crop=128,
    lr=1e-3,
    lr_power=2.0,
    val_every=500,
    val_images=8,
    seed=0,
    out=str(ROOT / "runs" / "reference"),
    threads=2,
)
#: Steps per arm: the recipe's. At batch 8, crop 128 on two idle cores one step (forward, backward,
#: Adam) took 0.265 s for the multi-task net, 0.268 s for the baseline and 0.175 s for the plain
#: UNet, so three arms of 1200 steps train in about 14 minutes, plus a minute of scoring and timing.
STEPS = RECIPE.steps
ARMS = {
    "multitask": "multi-task (the paper)",
    "baseline": "SVRNN baseline",
    "plain": "plain UNet (no RNN)",
}
SCHEMA = "svrnn-lite ablation, version 1"
CURVE_POINTS = 24  # training-loss curve: means over this many equal windows of steps


def arm_config(arch: str, steps: int, data: Path, runs: Path, **changes) -> TrainConfig:
    """The recipe with ``arch``, ``steps`` and the output folder ``runs/arch`` replaced."""
    return replace(RECIPE, arch=arch, steps=steps, data=str(data), out=str(runs / arch), **changes)


def train_arms(configs: dict[str, TrainConfig], time_limit: float | None) -> bool:
    """Train (or resume, or skip when finished) every arm; True when all are finished."""
    started = time.monotonic()
    for arch, cfg in configs.items():
        # what is left of the slice (a run always makes at least one step)
        left = None if time_limit is None else max(0.0, time_limit - (time.monotonic() - started))
        print(f"== {arch}: {ARMS[arch]}", flush=True)
        resume = (Path(cfg.out) / CHECKPOINT).exists()
        result = train(cfg, resume=resume, time_limit=left)
        if not result["finished"]:
            return False
    return True


def training_curve(history: list[dict], points: int = CURVE_POINTS) -> dict:
    """Mean training loss over ``points`` equal windows of steps, and the validation PSNRs."""
    windows = np.array_split(np.arange(len(history)), min(points, len(history)))
    return {
        "step": [int(history[w[-1]]["step"]) for w in windows],
        "loss": [float(np.mean([history[i]["loss"] for i in w])) for w in windows],
        "val_step": [int(h["step"]) for h in history if "val_psnr" in h],
        "val_psnr": [float(h["val_psnr"]) for h in history if "val_psnr" in h],
    }


def seconds_per_training_step(models: dict, cfg: TrainConfig, rounds: int = 3) -> dict:
    """Median time of one training step (forward, backward, Adam) of each model, interleaved."""
    blurred, sharp = random_crop_batch(
        SyntheticPairs("train", n=cfg.batch_size, size=(cfg.crop, cfg.crop)),
        np.random.default_rng(0),
        cfg.batch_size,
        cfg.crop,
    )
    copies = {arch: copy.deepcopy(model).train() for arch, model in models.items()}
    optimizers = {arch: torch.optim.Adam(m.parameters(), lr=1e-6) for arch, m in copies.items()}

    def step(arch: str) -> float:
        start = time.perf_counter()
        loss = F.mse_loss(copies[arch](blurred), sharp)
        optimizers[arch].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[arch].step()
        return time.perf_counter() - start

    for arch in copies:  # warm-up: allocations, numba compilation
        step(arch)
    times = {arch: [] for arch in copies}
    for _ in range(rounds):
        for arch in copies:
            times[arch].append(step(arch))
    return {arch: statistics.median(t) for arch, t in times.items()}


def cpu_seconds_side_by_side(models: dict, height: int, width: int, rounds: int = 3) -> dict:
    """CPU seconds per frame of each model: rounds of one timed run each, interleaved; median."""
    times = {arch: [] for arch in models}
    for _ in range(rounds):
        for arch, model in models.items():
            times[arch].append(cpu_seconds_per_frame(model, height, width, repeats=1))
    return {arch: statistics.median(t) for arch, t in times.items()}


def score_arms(
    configs: dict[str, TrainConfig], height: int, width: int, rounds: int, progress: bool = True
) -> dict:
    """Quality on the test split and cost per frame of every trained arm: the results dict."""
    cfg = next(iter(configs.values()))
    test_set = PairDataset(gopro_pairs(cfg.data, "test", cfg.variant), cache=True)
    models, rows, arms = {}, {}, []
    for arch, arm_cfg in configs.items():
        path = Path(arm_cfg.out) / CHECKPOINT
        models[arch] = load_checkpoint(path).eval()
        print(f"scoring {arch} on {len(test_set)} test images", flush=True)
        rows[arch] = evaluate(models[arch], test_set, progress=progress)
    print(f"timing {height}x{width} inference and training steps side by side", flush=True)
    seconds = cpu_seconds_side_by_side(models, height, width, rounds)
    step_seconds = seconds_per_training_step(models, cfg, rounds)
    for arch, arm_cfg in configs.items():
        checkpoint = safe_load(Path(arm_cfg.out) / CHECKPOINT, required=("history", "step"))
        history = checkpoint["history"]
        psnr = float(np.mean([r["psnr"] for r in rows[arch]]))
        psnr_blurry = float(np.mean([r["psnr_blurry"] for r in rows[arch]]))
        arms.append(
            {
                "arch": arch,
                "label": ARMS[arch],
                "model": models[arch].config.describe(),
                "steps": int(checkpoint["step"]),
                "params": count_parameters(models[arch]),
                "gflop_per_frame": flops_per_image(models[arch], height, width) / 1e9,
                "cpu_seconds_per_frame": seconds[arch],
                "train_seconds_per_step": step_seconds[arch],
                "psnr": psnr,
                "ssim": float(np.mean([r["ssim"] for r in rows[arch]])),
                "psnr_gain": psnr - psnr_blurry,
                "final_val_psnr": float(history[-1].get("val_psnr", float("nan"))),
                "curve": training_curve(history),
            }
        )
    first = rows[next(iter(configs))]
    per_image = [
        {
            "name": r["name"],
            "psnr_blurry": r["psnr_blurry"],
            "ssim_blurry": r["ssim_blurry"],
            **{f"psnr_{arch}": rows[arch][i]["psnr"] for arch in configs},
            **{f"ssim_{arch}": rows[arch][i]["ssim"] for arch in configs},
        }
        for i, r in enumerate(first)
    ]
    common = {k: v for k, v in asdict(cfg).items() if k not in ("arch", "out", "progress")}
    return {
        "schema": SCHEMA,
        "description": "Table 1 of Anisimovskiy et al. (2023) in miniature: the three "
        "architectures trained with the same recipe, scored on the synthetic test split",
        "convention": CONVENTION,
        "train_config": common | {"data": _relative(cfg.data)},
        "split": "test",
        "images": len(first),
        "blurry": {
            "psnr": float(np.mean([r["psnr_blurry"] for r in first])),
            "ssim": float(np.mean([r["ssim_blurry"] for r in first])),
        },
        "frame": {"height": height, "width": width},
        "timing": {
            "threads": torch.get_num_threads(),
            "rounds": rounds,
            "torch": torch.__version__,
            "machine": platform.machine(),
            "note": "CPU seconds: median over rounds of one run per model after a warm-up, the "
            "models interleaved in one process; training step: batch and crop of the recipe",
        },
        "arms": arms,
        "rows": per_image,
    }


def write_results(results: dict, folder: Path) -> tuple[Path, Path]:
    """Write ``ablation.json`` (everything) and ``ablation.csv`` (one row per arm)."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = folder / "ablation.json", folder / "ablation.csv"
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    columns = [
        "arch", "label", "params", "gflop_per_frame", "cpu_seconds_per_frame",
        "train_seconds_per_step", "psnr", "ssim", "psnr_gain",
    ]  # fmt: skip
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerow({"arch": "blurry", "label": "blurry input", **results["blurry"]})
        writer.writerows(results["arms"])
    return json_path, csv_path


def print_table(results: dict) -> None:
    frame = results["frame"]
    size = f"{frame['width']}x{frame['height']}"
    print(f"{'':24} {'PSNR':>6} {'SSIM':>6} {'params':>8} {'GFLOP':>7} {'CPU s':>6}  ({size})")
    blurry = results["blurry"]
    print(f"{'blurry input':24} {blurry['psnr']:6.2f} {blurry['ssim']:6.3f}")
    for arm in results["arms"]:
        print(
            f"{arm['label']:24} {arm['psnr']:6.2f} {arm['ssim']:6.3f} {arm['params']:8d} "
            f"{arm['gflop_per_frame']:7.1f} {arm['cpu_seconds_per_frame']:6.2f}"
        )
    print(results["convention"])


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: .venv/bin/python data_scripts/run_ablation.py --time-limit 5",
    )
    parser.add_argument("--steps", type=int, default=STEPS, help="steps per arm (%(default)s)")
    parser.add_argument("--batch-size", type=int, default=RECIPE.batch_size)
    parser.add_argument("--crop", type=int, default=RECIPE.crop)
    parser.add_argument("--data", type=Path, default=Path(RECIPE.data), help="GoPro-layout data")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "ablation")
    parser.add_argument("--results", type=Path, default=ROOT / "book" / "chapters" / "data")
    parser.add_argument("--height", type=int, default=720, help="timed frame height")
    parser.add_argument("--width", type=int, default=1280, help="timed frame width")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (%(default)s)")
    parser.add_argument("--time-limit", type=float, help="minutes to train in this slice")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)

    tune_malloc()  # as the CLI does: reuse freed memory, faster large frames
    torch.set_num_threads(RECIPE.threads)
    if args.data == Path(RECIPE.data) and not (args.data / "synth.json").exists():
        from svrnn_lite.synth import write_dataset

        write_dataset(args.data, seed=RECIPE.data_seed)
    changes = dict(batch_size=args.batch_size, crop=args.crop, progress=args.progress)
    configs = {arch: arm_config(arch, args.steps, args.data, args.runs, **changes) for arch in ARMS}
    limit = None if args.time_limit is None else 60 * args.time_limit
    if not train_arms(configs, limit):
        print("stopped before all arms finished: run the same command again to resume")
        return 3
    results = score_arms(configs, args.height, args.width, args.rounds, args.progress)
    print_table(results)
    json_path, csv_path = write_results(results, args.results)
    print(f"wrote {json_path} and {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
