"""data_scripts/recipe_probe.py: arms of equal training time from the committed weights."""

import doctest
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "data_scripts"))
import recipe_probe  # noqa: E402
import train_reference  # noqa: E402


def test_an_arm_is_the_recipe_with_its_changes_from_the_committed_weights(tmp_path):
    data = [tmp_path / "real", tmp_path / "photos"]
    cfg = recipe_probe.arm_config(tmp_path, 5, "crop192", 480, data)
    recipe = train_reference.RECIPE
    assert (cfg.crop, cfg.batch_size, cfg.steps) == (192, 4, 480)
    assert (cfg.lr, cfg.loss, cfg.schedule, cfg.ema) == (
        recipe.lr, recipe.loss, recipe.schedule, recipe.ema,
    )  # fmt: skip
    assert cfg.init == str(train_reference.WEIGHTS) and cfg.data == [str(d) for d in data]
    assert Path(cfg.out) == tmp_path / "runs" / "phase-05-crop192"
    control = recipe_probe.arm_config(tmp_path, 5, "control", 600, data)
    assert (control.crop, control.batch_size) == (recipe.crop, recipe.batch_size)


def test_the_strong_blur_arm_adds_the_strong_folders_after_the_validation_folder(tmp_path):
    data = [tmp_path / "real", tmp_path / "photos"]
    cfg = recipe_probe.arm_config(tmp_path, 8, "strong-blur", 300, data)
    strong = train_reference.strong_folders(tmp_path)
    assert cfg.data == [str(d) for d in (*data, *strong)]  # validation stays on data[0]
    control = recipe_probe.arm_config(tmp_path, 8, "crop192", 300, data)
    assert cfg == replace(control, data=cfg.data, out=cfg.out)  # only the data differ
    photos = recipe_probe.arm_config(tmp_path, 8, "strong-photos", 300, data)
    assert photos.data == [str(d) for d in (*data, strong[1])]


def test_the_photos_heavy_arm_draws_the_photo_pairs_twice_as_often_as_the_real_ones(tmp_path):
    data = [tmp_path / "data" / "gopro0477", tmp_path / "data" / "photos_gopro"]
    cfg = recipe_probe.arm_config(tmp_path, 12, "photos-heavy", 300, data)
    assert cfg.data == [str(d) for d in (*data, data[1])]  # MixedPairs: a third each


def test_the_moving_arm_is_crop192_that_redraws_nearly_static_windows(tmp_path):
    data = [tmp_path / "real", tmp_path / "photos"]
    cfg = recipe_probe.arm_config(tmp_path, 12, "moving", 300, data)
    control = recipe_probe.arm_config(tmp_path, 12, "crop192", 300, data)
    assert cfg.static_psnr == 30.0 and control.static_psnr == 0
    assert cfg == replace(control, static_psnr=cfg.static_psnr, out=cfg.out)


def test_the_linear_light_arm_is_moving_that_also_trains_on_linear_light_averages(tmp_path):
    data = [tmp_path / "real", tmp_path / "photos"]
    cfg = recipe_probe.arm_config(tmp_path, 14, "linear-light", 300, data)
    control = recipe_probe.arm_config(tmp_path, 14, "moving", 300, data)
    assert cfg.variant == "both" and control.variant == "blur"
    assert cfg == replace(control, variant=cfg.variant, out=cfg.out)
    assert recipe_probe.same_step({"moving": control, "linear-light": cfg}) == [
        ["moving", "linear-light"]
    ]  # the same step: one timing, the same number of steps


def test_the_half_lr_arm_is_linear_light_at_half_the_peak_learning_rate(tmp_path):
    data = [tmp_path / "real", tmp_path / "photos"]
    cfg = recipe_probe.arm_config(tmp_path, 16, "half-lr", 300, data)
    control = recipe_probe.arm_config(tmp_path, 16, "linear-light", 300, data)
    assert cfg.lr == control.lr / 2
    assert cfg == replace(control, lr=cfg.lr, out=cfg.out)
    assert recipe_probe.same_step({"linear-light": control, "half-lr": cfg}) == [
        ["linear-light", "half-lr"]
    ]  # the same step: one timing, the same number of steps


def test_arms_that_differ_only_in_data_share_one_timing(tmp_path, monkeypatch):
    import run_ablation

    base = recipe_probe.arm_config(tmp_path, 9, "crop192", 1, [tmp_path / "real"])
    configs = {
        "crop192": replace(base, crop=16, batch_size=1),
        "strong-photos": replace(base, crop=16, batch_size=1, data=[]),
        "l2": replace(base, crop=16, batch_size=1, loss="l2"),
    }
    timed, side_by_side = [], run_ablation.side_by_side

    def spy(step, names, rounds):
        timed.append(names)
        return side_by_side(step, names, rounds)

    monkeypatch.setattr(run_ablation, "side_by_side", spy)
    seconds = recipe_probe.seconds_per_step(configs, rounds=1)
    assert timed == [["crop192", "l2"]]  # one timing for the two arms that run the same step
    assert seconds["crop192"] == seconds["strong-photos"] > 0 and seconds["l2"] > 0


def test_a_plan_is_made_once_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(train_reference, "CURVE", tmp_path / "campaign.csv")
    (tmp_path / "runs" / "phase-04").mkdir(parents=True)  # the campaign's latest phase
    timed = []

    def fake_timing(configs):
        timed.append(sorted(configs))
        return {"control": 1.0, "crop192": 1.25}

    monkeypatch.setattr(recipe_probe, "seconds_per_step", fake_timing)
    plan = recipe_probe.load_or_make_plan(tmp_path, ["control", "crop192"], 10, [tmp_path])
    assert plan["phase"] == 5 and plan["steps"] == {"control": 600, "crop192": 480}
    stored = json.loads((tmp_path / "runs" / "probes-phase-05.json").read_text())
    assert stored == plan
    # a resumed probe reads its plan back instead of timing again
    again = recipe_probe.load_or_make_plan(tmp_path, ["control", "crop192"], 10, [tmp_path])
    assert again == plan and len(timed) == 1
    # another set of arms is another probe: the next phase number, timed afresh
    for arm in ("control", "crop192"):
        (tmp_path / "runs" / f"phase-05-{arm}").mkdir()
    monkeypatch.setattr(recipe_probe, "seconds_per_step", lambda c: dict.fromkeys(c, 0.5))
    other = recipe_probe.load_or_make_plan(tmp_path, ["control", "l2"], 10, [tmp_path])
    assert other["phase"] == 6 and other["steps"] == {"control": 1200, "l2": 1200}


def test_unknown_arms_and_empty_budgets_are_refused(capsys):
    for argv in (["bigger"], ["control", "--minutes", "0"], ["control", "control"]):
        with pytest.raises(SystemExit):
            recipe_probe.main(argv)
    assert "invalid choice" in capsys.readouterr().err


def test_the_docstring_examples_of_the_script_hold():
    failures, tried = doctest.testmod(recipe_probe)
    assert tried >= 1 and failures == 0
