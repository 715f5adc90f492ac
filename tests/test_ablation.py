"""data_scripts/run_ablation.py end to end on a tiny dataset: it resumes, and its table is right."""

import csv
import doctest
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from svrnn_lite.checkpoint import load_checkpoint, safe_load
from svrnn_lite.cost import count_parameters, flops_per_image
from svrnn_lite.data import PairDataset
from svrnn_lite.layout import gopro_pairs
from svrnn_lite.metrics import psnr, ssim
from svrnn_lite.models import build_model
from svrnn_lite.synth import write_dataset

SCRIPT = Path(__file__).resolve().parents[1] / "data_scripts" / "run_ablation.py"
ARCHS = ["multitask", "baseline", "plain"]
SEEDS = [0, 1]
HEIGHT, WIDTH = 40, 56  # the timed frame: tiny, so the test stays fast


@pytest.fixture(scope="module")
def ablation():
    spec = importlib.util.spec_from_file_location("run_ablation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def finished(ablation, tmp_path_factory):
    """Run the ablation twice: a slice stopped by the time limit, then the rest (resumed)."""
    tmp = tmp_path_factory.mktemp("ablation")
    data = tmp / "data"
    sizes = dict(train_size=(40, 40), test_size=(32, 48))
    write_dataset(data, n_train=4, n_test=2, progress=False, **sizes)
    argv = [
        "--steps", "2", "--seeds", "0", "1", "--batch-size", "2", "--crop", "32",
        "--data", str(data), "--runs", str(tmp / "runs"), "--results", str(tmp / "results"),
        "--height", str(HEIGHT), "--width", str(WIDTH), "--rounds", "1", "--no-progress",
    ]  # fmt: skip
    threads = torch.get_num_threads()
    try:
        first = ablation.main([*argv, "--time-limit", "0"])
        first_step = safe_load(tmp / "runs" / "seed-0" / "multitask" / "last.pt")["step"]
        first_results = (tmp / "results" / "ablation.json").exists()
        second = ablation.main(argv)
    finally:
        torch.set_num_threads(threads)
    results = json.loads((tmp / "results" / "ablation.json").read_text())
    return {
        "tmp": tmp, "data": data, "first": first, "first_step": first_step,
        "first_results": first_results, "second": second, "results": results,
    }  # fmt: skip


def test_a_time_limit_stops_the_first_slice_and_the_next_run_resumes(finished):
    assert finished["first"] == 3 and finished["first_step"] == 1
    assert not finished["first_results"]
    assert finished["second"] == 0
    for arch in ARCHS:
        for seed in SEEDS:
            checkpoint = safe_load(finished["tmp"] / "runs" / f"seed-{seed}" / arch / "last.pt")
            assert checkpoint["step"] == 2
            assert checkpoint["train_config"]["arch"] == arch
            assert checkpoint["train_config"]["seed"] == seed
            assert [h["step"] for h in checkpoint["history"]] == [1, 2]


def test_the_arms_share_the_recipe_except_arch_and_seed(ablation, finished):
    runs = finished["tmp"] / "runs"
    configs = [
        safe_load(runs / f"seed-{s}" / a / "last.pt")["train_config"] for a in ARCHS for s in SEEDS
    ]
    for config in configs:
        differing = {k for k in config if config[k] != configs[0][k]}
        assert differing <= {"arch", "out", "seed"}
    recipe = ablation.RECIPE
    for key in ("preset", "residual", "lr", "lr_power", "weight_decay", "grad_clip"):
        assert configs[0][key] == getattr(recipe, key)


def test_costs_match_the_models(finished):
    results = finished["results"]
    assert [arm["arch"] for arm in results["arms"]] == ARCHS
    assert results["frame"] == {"height": HEIGHT, "width": WIDTH}
    for arm in results["arms"]:
        model = build_model("lite", arch=arm["arch"], residual=True)
        assert arm["params"] == count_parameters(model)
        assert math.isclose(arm["gflop_per_frame"], flops_per_image(model, HEIGHT, WIDTH) / 1e9)
        assert 0 < arm["cpu_seconds_per_frame"] < math.inf
        assert 0 < arm["train_seconds_per_step"] < math.inf


def test_scores_match_an_independent_evaluation(finished):
    results = finished["results"]
    pairs = PairDataset(gopro_pairs(finished["data"], "test"))
    blurry = [psnr(b, s) for b, s in (pairs[i] for i in range(len(pairs)))]
    assert results["images"] == len(pairs) == len(results["rows"])
    assert math.isclose(results["blurry"]["psnr"], np.mean(blurry))
    for arm in results["arms"]:
        scores, structure = np.zeros((len(SEEDS), len(pairs))), np.zeros((len(SEEDS), len(pairs)))
        for j, seed in enumerate(SEEDS):
            path = finished["tmp"] / "runs" / f"seed-{seed}" / arm["arch"] / "last.pt"
            model = load_checkpoint(path).eval()
            for i in range(len(pairs)):
                blurred, sharp = pairs[i]
                with torch.no_grad():
                    out = model(torch.from_numpy(blurred).permute(2, 0, 1)[None])[0]
                scores[j, i], structure[j, i] = psnr(out, sharp), ssim(out, sharp)
            run = arm["seeds"][j]
            assert run["seed"] == seed
            assert math.isclose(run["psnr"], scores[j].mean(), rel_tol=1e-6)
            assert run["curve"]["step"][-1] == 2 and run["curve"]["val_step"] == [2]
        per_seed = scores.mean(axis=1)
        assert math.isclose(arm["psnr"], per_seed.mean(), rel_tol=1e-6)
        assert math.isclose(arm["psnr_spread"], per_seed.max() - per_seed.min(), abs_tol=1e-9)
        assert math.isclose(arm["ssim"], structure.mean(), rel_tol=1e-6)
        assert math.isclose(arm["psnr_gain"], scores.mean() - np.mean(blurry), rel_tol=1e-6)
        per_image = [row[f"psnr_{arm['arch']}"] for row in results["rows"]]
        assert np.allclose(per_image, scores.mean(axis=0))


def test_an_ordering_is_claimed_only_when_the_gap_exceeds_the_spread(finished):
    by_arch = {arm["arch"]: arm for arm in finished["results"]["arms"]}
    comparisons = finished["results"]["comparisons"]
    assert [(c["a"], c["b"]) for c in comparisons] == [
        ("multitask", "baseline"), ("multitask", "plain"), ("baseline", "plain"),
    ]  # fmt: skip
    for c in comparisons:
        a, b = by_arch[c["a"]], by_arch[c["b"]]
        assert math.isclose(c["gap"], a["psnr"] - b["psnr"])
        assert c["spread"] == max(a["psnr_spread"], b["psnr_spread"])
        if abs(c["gap"]) <= c["spread"]:
            assert c["verdict"] == "no ordering shown"
        else:
            winner, loser = (a, b) if c["gap"] > 0 else (b, a)
            assert c["verdict"] == f"{winner['arch']} > {loser['arch']}"


def test_a_time_budget_gives_faster_networks_more_steps(ablation, tmp_path):
    runs = tmp_path / "runs"
    cfg = ablation.replace(ablation.RECIPE, batch_size=2, crop=32)
    threads = torch.get_num_threads()
    try:
        plan = ablation.load_or_make_plan(runs, cfg, budget_minutes=0.01, steps=None)
    finally:
        torch.set_num_threads(threads)
    seconds, steps = plan["step_seconds"], plan["arm_steps"]
    assert set(steps) == set(ARCHS)
    for arch in ARCHS:
        assert steps[arch] == max(1, round(0.6 / seconds[arch]))
    # the plan is kept: a resumed slice reads it back instead of timing again
    assert ablation.load_or_make_plan(runs, cfg, budget_minutes=0.01, steps=None) == plan
    with pytest.raises(SystemExit, match="was made for"):
        ablation.load_or_make_plan(runs, cfg, budget_minutes=0.02, steps=None)


def test_one_seed_is_refused(ablation, capsys):
    with pytest.raises(SystemExit):
        ablation.main(["--seeds", "0", "--steps", "1"])
    assert "two different seeds" in capsys.readouterr().err


def test_the_csv_has_the_blurry_input_and_one_row_per_arm(finished):
    with open(finished["tmp"] / "results" / "ablation.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["arch"] for row in rows] == ["blurry", *ARCHS]
    by_arch = {arm["arch"]: arm for arm in finished["results"]["arms"]}
    for row in rows[1:]:
        assert math.isclose(float(row["psnr"]), by_arch[row["arch"]]["psnr"])
        assert math.isclose(float(row["psnr_spread"]), by_arch[row["arch"]]["psnr_spread"])
        assert int(row["steps"]) == by_arch[row["arch"]]["steps"] == 2
        assert int(row["params"]) == by_arch[row["arch"]]["params"]
    assert math.isclose(float(rows[0]["psnr"]), finished["results"]["blurry"]["psnr"])


def test_the_docstring_examples_of_the_script_hold(ablation):
    # data_scripts/ is not a package that pytest's --doctest-modules collects
    failures, tried = doctest.testmod(ablation, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried >= 3 and failures == 0
