"""Choose the campaign's recipe by short runs of equal CPU time, scored on real blur.

Each arm is one change to the recipe of ``train_reference.py`` (:data:`ARMS`; ``control`` is
the recipe itself). Every arm starts from the same weights, the committed ones (the shipped
model), and trains one cosine cycle that anneals the learning rate to zero, for the same time
on two cores as every other arm: the time of one training step of each arm is measured side by
side first, and each arm's steps are set from it (:func:`plan_steps`), so an arm that is dearer
per step makes fewer steps (arms that differ only in their data run the same step and share one
timing, :func:`same_step`). The plan is kept in ``WORK/runs/probes-phase-NN.json``, so that an
interrupted probe resumes with the same steps. Each arm is then scored like the shipped model:
on the real pairs of ``benchmarks/real_blur_check.py`` and on the photo test split. The scores,
with those of the starting weights, go to ``book/chapters/data/recipe_probes.json``, which
chapter *Training* shows as a table::

    .venv/bin/python data_scripts/recipe_probe.py --minutes 35 control crop192   # ~75 minutes

Arms train into ``WORK/runs/phase-NN-<arm>``, the campaign's next phase number, so that the
best one can be shipped as that phase::

    .venv/bin/python data_scripts/train_reference.py --export --phase phase-05-crop192

One run of each arm, one seed: a difference between arms smaller than about 0.05 dB on the
held-out block is within what a second seed could change.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import train_reference as campaign  # noqa: E402

RESULTS = campaign.ROOT / "book" / "chapters" / "data" / "recipe_probes.json"
#: The changes each arm makes to the campaign's recipe.
ARMS = {
    "control": {},
    "crop192": {"crop": 192, "batch_size": 4},  # 1.1x the pixels of a step, 1.5x the context
    "crop256": {"crop": 256, "batch_size": 2},  # the same pixels as the recipe, 2x the context
    "lr1e-3": {"lr": 1e-3},
    "l2": {"loss": "l2"},
    # crop192 with half of every batch from train_reference.make_strong_data: longer exposures
    # of the GoPro frames and faster camera shake of the photographs ("data": folders added,
    # each drawn from as much as every other)
    "strong-blur": {"crop": 192, "batch_size": 4, "data": ["gopro0477_long", "photos_strong"]},
    # the same with the fast-shake photographs alone (a third of every batch): tells the two
    # sources of stronger blur apart
    "strong-photos": {"crop": 192, "batch_size": 4, "data": ["photos_strong"]},
    # crop192 without the nearly static windows: 72% of GOPR0477's 192-px windows and 15% of
    # the photo pairs' have an input above 30 dB, and teach only to copy the input
    "moving": {"crop": 192, "batch_size": 4, "static_psnr": 30.0},
    # crop192 with two thirds of every batch from the photo pairs instead of one half
    "photos-heavy": {"crop": 192, "batch_size": 4, "data": ["photos_gopro"]},
    # moving with every pair also averaged in linear light (GoPro's blur_gamma), so that half
    # of the crops are: the real crops are brighter than their targets, as such averages are
    "linear-light": {"crop": 192, "batch_size": 4, "static_psnr": 30.0, "variant": "both"},
    # linear-light with half the peak learning rate: the warm restart to 5e-4 of phase 15 cost
    # about 0.2 dB on the held-out block, and its cycle ended only 0.04 dB above its start
    "half-lr": {"crop": 192, "batch_size": 4, "static_psnr": 30.0, "variant": "both", "lr": 2.5e-4},
}


def plan_steps(step_seconds: dict[str, float], minutes: float) -> dict[str, int]:
    """Steps of each arm that fill ``minutes`` at its measured seconds per step.

    >>> plan_steps({"control": 1.0, "crop192": 1.25}, 10)
    {'control': 600, 'crop192': 480}
    """
    return {arm: max(1, round(60 * minutes / t)) for arm, t in step_seconds.items()}


def arm_config(work: Path, phase: int, arm: str, steps: int, data: list[Path]):
    """The recipe with the arm's changes, from the committed weights, one cycle of ``steps``."""
    run = work / "runs" / f"phase-{phase:02d}-{arm}"
    changes = dict(ARMS[arm])
    folders = {f.name: f for f in [*data, *campaign.strong_folders(work)]}
    data = [*data, *(folders[name] for name in changes.pop("data", []))]
    cfg = campaign.phase_config(run, data, campaign.WEIGHTS)
    return replace(cfg, steps=steps, **changes)


