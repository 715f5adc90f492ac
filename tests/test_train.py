"""The trainer: it learns, it resumes bit for bit, and it never loses a checkpoint."""

import argparse
import os
import signal

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from svrnn_lite import train as train_module
from svrnn_lite.checkpoint import safe_load
from svrnn_lite.data import PairDataset, gopro_pairs, random_crop_batch
from svrnn_lite.models import build_model
from svrnn_lite.synth import write_dataset
from svrnn_lite.train import TrainConfig, TrainingDiverged, train


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    write_dataset(
        root, n_train=6, n_test=1, train_size=(48, 48), test_size=(48, 64), progress=False
    )
    return root


def config(dataset, out, **changes):
    settings = dict(
        data=str(dataset), steps=6, batch_size=2, crop=32, val_every=3, val_images=1,
        lr=1e-3, out=str(out), progress=False, threads=1,
    )  # fmt: skip
    settings.update(changes)
    return TrainConfig(**settings)


def quiet(*args):
    pass


def weights(path):
    return safe_load(path)["state_dict"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs"


@pytest.mark.parametrize("loss", ["l2", "psnr"])
def test_a_short_run_lowers_the_loss_on_a_fixed_batch(dataset, tmp_path, loss):
    cfg = config(dataset, tmp_path / "run", steps=25, loss=loss)
    pairs = PairDataset(gopro_pairs(dataset, "train"))
    blurred, sharp = random_crop_batch(pairs, np.random.default_rng(123), 4, 32)
    torch.manual_seed(cfg.seed)
    before = F.mse_loss(build_model("lite")(blurred), sharp).item()
    result = train(cfg, log=quiet)
    model = build_model("lite")
    model.load_state_dict(weights(result["checkpoint"]))
    with torch.no_grad():
        after = F.mse_loss(model(blurred), sharp).item()
    assert result["finished"] and result["step"] == 25
    assert after < 0.5 * before
    assert all(h["loss"] > 0 for h in result["history"])  # the log keeps the L2 loss


def test_the_psnr_loss_weighs_every_crop_alike_in_decibels(dataset, tmp_path):
    mse = torch.tensor([1e-2, 1e-4], requires_grad=True)
    train_module.training_loss(mse, "psnr").backward()
    # d/d(mse) of 10 log10(mse) / 2 is inversely proportional to the error: the nearly sharp
    # crop pulls 100 times harder than the blurred one; under L2 both pull alike
    assert mse.grad[1] / mse.grad[0] == pytest.approx(100, rel=1e-3)
    with pytest.raises(ValueError, match="loss must be 'l2' or 'psnr', got 'l1'"):
        train(config(dataset, tmp_path / "bad", loss="l1"), log=quiet)


def test_resume_after_a_pause_gives_bit_identical_weights(dataset, tmp_path):
    straight = train(config(dataset, tmp_path / "straight"), log=quiet)
    paused = train(config(dataset, tmp_path / "paused"), stop_after_steps=4, log=quiet)
    assert not paused["finished"] and paused["step"] == 4
    resumed = train(config(dataset, tmp_path / "paused"), resume=True, log=quiet)
    assert resumed["finished"]
    assert_same_weights(weights(straight["checkpoint"]), weights(resumed["checkpoint"]))
    assert [h["loss"] for h in straight["history"]] == [h["loss"] for h in resumed["history"]]


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_identically(dataset, tmp_path, monkeypatch):
    straight = train(config(dataset, tmp_path / "straight"), log=quiet)
    calls = {"n": 0}
    real_loss = train_module.training_loss

    def loss_then_ctrl_c(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the user presses Ctrl-C during step 2
            os.kill(os.getpid(), signal.SIGINT)
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(train_module, "training_loss", loss_then_ctrl_c)
    interrupted = train(config(dataset, tmp_path / "run"), log=quiet)
    assert interrupted["interrupted"] and interrupted["step"] == 2
    assert safe_load(tmp_path / "run" / "last.pt")["step"] == 2
    monkeypatch.setattr(train_module, "training_loss", real_loss)
    resumed = train(config(dataset, tmp_path / "run"), resume=True, log=quiet)
    assert_same_weights(weights(straight["checkpoint"]), weights(resumed["checkpoint"]))


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(
    dataset, tmp_path, monkeypatch
):
    calls = {"n": 0}
    real_loss = train_module.training_loss

    def loss_then_nan(*args, **kwargs):
        calls["n"] += 1
        loss = real_loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(train_module, "training_loss", loss_then_nan)
    with pytest.raises(TrainingDiverged, match="step 4.*last good checkpoint"):
        train(config(dataset, tmp_path / "run"), log=quiet)
    kept = safe_load(tmp_path / "run" / "last.pt")
    assert kept["step"] == 3


def test_an_existing_run_is_never_overwritten(dataset, tmp_path):
    train(config(dataset, tmp_path / "run", steps=1), log=quiet)
    with pytest.raises(FileExistsError, match="--resume"):
        train(config(dataset, tmp_path / "run", steps=1), log=quiet)


def test_resume_with_other_settings_is_refused(dataset, tmp_path):
    train(config(dataset, tmp_path / "run"), stop_after_steps=1, log=quiet)
    with pytest.raises(ValueError, match="lr: 0.001 -> 0.01"):
        train(config(dataset, tmp_path / "run", lr=1e-2), resume=True, log=quiet)


def test_resume_without_a_checkpoint_is_a_clear_error(dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(config(dataset, tmp_path / "nothing"), resume=True, log=quiet)


def test_empty_dataset_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no 'train' folder"):
        train(config(tmp_path / "empty", tmp_path / "run"), log=quiet)


def test_a_broken_test_split_is_an_error_not_a_silent_fallback(dataset, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    sequence = next(p for p in (broken / "test").iterdir())
    shutil.rmtree(sequence / "sharp")
    with pytest.raises(FileNotFoundError, match=f"sequence {sequence} has no 'sharp' folder"):
        train(config(broken, tmp_path / "run"), log=quiet)
    shutil.rmtree(broken / "test")  # no test split at all: validate on training pairs
    assert train(config(broken, tmp_path / "run2", steps=3), log=quiet)["finished"]


def test_crop_larger_than_the_images_is_a_clear_error(dataset, tmp_path):
    with pytest.raises(ValueError, match="crop 64x64 is larger than image"):
        train(config(dataset, tmp_path / "run", crop=64), log=quiet)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--val-images", "0", "--val-images must be >= 1, got 0"),
        ("--val-every", "0", "--val-every must be >= 1, got 0"),
        ("--batch-size", "0", "--batch-size must be >= 1, got 0"),
        ("--crop", "0", "--crop must be >= 1, got 0"),
        ("--lr", "0", "--lr must be > 0, got 0.0"),
    ],
)
def test_out_of_range_options_are_refused_by_name_before_any_work(
    dataset, tmp_path, option, value, message
):
    out = tmp_path / "run"
    argv = ["--data", str(dataset), "--steps", "2", "--out", str(out), option, value]
    args = train_module.add_arguments(argparse.ArgumentParser()).parse_args(argv)
    with pytest.raises(ValueError, match=f"^{message}$"):
        train_module.run(args)
    assert not out.exists()


def test_a_refused_run_leaves_nothing_in_out_so_the_corrected_run_starts(dataset, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="crop 64x64 is larger than image .* use a smaller --crop"):
        train(config(dataset, out, crop=64), log=quiet)
    with pytest.raises(FileNotFoundError, match="no 'train' folder"):
        train(config(tmp_path / "nowhere", out), log=quiet)
    assert not out.exists()
    assert train(config(dataset, out, steps=1), log=quiet)["finished"]


def test_learning_rate_decays_to_zero_polynomially():
    cfg = TrainConfig(lr=1.0, steps=10, lr_power=2.0)
    rates = [train_module.learning_rate(cfg, t) for t in range(11)]
    assert rates[0] == 1.0 and rates[-1] == 0.0
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))
