"""The paper's Table 1 in miniature: multi-task network vs SVRNN baseline vs RNN-free UNet.

Runs of one recipe (:data:`RECIPE`, the one that trained the model shipped before the training
campaign of ``data_scripts/train_reference.py``) that differ only in ``arch`` and ``seed``: the
same lite width, global residual, synthetic data, batch, crop, learning rate and schedule. Every
arm gets the same *training time* (:data:`BUDGET_MINUTES` on two cores), not the same number of
steps: a faster network makes more steps in it. The time of one step of each network is measured
side by side before the first run (:func:`plan_steps`) and kept in ``runs/ablation/plan.json``, so
that a resumed slice trains the same number of steps. Each arm is trained with every seed of
:data:`SEEDS` (seed: initial weights and every batch), scored on the synthetic test split (PSNR
and SSIM, GoPro convention; mean and spread over the seeds) and costed on a 1280x720 frame:
parameters, GFLOP and CPU seconds, all timed side by side in this one process. An ordering of two
arms is claimed only when the gap between their means exceeds the seed-to-seed spread of both
(:func:`compare`). The chapter *Evaluation* reads the results::

    .venv/bin/python data_scripts/run_ablation.py                    # about 40 minutes, resumable
    .venv/bin/python data_scripts/run_ablation.py --time-limit 10    # or in slices: it resumes

Runs go to ``runs/ablation/seed-<seed>/<arch>`` (each resumes from its ``last.pt`` when started
again; a finished one is not retrained) and the results to ``book/chapters/data/ablation.json``
and ``ablation.csv``. ``--steps`` (the same steps for every arm instead of a time budget),
``--budget``, ``--seeds``, ``--batch-size``, ``--crop``, ``--data``, ``--runs``, ``--results`` and
``--height``/``--width`` exist for quick checks and tests; the committed results use the defaults.
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

from svrnn_lite.atomic import atomic_path
from svrnn_lite.checkpoint import load_checkpoint, safe_load
from svrnn_lite.cost import count_parameters, flops_per_image
from svrnn_lite.data import PairDataset, SyntheticPairs, random_crop_batch
from svrnn_lite.evaluate import cpu_seconds_per_frame, evaluate
from svrnn_lite.layout import gopro_pairs
from svrnn_lite.metrics import CONVENTION
from svrnn_lite.models import build_model
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
#: Training time of every arm and seed, in minutes on two cores: about the time the multi-task
#: network took for the recipe's 1200 steps (0.31 s a step at batch 8, crop 128; 0.47 s on the
#: slower day of the stored run), so three arms and two seeds train in about 36 minutes, plus a
#: few of scoring and timing.
BUDGET_MINUTES = 6.0
#: Seeds of every arm: two at least, so that the spread between runs is measured, not guessed.
SEEDS = (0, 1)
ARMS = {
    "multitask": "multi-task (the paper)",
    "baseline": "SVRNN baseline",
    "plain": "plain UNet (no RNN)",
}
SCHEMA = "svrnn-lite ablation, version 2"
PLAN = "plan.json"
CURVE_POINTS = 24  # training-loss curve: means over this many equal windows of steps


def arm_config(arch: str, steps: int, data: Path, runs: Path, seed: int = 0, **changes):
    """The recipe with ``arch``, ``steps``, ``seed`` and the folder ``runs/seed-<seed>/arch``."""
    out = runs / f"seed-{seed}" / arch
    return replace(
        RECIPE, arch=arch, steps=steps, seed=seed, data=str(data), out=str(out), **changes
    )


def plan_steps(step_seconds: dict[str, float], budget_seconds: float) -> dict[str, int]:
    """Steps of each arm that fill ``budget_seconds`` at its measured seconds per step.

    >>> plan_steps({"multitask": 0.3, "plain": 0.2}, 60)
    {'multitask': 200, 'plain': 300}
    """
    return {arch: max(1, round(budget_seconds / t)) for arch, t in step_seconds.items()}


def load_or_make_plan(runs: Path, cfg: TrainConfig, budget_minutes: float, steps: int | None):
    """The steps of each arm: read from ``runs/plan.json``, or measured and written there.

    A resumed slice must train the same steps as the first one, so the plan is made once. A
    plan made for another budget, batch or crop is refused rather than silently reused.
    """
    wanted = {
        "budget_minutes": None if steps else budget_minutes,
        "steps": steps,
        "batch_size": cfg.batch_size,
        "crop": cfg.crop,
    }
    path = runs / PLAN
    if path.exists():
        plan = json.loads(path.read_text())
        made_for = {k: plan.get(k) for k in wanted}
        if made_for != wanted:
            raise SystemExit(
                f"{path} was made for {made_for}, not {wanted}: "
                "delete that folder to start the ablation again, or pass its settings"
            )
        return plan
    if steps:
        plan = wanted | {"arm_steps": dict.fromkeys(ARMS, steps)}
    else:
        print("timing one training step of each network, side by side", flush=True)
        models = {}
        for arch in ARMS:
            torch.manual_seed(0)
            models[arch] = build_model(cfg.preset, arch=arch, residual=cfg.residual)
        seconds = seconds_per_training_step(models, cfg, rounds=5)
        plan = wanted | {
            "step_seconds": seconds,
            "arm_steps": plan_steps(seconds, 60 * budget_minutes),
        }
    runs.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(plan, indent=1) + "\n")
    return plan


def train_arms(configs: dict, time_limit: float | None) -> bool:
    """Train (or resume, or skip when finished) every (arch, seed); True when all are finished."""
    started = time.monotonic()
    for (arch, seed), cfg in configs.items():
        # what is left of the slice (a run always makes at least one step)
        left = None if time_limit is None else max(0.0, time_limit - (time.monotonic() - started))
        print(f"== {arch}, seed {seed}: {ARMS[arch]}, {cfg.steps} steps", flush=True)
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

    return side_by_side(step, list(copies), rounds)


def cpu_seconds_side_by_side(models: dict, height: int, width: int, rounds: int = 3) -> dict:
    """CPU seconds per frame of each model: rounds of one timed run each, interleaved; median."""

    def run(arch: str) -> float:
        return cpu_seconds_per_frame(models[arch], height, width, repeats=1)

    return side_by_side(run, list(models), rounds, warm_up=False)


def side_by_side(run, names: list[str], rounds: int, warm_up: bool = True) -> dict[str, float]:
    """Median of ``run(name)`` (seconds) for each name, the names interleaved round by round.

    Interleaving spreads a change in the machine's load over every name alike; the warm-up call
    of each name (allocations, numba compilation) is not counted.

    >>> side_by_side(lambda name: len(name), ["ab", "abc"], rounds=3)
    {'ab': 2, 'abc': 3}
    """
    if warm_up:
        for name in names:
            run(name)
    times = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            times[name].append(run(name))
    return {name: statistics.median(t) for name, t in times.items()}


def compare(a: dict, b: dict) -> dict:
    """Is arm ``a`` better than arm ``b``? Only when the gap exceeds the seed-to-seed spread.

    The gap is the difference of the mean PSNRs; the spread the larger of the two arms' ranges
    over their seeds (largest minus smallest PSNR).

    >>> compare({"arch": "a", "psnr": 28.6, "psnr_spread": 0.1},
    ...         {"arch": "b", "psnr": 28.4, "psnr_spread": 0.05})["verdict"]
    'a > b'
    >>> compare({"arch": "a", "psnr": 28.6, "psnr_spread": 0.3},
    ...         {"arch": "b", "psnr": 28.4, "psnr_spread": 0.05})["verdict"]
    'no ordering shown'
    """
    gap = a["psnr"] - b["psnr"]
    spread = max(a["psnr_spread"], b["psnr_spread"])
    if abs(gap) <= spread:
        verdict = "no ordering shown"
    else:
        verdict = f"{a['arch']} > {b['arch']}" if gap > 0 else f"{b['arch']} > {a['arch']}"
    return {"a": a["arch"], "b": b["arch"], "gap": gap, "spread": spread, "verdict": verdict}


def score_arms(configs: dict, height: int, width: int, rounds: int, progress: bool = True) -> dict:
    """Quality on the test split (every seed) and cost per frame of every arm: the results dict."""
    cfg = next(iter(configs.values()))
    seeds = sorted({seed for _, seed in configs})
    test_set = PairDataset(gopro_pairs(cfg.data, "test", cfg.variant), cache=True)
    rows = {}
    for (arch, seed), arm_cfg in configs.items():
        model = load_checkpoint(Path(arm_cfg.out) / CHECKPOINT).eval()
        print(f"scoring {arch}, seed {seed}, on {len(test_set)} test images", flush=True)
        rows[arch, seed] = evaluate(model, test_set, progress=progress)
    print(f"timing {height}x{width} inference and training steps side by side", flush=True)
    models = {arch: load_checkpoint(Path(configs[arch, seeds[0]].out) / CHECKPOINT).eval()
              for arch in ARMS}  # fmt: skip
    seconds = cpu_seconds_side_by_side(models, height, width, rounds)
    step_seconds = seconds_per_training_step(models, cfg, rounds)
    first = rows[next(iter(rows))]
    psnr_blurry = float(np.mean([r["psnr_blurry"] for r in first]))
    arms = []
    for arch in ARMS:
        runs = []
        for seed in seeds:
            history = safe_load(Path(configs[arch, seed].out) / CHECKPOINT)["history"]
            runs.append(
                {
                    "seed": seed,
                    "psnr": float(np.mean([r["psnr"] for r in rows[arch, seed]])),
                    "ssim": float(np.mean([r["ssim"] for r in rows[arch, seed]])),
                    "final_val_psnr": float(history[-1].get("val_psnr", float("nan"))),
                    "curve": training_curve(history),
                }
            )
        psnrs, ssims = [r["psnr"] for r in runs], [r["ssim"] for r in runs]
        arms.append(
            {
                "arch": arch,
                "label": ARMS[arch],
                "model": models[arch].config.describe(),
                "steps": configs[arch, seeds[0]].steps,
                "params": count_parameters(models[arch]),
                "gflop_per_frame": flops_per_image(models[arch], height, width) / 1e9,
                "cpu_seconds_per_frame": seconds[arch],
                "train_seconds_per_step": step_seconds[arch],
                "psnr": float(np.mean(psnrs)),
                "psnr_spread": float(np.ptp(psnrs)),
                "ssim": float(np.mean(ssims)),
                "ssim_spread": float(np.ptp(ssims)),
                "psnr_gain": float(np.mean(psnrs)) - psnr_blurry,
                "seeds": runs,
            }
        )
    by_arch = {arm["arch"]: arm for arm in arms}
    per_image = [
        {
            "name": r["name"],
            "psnr_blurry": r["psnr_blurry"],
            "ssim_blurry": r["ssim_blurry"],
            **{f"psnr_{a}": float(np.mean([rows[a, s][i]["psnr"] for s in seeds])) for a in ARMS},
            **{f"ssim_{a}": float(np.mean([rows[a, s][i]["ssim"] for s in seeds])) for a in ARMS},
        }
        for i, r in enumerate(first)
    ]
    varied = ("arch", "out", "progress", "steps", "seed")
    common = {k: v for k, v in asdict(cfg).items() if k not in varied}
    return {
        "schema": SCHEMA,
        "description": "Table 1 of Anisimovskiy et al. (2023) in miniature: the three "
        "architectures trained with the same recipe for the same time, with several seeds, "
        "scored on the synthetic test split",
        "convention": CONVENTION,
        "train_config": common | {"data": _relative(cfg.data)},
        "seeds": seeds,
        "split": "test",
        "images": len(first),
        "blurry": {
            "psnr": psnr_blurry,
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
        "comparisons": [
            compare(by_arch[a], by_arch[b])
            for a, b in (("multitask", "baseline"), ("multitask", "plain"), ("baseline", "plain"))
        ],
        "rows": per_image,
    }


def write_results(results: dict, folder: Path, plan: dict) -> tuple[Path, Path]:
    """Write ``ablation.json`` (everything, and the plan) and ``ablation.csv`` (a row per arm)."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = folder / "ablation.json", folder / "ablation.csv"
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(results | {"plan": plan}, indent=1) + "\n")
    columns = [
        "arch", "label", "steps", "params", "gflop_per_frame", "cpu_seconds_per_frame",
        "train_seconds_per_step", "psnr", "psnr_spread", "ssim", "ssim_spread", "psnr_gain",
    ]  # fmt: skip
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerow({"arch": "blurry", "label": "blurry input", **results["blurry"]})
        writer.writerows(results["arms"])
    return json_path, csv_path