def same_step(configs: dict) -> list[list[str]]:
    """The arms grouped by what one training step computes (crops, batch, loss): arms that differ
    only in their data run the same step, so one timing serves them all and they make the same
    number of steps, free of timing noise.

    >>> cfg = arm_config(Path("w"), 9, "crop192", 1, [Path("real"), Path("photos")])
    >>> arms = {"crop192": cfg, "strong-blur": replace(cfg, data=[]), "l2": replace(cfg, loss="l2")}
    >>> same_step(arms)
    [['crop192', 'strong-blur'], ['l2']]
    """
    groups: dict[tuple, list[str]] = {}
    for arm, cfg in configs.items():
        groups.setdefault((cfg.batch_size, cfg.crop, cfg.loss), []).append(arm)
    return list(groups.values())


def seconds_per_step(configs: dict, rounds: int = 4) -> dict[str, float]:
    """Median time of one training step of each arm's settings, the arms interleaved; arms that
    run the same step (:func:`same_step`) share the timing of the first of them."""
    import numpy as np
    import torch
    from run_ablation import side_by_side

    from svrnn_lite.checkpoint import load_checkpoint
    from svrnn_lite.train import training_loss

    start = load_checkpoint(campaign.WEIGHTS).train()
    rng = np.random.default_rng(0)
    models = {arm: copy.deepcopy(start) for arm in configs}
    optimizers = {arm: torch.optim.Adam(m.parameters(), lr=1e-9) for arm, m in models.items()}

    def step(arm: str) -> float:
        cfg = configs[arm]
        shape = (cfg.batch_size, 3, cfg.crop, cfg.crop)
        blurred = torch.from_numpy(rng.random(shape, dtype=np.float32))
        sharp = torch.from_numpy(rng.random(shape, dtype=np.float32))
        begin = time.perf_counter()
        loss = training_loss(models[arm](blurred) - sharp, cfg.loss)
        optimizers[arm].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[arm].step()
        return time.perf_counter() - begin

    groups = same_step(configs)
    timed = side_by_side(step, [group[0] for group in groups], rounds)
    return {arm: timed[group[0]] for group in groups for arm in group}


def load_or_make_plan(work: Path, arms: list[str], minutes: float, data: list[Path]) -> dict:
    """The probe's plan: an unfinished one with these arms and minutes, or a new one."""
    for path in sorted((work / "runs").glob("probes-phase-*.json")):
        plan = json.loads(path.read_text())
        if plan["arms"] == arms and plan["minutes"] == minutes:
            return plan
    phase = campaign._next_phase(campaign.current_phase(work))
    configs = {arm: arm_config(work, phase, arm, 1, data) for arm in arms}
    print(f"timing one training step of each arm, side by side: {', '.join(arms)}", flush=True)
    seconds = seconds_per_step(configs)
    plan = {
        "phase": phase,
        "arms": arms,
        "minutes": minutes,
        "step_seconds": seconds,
        "steps": plan_steps(seconds, minutes),
    }
    from svrnn_lite.atomic import atomic_path

    (work / "runs").mkdir(parents=True, exist_ok=True)
    with atomic_path(work / "runs" / f"probes-phase-{phase:02d}.json") as tmp:
        tmp.write_text(json.dumps(plan, indent=1) + "\n")
    return plan


