"""data_scripts/yardstick.py: a generic UNet of our size, trained by the same loop for as long."""

import doctest
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from svrnn_lite.cost import count_parameters
from svrnn_lite.data import SyntheticPairs

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "data_scripts"))
import yardstick  # noqa: E402


def tiny_sets():
    return (
        SyntheticPairs("train", n=8, seed=0, size=(32, 32)),
        SyntheticPairs("test", n=2, seed=0, size=(24, 40)),
    )


def test_the_arms_have_the_same_size_and_the_generic_one_starts_as_the_identity():
    arms = yardstick.arms(seed=0)
    ours, generic = count_parameters(arms["lite"]), count_parameters(arms["generic"])
    assert abs(generic - ours) / ours < 0.03
    image = torch.rand(1, 3, 19, 30)
    torch.testing.assert_close(arms["generic"](image), image)


def test_an_arm_trains_its_steps_and_returns_the_average_and_its_curve():
    train_set, val_set = tiny_sets()
    cfg = replace(yardstick.campaign.RECIPE, crop=32, batch_size=2, steps=3, val_every=2)
    model = yardstick.GenericUNet(4)
    start = [p.detach().clone() for p in model.parameters()]
    average, curve = yardstick.train_arm(model, cfg, train_set, val_set, log=lambda s: None)
    assert [step for step, _ in curve] == [2, 3]  # every val_every steps and at the end
    assert all(psnr > 10 for _, psnr in curve)
    assert not average.training
    moved = [not torch.equal(a, p) for a, p in zip(start, average.parameters(), strict=True)]
    assert any(moved)


def test_a_run_times_both_arms_side_by_side_and_stores_their_scores(tmp_path, monkeypatch):
    monkeypatch.setattr(yardstick.campaign, "make_data", lambda work: [tmp_path, tmp_path])
    monkeypatch.setattr(yardstick, "training_pairs", lambda cfg: tiny_sets())
    monkeypatch.setattr(yardstick.campaign, "RECIPE", replace(
        yardstick.campaign.RECIPE, crop=32, batch_size=2))  # fmt: skip
    monkeypatch.setattr(yardstick, "step_seconds", lambda models, cfg, pairs: {
        "lite": 60.0, "generic": 30.0})  # fmt: skip
    scored = []

    def fake_scores(model, data):
        scored.append(model)
        return {"held-out block": {"gain": 0.5}}

    monkeypatch.setattr(yardstick.recipe_probe, "scores", fake_scores)
    out = tmp_path / "yardstick.json"
    assert yardstick.main(["--minutes", "1", "--results", str(out)]) == 0
    record = json.loads(out.read_text())
    arms = record["arms"]
    assert {name: arm["steps"] for name, arm in arms.items()} == {"lite": 1, "generic": 2}
    assert arms["generic"]["scores"] == {"held-out block": {"gain": 0.5}}
    assert len(scored) == 2 and record["minutes"] == 1


def test_an_empty_budget_is_refused(capsys):
    with pytest.raises(SystemExit):
        yardstick.main(["--minutes", "0"])
    assert "--minutes must be positive" in capsys.readouterr().err


def test_the_docstring_examples_of_the_script_hold():
    failures, tried = doctest.testmod(yardstick)
    assert tried >= 2 and failures == 0
