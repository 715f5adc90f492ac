"""The trainer: it learns, it resumes bit for bit, and it never loses a checkpoint."""

import os
import signal

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from svrnn_lite import train as train_module
from svrnn_lite.checkpoint import load_checkpoint, safe_load
from svrnn_lite.cli import build_parser
from svrnn_lite.data import PairDataset, random_crop_batch
from svrnn_lite.layout import gopro_pairs
from svrnn_lite.metrics import psnr
from svrnn_lite.models import build_model
from svrnn_lite.synth import write_dataset
from svrnn_lite.train import TrainConfig, TrainingDiverged, train


def config(tiny_dataset, out, **changes):
    settings = dict(
        data=str(tiny_dataset), steps=6, batch_size=2, crop=32, val_every=3, val_images=1,
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


@pytest.mark.parametrize("loss", ["l2", "psnr", "charbonnier"])
def test_a_short_run_lowers_the_loss_on_a_fixed_batch(tiny_dataset, tmp_path, loss):
    cfg = config(tiny_dataset, tmp_path / "run", steps=25, loss=loss)
    pairs = PairDataset(gopro_pairs(tiny_dataset, "train"))
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


def test_the_psnr_loss_weighs_every_crop_alike_in_decibels(tiny_dataset, tmp_path):
    diff = torch.stack([torch.full((1, 2, 2), 0.1), torch.full((1, 2, 2), 0.01)])
    diff.requires_grad_(True)
    train_module.training_loss(diff, "psnr").backward()
    # d/d(mse) of 10 log10(mse) is inversely proportional to the error: per unit of squared
    # error the nearly sharp crop pulls 100 times harder than the blurred one (under L2, alike)
    pull = diff.grad.abs().mean(dim=(1, 2, 3)) / diff.detach().abs().mean(dim=(1, 2, 3))
    assert pull[1] / pull[0] == pytest.approx(100, rel=1e-3)
    with pytest.raises(ValueError, match="--loss must be one of l2, psnr, charbonnier, got 'l1'"):
        train(config(tiny_dataset, tmp_path / "bad", loss="l1"), log=quiet)


def test_the_charbonnier_loss_pulls_every_pixel_alike_whatever_its_error():
    diff = torch.tensor([0.5, -0.05, 0.2]).view(1, 1, 1, 3).requires_grad_(True)
    train_module.training_loss(diff, "charbonnier").backward()
    # d/dd sqrt(d^2 + eps^2) ~ sign(d) for |d| >> eps: an L1 loss, smooth at zero
    assert diff.grad.flatten().tolist() == pytest.approx([1 / 3, -1 / 3, 1 / 3], rel=1e-3)


def test_the_moving_average_is_what_validation_scores_and_load_checkpoint_returns(
    tiny_dataset, tmp_path
):
    result = train(config(tiny_dataset, tmp_path / "run", ema=0.9), log=quiet)
    saved = safe_load(result["checkpoint"])
    # the format a later version must resume from (tests/test_checkpoint.py pins every kind)
    assert list(saved) == [
        "ema_state_dict", "config", "state_dict", "optimizer", "step", "train_config",
        "torch_rng", "history",
    ]  # fmt: skip
    raw, average = saved["state_dict"], saved["ema_state_dict"]
    assert any(not torch.equal(raw[k], average[k]) for k in raw)
    loaded = load_checkpoint(result["checkpoint"]).state_dict()
    assert_same_weights(loaded, average)
    model = build_model("lite")
    model.load_state_dict(average)
    val = train_module.training_pairs(config(tiny_dataset, tmp_path / "x"))[1]
    last = result["history"][-1]["val_psnr"]
    assert train_module.validate(model, val) == pytest.approx(last)


def test_resume_with_a_moving_average_gives_bit_identical_weights(tiny_dataset, tmp_path):
    straight = train(config(tiny_dataset, tmp_path / "straight", ema=0.9), log=quiet)
    train(config(tiny_dataset, tmp_path / "paused", ema=0.9), stop_after_steps=4, log=quiet)
    resumed = train(config(tiny_dataset, tmp_path / "paused", ema=0.9), resume=True, log=quiet)
    a, b = safe_load(straight["checkpoint"]), safe_load(resumed["checkpoint"])
    assert_same_weights(a["ema_state_dict"], b["ema_state_dict"])
    assert_same_weights(a["state_dict"], b["state_dict"])


def test_a_warm_restart_starts_from_the_given_weights(tiny_dataset, tmp_path):
    first = train(config(tiny_dataset, tmp_path / "first", steps=3), log=quiet)
    init = str(first["checkpoint"])
    restart = config(tiny_dataset, tmp_path / "second", steps=1, init=init, lr=1e-9)
    second = train(restart, log=quiet)
    before, after = weights(first["checkpoint"]), weights(second["checkpoint"])
    for name in before:  # one step at a negligible learning rate moves nothing visibly
        assert torch.allclose(before[name], after[name], atol=1e-6), name
    # the run resumes from its own checkpoint, even when the weights it started from are gone
    paused = config(tiny_dataset, tmp_path / "paused", steps=3, init=str(tmp_path / "start.pt"))
    (tmp_path / "start.pt").write_bytes(first["checkpoint"].read_bytes())
    train(paused, stop_after_steps=1, log=quiet)
    (tmp_path / "start.pt").unlink()
    assert train(paused, resume=True, log=quiet)["finished"]
    other = config(tiny_dataset, tmp_path / "third", steps=1, init=str(first["checkpoint"]))
    other.preset = "half"
    with pytest.raises(ValueError, match="holds preset 'lite'"):
        train(other, log=quiet)


def test_several_data_folders_are_drawn_from_in_equal_shares(tiny_dataset, tmp_path):
    small = tmp_path / "small"
    write_dataset(small, n_train=2, n_test=1, train_size=(40, 40), test_size=(40, 40),
                  seed=5, progress=False)  # fmt: skip
    cfg = config(tiny_dataset, tmp_path / "run", data=[str(small), str(tiny_dataset)])
    train_set, val_set = train_module.training_pairs(cfg)
    sizes = [
        train_set.stored(int(i))[0].shape[0]
        for i in np.random.default_rng(0).integers(len(train_set), size=400)
    ]
    assert 0.4 < np.mean(np.array(sizes) == 40) < 0.6  # 2 pairs weigh as much as 6
    assert val_set.pairs[0][0].is_relative_to(small)  # validated on the first folder
    assert train(cfg, log=quiet)["finished"]


def test_both_variants_train_on_every_pair_twice_and_validate_on_the_encoded_average(
    tiny_dataset, tmp_path
):
    cfg = config(tiny_dataset, tmp_path / "run", variant="both")
    train_set, val_set = train_module.training_pairs(cfg)
    folders = [blurred.parent.name for blurred, _ in train_set.pairs]
    assert (
        folders.count("blur")
        == folders.count("blur_gamma")
        == len(gopro_pairs(tiny_dataset, "train"))
    )
    assert {blurred.parent.name for blurred, _ in val_set.pairs} == {"blur"}
    assert train(cfg, log=quiet)["finished"]


def test_nearly_static_windows_are_redrawn_when_asked(tmp_path):
    # the left half of the scene stands still (blurred = sharp), the right half is blurred
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
    blurred = sharp.copy()
    blurred[:, 64:] = (0.5 * sharp[:, 64:] + 0.5 * np.roll(sharp[:, 64:], 3, axis=1)).astype(
        np.uint8
    )
    paths = tmp_path / "blurred.png", tmp_path / "sharp.png"
    for path, image in zip(paths, (blurred, sharp), strict=True):
        Image.fromarray(image).save(path)
    pairs = PairDataset([paths])

    def input_psnrs(**options):
        b, s = random_crop_batch(pairs, np.random.default_rng(1), 64, 16, **options)
        return [psnr(x, y) for x, y in zip(b, s, strict=True)]

    assert np.mean(np.isinf(input_psnrs())) > 0.3  # every crop kept: many copy the input
    assert max(input_psnrs(static_psnr=30.0)) <= 30.0


def test_resume_after_a_pause_gives_bit_identical_weights(tiny_dataset, tmp_path):
    straight = train(config(tiny_dataset, tmp_path / "straight"), log=quiet)
    paused = train(config(tiny_dataset, tmp_path / "paused"), stop_after_steps=4, log=quiet)
    assert not paused["finished"] and paused["step"] == 4
    resumed = train(config(tiny_dataset, tmp_path / "paused"), resume=True, log=quiet)
    assert resumed["finished"]
    assert_same_weights(weights(straight["checkpoint"]), weights(resumed["checkpoint"]))
    assert [h["loss"] for h in straight["history"]] == [h["loss"] for h in resumed["history"]]


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_identically(
    tiny_dataset, tmp_path, monkeypatch
):
    straight = train(config(tiny_dataset, tmp_path / "straight"), log=quiet)
    calls = {"n": 0}
    real_loss = train_module.training_loss

    def loss_then_ctrl_c(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the user presses Ctrl-C during step 2
            os.kill(os.getpid(), signal.SIGINT)
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(train_module, "training_loss", loss_then_ctrl_c)
    interrupted = train(config(tiny_dataset, tmp_path / "run"), log=quiet)
    assert interrupted["interrupted"] and interrupted["step"] == 2
    assert safe_load(tmp_path / "run" / "last.pt")["step"] == 2
    monkeypatch.setattr(train_module, "training_loss", real_loss)
    resumed = train(config(tiny_dataset, tmp_path / "run"), resume=True, log=quiet)
    assert_same_weights(weights(straight["checkpoint"]), weights(resumed["checkpoint"]))


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(
    tiny_dataset, tmp_path, monkeypatch
):
    calls = {"n": 0}
    real_loss = train_module.training_loss

    def loss_then_nan(*args, **kwargs):
        calls["n"] += 1
        loss = real_loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(train_module, "training_loss", loss_then_nan)
    with pytest.raises(TrainingDiverged, match="step 4.*last good checkpoint"):
        train(config(tiny_dataset, tmp_path / "run"), log=quiet)
    kept = safe_load(tmp_path / "run" / "last.pt")
    assert kept["step"] == 3


def test_an_existing_run_is_never_overwritten(tiny_dataset, tmp_path):
    train(config(tiny_dataset, tmp_path / "run", steps=1), log=quiet)
    with pytest.raises(FileExistsError, match="--resume"):
        train(config(tiny_dataset, tmp_path / "run", steps=1), log=quiet)


def test_resume_with_other_settings_is_refused(tiny_dataset, tmp_path):
    train(config(tiny_dataset, tmp_path / "run"), stop_after_steps=1, log=quiet)
    with pytest.raises(ValueError, match="lr: 0.001 -> 0.01"):
        train(config(tiny_dataset, tmp_path / "run", lr=1e-2), resume=True, log=quiet)


def test_resume_without_a_checkpoint_is_a_clear_error(tiny_dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(config(tiny_dataset, tmp_path / "nothing"), resume=True, log=quiet)


def test_empty_dataset_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no 'train' folder"):
        train(config(tmp_path / "empty", tmp_path / "run"), log=quiet)


def test_a_broken_test_split_is_an_error_not_a_silent_fallback(tiny_dataset, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_dataset, broken)
    sequence = next(p for p in (broken / "test").iterdir())
    shutil.rmtree(sequence / "sharp")
    with pytest.raises(FileNotFoundError, match=f"sequence {sequence} has no 'sharp' folder"):
        train(config(broken, tmp_path / "run"), log=quiet)
    shutil.rmtree(broken / "test")  # no test split at all: validate on training pairs
    assert train(config(broken, tmp_path / "run2", steps=3), log=quiet)["finished"]


def test_crop_larger_than_the_images_is_a_clear_error(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="crop 64x64 is larger than image"):
        train(config(tiny_dataset, tmp_path / "run", crop=64), log=quiet)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--val-images", "0", "--val-images must be >= 1, got 0"),
        ("--val-every", "0", "--val-every must be >= 1, got 0"),
        ("--batch-size", "0", "--batch-size must be >= 1, got 0"),
        ("--crop", "0", "--crop must be >= 1, got 0"),
        ("--lr", "0", "--lr must be > 0, got 0.0"),
        ("--schedule", "step", "--schedule must be one of poly, cosine, got 'step'"),
        ("--ema", "1", "--ema must be below 1, got 1.0"),
        ("--warmup", "-1", "--warmup must be >= 0, got -1"),
        ("--static-psnr", "-5", "--static-psnr must be >= 0, got -5.0"),
        ("--variant", "gamma", "--variant must be one of blur, blur_gamma, both, got 'gamma'"),
    ],
)
def test_out_of_range_options_are_refused_by_name_before_any_work(
    tiny_dataset, tmp_path, option, value, message
):
    out = tmp_path / "run"
    argv = ["train", "--data", str(tiny_dataset), "--steps", "2", "--out", str(out), option, value]
    args = build_parser().parse_args(argv)
    with pytest.raises(ValueError, match=f"^{message}$"):
        args.func(args)
    assert not out.exists()


def test_a_refused_run_leaves_nothing_in_out_so_the_corrected_run_starts(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="crop 64x64 is larger than image .* use a smaller --crop"):
        train(config(tiny_dataset, out, crop=64), log=quiet)
    with pytest.raises(FileNotFoundError, match="no 'train' folder"):
        train(config(tmp_path / "nowhere", out), log=quiet)
    assert not out.exists()
    assert train(config(tiny_dataset, out, steps=1), log=quiet)["finished"]


def test_learning_rate_decays_to_zero_polynomially():
    cfg = TrainConfig(lr=1.0, steps=10, lr_power=2.0)
    rates = [train_module.learning_rate(cfg, t) for t in range(11)]
    assert rates[0] == 1.0 and rates[-1] == 0.0
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))


def test_warm_up_then_cosine_decay():
    cfg = TrainConfig(lr=1.0, steps=110, schedule="cosine", warmup=10)
    rates = [train_module.learning_rate(cfg, t) for t in range(111)]
    assert rates[:10] == pytest.approx([(t + 1) / 10 for t in range(10)])
    assert rates[10] == 1.0 and rates[60] == pytest.approx(0.5) and rates[110] == pytest.approx(0)
    assert all(a > b for a, b in zip(rates[10:], rates[11:], strict=False))