def scores(model, data: list[Path]) -> dict:
    """The shipped model's record for ``model``: every real set and the photo test split, and
    the held-out block and the photo test split averaged in linear light (GoPro ``blur_gamma``)."""
    from svrnn_lite.blur import GOPRO_GAMMA
    from svrnn_lite.data import PairDataset, gopro_pairs
    from svrnn_lite.evaluate import evaluate

    sys.path.insert(0, str(campaign.ROOT / "benchmarks"))
    from real_blur_check import FRAMES, FramePairs, real_sets, summary

    shared = campaign.SHARED / "realblur"
    result = {name: summary(evaluate(model, pairs)) for name, pairs in real_sets(shared).items()}
    for variant, label in (("blur", ""), ("blur_gamma", ", linear light")):
        photos = PairDataset(gopro_pairs(data[1], "test", variant))
        result["photo test split" + label] = summary(evaluate(model, photos))
    linear = FramePairs(shared / FRAMES, gamma=GOPRO_GAMMA)
    result["held-out block, linear light"] = summary(evaluate(model, linear))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("arms", nargs="+", choices=sorted(ARMS), help="the arms to compare")
    parser.add_argument("--minutes", type=float, default=35.0, help="training time of each arm")
    parser.add_argument("--work", type=Path, default=campaign.WORK, help="(%(default)s)")
    parser.add_argument("--time-limit", type=float, help="minutes to train in this slice")
    parser.add_argument(
        "--json", type=Path, default=RESULTS, help="where the scores go (%(default)s)"
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.minutes <= 0 or len(set(args.arms)) != len(args.arms):
        parser.error("--minutes must be positive and each arm named once")
    if not campaign.WEIGHTS.exists():
        parser.error(f"no committed weights at {campaign.WEIGHTS} to start the arms from")
    import torch

    from svrnn_lite.checkpoint import load_checkpoint
    from svrnn_lite.runtime import tune_malloc
    from svrnn_lite.train import CHECKPOINT, train

    tune_malloc()
    torch.set_num_threads(campaign.RECIPE.threads)
    work = args.work.resolve()
    data = campaign.make_data(work)
    strong = {f.name for f in campaign.strong_folders(work)}
    if any(strong & set(ARMS[arm].get("data", [])) for arm in args.arms):
        campaign.make_strong_data(work)
    plan = load_or_make_plan(work, args.arms, args.minutes, data)
    started = time.monotonic()
    for arm in args.arms:
        cfg = arm_config(work, plan["phase"], arm, plan["steps"][arm], data)
        left = None
        if args.time_limit is not None:
            left = max(0.0, 60 * args.time_limit - (time.monotonic() - started))
        print(f"== {arm}: {ARMS[arm] or 'the recipe'}, {cfg.steps} steps", flush=True)
        result = train(cfg, resume=(Path(cfg.out) / CHECKPOINT).exists(), time_limit=left)
        if not result["finished"]:
            print("stopped before every arm finished: run the same command again to resume")
            return 3
    record = {
        "description": "short runs of equal training time from the same weights, one change "
        "to the recipe each; mean PSNR gain over the blurry inputs (GoPro convention)",
        "plan": plan,
        "recipe": {k: v for k, v in asdict(campaign.RECIPE).items() if k not in ("data", "out")},
        "start": {
            "weights": "the shipped model before the probe",
            **scores(load_checkpoint(campaign.WEIGHTS).eval(), data),
        },  # fmt: skip
        "arms": [],
    }
    for arm in args.arms:
        run = work / "runs" / f"phase-{plan['phase']:02d}-{arm}"
        print(f"scoring {arm}", flush=True)
        record["arms"].append(
            {"arm": arm, "changes": ARMS[arm], "steps": plan["steps"][arm], "run": run.name}
            | scores(load_checkpoint(run / CHECKPOINT).eval(), data)
        )
    from svrnn_lite.atomic import atomic_path

    with atomic_path(args.json) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    for row in [record["start"], *record["arms"]]:
        gains = "  ".join(
            f"{k} {v['gain']:+.2f}" for k, v in row.items() if isinstance(v, dict) and "gain" in v
        )
        print(f"{row.get('arm', 'start'):>8}: {gains}")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
