"""Real pairs from high-speed frames (svrnn_lite.frames, data_scripts/frames_to_pairs.py) and
their scoring (benchmarks/real_blur_check.py), on small fake frames and pairs made here."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from svrnn_lite.frames import N_FRAMES, average_window, frame_windows
from svrnn_lite.images import load_image
from svrnn_lite.layout import gopro_pairs

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import real_blur_check  # noqa: E402


def fake_frames(folder: Path, n: int, size=(24, 32)) -> list[Path]:
    """``n`` frames of a square sliding right by one pixel per frame."""
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        frame = np.full((*size, 3), 40, np.uint8)
        frame[6:18, 4 + i % 12 : 14 + i % 12] = 220
        paths.append(folder / f"{i + 1:06d}.png")
        Image.fromarray(frame).save(paths[-1])
    return paths


@pytest.mark.parametrize(("n_total", "held_out"), [(40, 15), (299, 60)])
def test_training_windows_never_touch_the_held_out_block(n_total, held_out):
    plan = frame_windows(n_total, held_out=held_out, test_every=4, seed=1)
    boundary = n_total - held_out
    assert plan["train"] and plan["test"]
    assert all(first + n <= boundary for first, n in plan["train"])
    assert all(first >= boundary and first + n <= n_total for first, n in plan["test"])
    assert all(N_FRAMES[0] <= n <= N_FRAMES[1] for _, n in plan["train"] + plan["test"])
    centres = [first + n // 2 for first, n in plan["train"]]
    assert centres == sorted(set(centres))  # one pair per centre frame


def test_longer_windows_average_more_frames_and_still_spare_the_held_out_block():
    plan = frame_windows(299, held_out=60, seed=1, n_frames=(13, 25))
    lengths = [n for _, n in plan["train"]]
    assert min(lengths) >= 13 and max(lengths) <= 25 and len(set(lengths)) > 5
    assert all(first + n <= 239 for first, n in plan["train"])
    with pytest.raises(ValueError, match=r"n_frames must be \(shortest, longest\).*got \(5, 3\)"):
        frame_windows(299, n_frames=(5, 3))
    with pytest.raises(ValueError, match="no room for a 41-frame window"):
        frame_windows(299, held_out=30, n_frames=(13, 41))


def test_too_few_frames_is_a_clear_error():
    with pytest.raises(ValueError, match="20 frames with 10 held out leave no room"):
        frame_windows(20, held_out=10)


def test_a_pair_is_the_rounded_mean_of_the_frames_and_the_centre_frame(tmp_path):
    paths = fake_frames(tmp_path / "frames", 12)
    blurred, sharp = average_window(paths, 2, 9)
    frames = np.stack([load_image(p) for p in paths[2:11]])
    assert np.array_equal(sharp, load_image(paths[2 + 4]))
    assert np.abs(blurred - frames.mean(axis=0)).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(np.round(blurred * 255) / 255, blurred)  # 8-bit levels


def test_a_linear_light_pair_averages_the_decoded_frames_and_is_brighter(tmp_path):
    paths = fake_frames(tmp_path / "frames", 12)
    encoded, sharp = average_window(paths, 2, 9)
    linear, same_sharp = average_window(paths, 2, 9, gamma=2.2)
    frames = np.stack([load_image(p) for p in paths[2:11]])
    assert np.array_equal(sharp, same_sharp)
    expected = (frames**2.2).mean(axis=0) ** (1 / 2.2)
    assert np.abs(linear - expected).max() <= 0.5 / 255 + 1e-6
    moving = np.abs(encoded - frames[0]) > 0.5 / 255  # where the square swept: light adds up
    assert (linear[moving] > encoded[moving]).all()


def test_frames_to_pairs_writes_the_gopro_layout_and_resumes(tmp_path):
    fake_frames(tmp_path / "clip", 40)
    command = [sys.executable, str(REPO / "data_scripts" / "frames_to_pairs.py"),
               str(tmp_path / "clip"), str(tmp_path / "pairs"), "--held-out", "15"]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    train, test = gopro_pairs(tmp_path / "pairs", "train"), gopro_pairs(tmp_path / "pairs", "test")
    plan = frame_windows(40, held_out=15, test_every=4)
    assert len(train) == len(plan["train"]) and len(test) == len(plan["test"])
    record = json.loads((tmp_path / "pairs" / "pairs.json").read_text())
    assert len(record["pairs"]) == len(train) + len(test)
    assert record["n_frames"] == list(N_FRAMES)
    linear = gopro_pairs(tmp_path / "pairs", "train", "blur_gamma")  # GoPro's second variant
    assert [pair[1] for pair in linear] == [pair[1] for pair in train]
    first_window = plan["train"][0]
    clip = sorted((tmp_path / "clip").iterdir())
    expected = average_window(clip, *first_window, gamma=2.2)[0]
    assert np.abs(load_image(linear[0][0]) - expected).max() < 1e-6  # the same 8-bit levels
    stamp = train[0][0].stat().st_mtime_ns
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 0 and train[0][0].stat().st_mtime_ns == stamp  # kept
    linear[1][0].unlink()  # a folder made before blur_gamma existed: only that is added
    stamp = train[1][0].stat().st_mtime_ns
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 0 and linear[1][0].exists()
    assert train[1][0].stat().st_mtime_ns == stamp


def test_frames_to_pairs_refuses_a_short_clip(tmp_path):
    fake_frames(tmp_path / "clip", 20)
    result = subprocess.run(
        [sys.executable, str(REPO / "data_scripts" / "frames_to_pairs.py"),
         str(tmp_path / "clip"), str(tmp_path / "pairs")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "leave no room" in result.stderr
    assert not (tmp_path / "pairs").exists()


def row(blurry, restored):
    return {"name": "x", "psnr_blurry": blurry, "ssim_blurry": 0.5, "psnr": restored, "ssim": 0.6}


def test_the_summary_and_the_bins_by_input_psnr():
    rows = [row(22.0, 23.0), row(23.0, 22.5), row(30.0, 30.1), row(35.0, 34.95)]
    s = real_blur_check.summary(rows)
    assert s["gain"] == pytest.approx((1.0 - 0.5 + 0.1 - 0.05) / 4)
    assert s["improved"] == 0.5 and s["worst"] == pytest.approx(-0.5)
    table = real_blur_check.binned(rows)
    assert list(table) == ["under 24", "28-32", "over 32"]  # empty bins are left out
    assert table["under 24"]["images"] == 2 and table["over 32"]["gain"] == pytest.approx(-0.05)


def test_real_blur_check_scores_every_set_it_finds(tmp_path):
    shared = tmp_path / "realblur"
    rng = np.random.default_rng(0)
    for folder, size in (("gopro_train_pairs", (64, 96)), ("gopro_train_crops", (32, 32))):
        for name in ("a.png", "b.png"):
            sharp = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            for kind, image in (("sharp", sharp), ("blur", sharp // 2 + 60)):
                (shared / folder / kind).mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(shared / folder / kind / name)
    fake_frames(shared / real_blur_check.FRAMES, 80)
    out = tmp_path / "r.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "real_blur_check.py"), "--shared", str(shared),
         "--json", str(out), "--per-image"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for label in ("full pairs", "crops", "held-out block", "by input PSNR"):
        assert label in result.stdout
    record = json.loads(out.read_text())
    assert record["sets"]["full pairs"]["summary"]["images"] == 2
    assert record["sets"]["held-out block"]["summary"]["images"] == len(frame_windows(80)["test"])
    # --per-image: a line and a brightening mean(B - S) / rms(B - S) for every image
    full = record["sets"]["full pairs"]["rows"]
    assert [Path(r["name"]).name for r in full] == ["a.png", "b.png"]
    for r in full:
        pair = [np.asarray(Image.open(shared / "gopro_train_pairs" / kind / Path(r["name"]).name))
                for kind in ("blur", "sharp")]  # fmt: skip
        d = pair[0].astype(float) - pair[1]
        assert r["brightening"] == pytest.approx(d.mean() / np.sqrt((d**2).mean()), abs=1e-4)
    assert result.stdout.count("brightening") == 4 + len(frame_windows(80)["test"])


def test_real_blur_check_without_the_data_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "real_blur_check.py"), "--shared",
         str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "no real GoPro pairs" in result.stdout