def print_table(results: dict) -> None:
    frame = results["frame"]
    size = f"{frame['width']}x{frame['height']}"
    seeds = len(results["seeds"])
    print(f"{'':24} {'steps':>6} {'PSNR':>6} {'range':>6} {'SSIM':>6} {'params':>8} "
          f"{'GFLOP':>7} {'CPU s':>6}  ({size}; {seeds} seeds)")  # fmt: skip
    blurry = results["blurry"]
    print(f"{'blurry input':24} {'':>6} {blurry['psnr']:6.2f} {'':>6} {blurry['ssim']:6.3f}")
    for arm in results["arms"]:
        print(
            f"{arm['label']:24} {arm['steps']:6d} {arm['psnr']:6.2f} {arm['psnr_spread']:6.2f} "
            f"{arm['ssim']:6.3f} {arm['params']:8d} {arm['gflop_per_frame']:7.1f} "
            f"{arm['cpu_seconds_per_frame']:6.2f}"
        )
    for c in results["comparisons"]:
        print(f"{c['a']} - {c['b']}: {c['gap']:+.2f} dB, spread {c['spread']:.2f}: {c['verdict']}")
    print(results["convention"])


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: .venv/bin/python data_scripts/run_ablation.py --time-limit 10",
    )
    parser.add_argument(
        "--budget", type=float, default=BUDGET_MINUTES,
        help="training minutes of every arm and seed on two cores (%(default)s)",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, help="the same steps for every arm instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="(0 1)")
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
    if args.budget <= 0 or (args.steps is not None and args.steps < 1):
        parser.error("--budget must be positive minutes and --steps a positive count")
    if len(set(args.seeds)) < 2:
        parser.error("--seeds needs two different seeds at least: the spread is what is measured")

    tune_malloc()  # as the CLI does: reuse freed memory, faster large frames
    torch.set_num_threads(RECIPE.threads)
    if args.data == Path(RECIPE.data) and not (args.data / "synth.json").exists():
        from svrnn_lite.synth import write_dataset

        write_dataset(args.data, seed=RECIPE.data_seed)
    changes = dict(batch_size=args.batch_size, crop=args.crop, progress=args.progress)
    plan = load_or_make_plan(args.runs, replace(RECIPE, **changes), args.budget, args.steps)
    configs = {
        (arch, seed): arm_config(
            arch, plan["arm_steps"][arch], args.data, args.runs, seed, **changes
        )
        for arch in ARMS
        for seed in args.seeds
    }
    limit = None if args.time_limit is None else 60 * args.time_limit
    if not train_arms(configs, limit):
        print("stopped before all arms finished: run the same command again to resume")
        return 3
    results = score_arms(configs, args.height, args.width, args.rounds, args.progress)
    print_table(results)
    json_path, csv_path = write_results(results, args.results, plan)
    print(f"wrote {json_path} and {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
