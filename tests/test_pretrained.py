"""The model shipped inside the package: it loads safely, carries its record, and deblurs."""

from pathlib import Path

import numpy as np
import pytest
import torch

from svrnn_lite import load_pretrained
from svrnn_lite.data import SyntheticPairs
from svrnn_lite.evaluate import evaluate
from svrnn_lite.frames import average_window, frame_windows
from svrnn_lite.pretrained import pretrained_path
from svrnn_lite.train import TrainConfig


@pytest.fixture(scope="module")
def shipped():
    return load_pretrained("lite")


def test_the_weights_are_small_and_load_with_weights_only():
    path = pretrained_path("lite")
    assert path.stat().st_size < 5 * 2**20  # "a few MB", inside the package
    # weights_only=True refuses any pickled object but tensors and plain containers
    checkpoint = torch.load(path, weights_only=True, map_location="cpu")
    assert set(checkpoint) == {"config", "state_dict", "extra"}
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values())


def test_the_record_says_how_it_was_made(shipped):
    info = shipped.pretrained_info
    assert shipped.config.name == "lite" and not shipped.training
    cfg = TrainConfig(**info["train_config"])  # the recipe, field by field
    assert cfg.preset == "lite" and cfg.data_seed == info["data_seed"] == 0
    assert 0 < info["steps"] <= cfg.steps  # a campaign stops before the schedule's horizon
    metrics = info["test_metrics"]
    assert metrics["images"] == 24
    assert metrics["psnr_gain"] == pytest.approx(metrics["psnr"] - metrics["psnr_blurry"])


def test_it_deblurs_the_strongly_blurred_synthetic_test_images(shipped):
    # what the shipped lite model does well (chapter Training): strong blur gains, while
    # barely blurred images lose a little to over-sharpening, so the mean gain is near zero
    rows = evaluate(shipped, SyntheticPairs("test", n=12))
    blurry = np.array([r["psnr_blurry"] for r in rows])
    gains = np.array([r["psnr"] for r in rows]) - blurry
    strong = blurry < 26.0
    assert strong.sum() >= 3, blurry
    assert gains[strong].mean() > 0.2, gains


def test_a_missing_preset_names_what_is_shipped():
    with pytest.raises(FileNotFoundError, match=r"'paper' \(shipped: \['lite'\]\)"):
        load_pretrained("paper")


SHARED_FRAMES = Path(__file__).resolve().parents[2] / "shared" / "realblur" / "gopro_frames"


@pytest.mark.skipif(
    not (SHARED_FRAMES / "GOPR0477_11_00").is_dir(),
    reason="the real GoPro frames of ../shared/realblur are not next to this checkout",
)
def test_it_deblurs_real_gopro_frames_it_never_saw(shipped):
    # the held-out block of the training sequence: frames no training window touched
    folder = SHARED_FRAMES / "GOPR0477_11_00"
    files = sorted(folder.glob("*.jpg"))
    windows = frame_windows(len(files))["test"][::3]  # 4 of the 12 pairs, spread out
    rows = evaluate(shipped, [average_window(files, first, n) for first, n in windows])
    gains = np.array([r["psnr"] - r["psnr_blurry"] for r in rows])
    assert gains.mean() > 0.2 and (gains > 0).all(), gains


def test_the_shipped_file_is_read_once(monkeypatch):
    from svrnn_lite import checkpoint

    reads = []
    real = checkpoint.safe_load
    monkeypatch.setattr(checkpoint, "safe_load", lambda *a, **k: reads.append(a) or real(*a, **k))
    model = load_pretrained("lite")
    assert len(reads) == 1 and model.pretrained_info["steps"] > 0
