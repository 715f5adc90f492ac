"""svrnn_lite.synth, svrnn_lite.sources, svrnn_lite.layout and svrnn_lite.data: the synthetic
GoPro-layout dataset."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from svrnn_lite.blur import average_frames
from svrnn_lite.cli import main as cli_main
from svrnn_lite.data import PairDataset
from svrnn_lite.images import ImageError, load_image, save_image
from svrnn_lite.layout import gopro_pairs
from svrnn_lite.sources import (
    TEST_SOURCES,
    TRAIN_SOURCES,
    load_source,
    photo_sources,
    source_names,
)
from svrnn_lite.synth import PHOTO_MARGIN, sequence_of, synth_pair, write_dataset

REPO = Path(__file__).resolve().parents[1]


def synth(argv):
    """``svrnn-lite synth ARGV``: its exit code."""
    return cli_main(["synth", *argv])


TINY = dict(n_train=3, n_test=2, train_size=(24, 24), test_size=(24, 40), progress=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    written = write_dataset(root, seed=3, **TINY)
    return root, written


def files_of(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


# --- sources ----------------------------------------------------------------------------------


def test_train_and_test_sources_are_disjoint_and_load_offline():
    assert set(TRAIN_SOURCES).isdisjoint(TEST_SOURCES)
    # the two views of the stereo pair show the same scene: they must be on the same side
    assert {"motorcycle_left", "motorcycle_right"} <= set(TRAIN_SOURCES)
    for name in (*TRAIN_SOURCES, *TEST_SOURCES):
        image = load_source(name)
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.02


def test_unknown_source_and_split_are_refused():
    with pytest.raises(ValueError, match="unknown source image 'lena'"):
        load_source("lena")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        source_names("val")


# --- the dataset writer -----------------------------------------------------------------------


def test_layout_is_gopro_and_reads_back(dataset):
    root, written = dataset
    assert written == {"train": 3, "test": 2}
    for split, n, size in (("train", 3, (24, 24)), ("test", 2, (24, 40))):
        for variant in ("blur", "blur_gamma"):
            pairs = gopro_pairs(root, split, variant)
            assert len(pairs) == n
            for blur_path, sharp_path in pairs:
                assert blur_path.parent.name == variant and sharp_path.parent.name == "sharp"
                assert blur_path.name == sharp_path.name
                assert blur_path.parent.parent == sharp_path.parent.parent
                assert load_image(blur_path).shape == load_image(sharp_path).shape == (*size, 3)
    sequences = {p.parent.parent.name for p, _ in gopro_pairs(root, "train")}
    assert sequences == {TRAIN_SOURCES[0], "dead_leaves", TRAIN_SOURCES[1]}


def test_written_images_are_the_synthesised_pairs(dataset):
    root, _ = dataset
    for split, index, size in (("train", 1, (24, 24)), ("test", 1, (24, 40))):
        name, pair, blurred_gamma = synth_pair(split, index, seed=3, size=size)
        folder = root / split / name
        frame = f"{sequence_of(split, index)[1]:06d}.png"
        np.testing.assert_allclose(load_image(folder / "sharp" / frame), pair.sharp, atol=1e-6)
        np.testing.assert_allclose(load_image(folder / "blur" / frame), pair.blurred, atol=1e-6)
        np.testing.assert_allclose(
            load_image(folder / "blur_gamma" / frame), blurred_gamma, atol=1e-6
        )
        # "blur" averages encoded values, "blur_gamma" averages light (REFERENCE.md section 3)
        np.testing.assert_allclose(
            pair.blurred, np.round(pair.frames.mean(axis=0) * 255) / 255, atol=1e-6
        )
        np.testing.assert_allclose(
            blurred_gamma, np.round(average_frames(pair.frames, 2.2) * 255) / 255, atol=1e-6
        )


def test_same_seed_gives_identical_files_and_other_seed_differs(dataset, tmp_path):
    root, _ = dataset
    write_dataset(tmp_path / "again", seed=3, **TINY)
    write_dataset(tmp_path / "other", seed=4, **TINY)
    assert files_of(root) == files_of(tmp_path / "again")
    same = [
        (root / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files_of(root)
    ]
    assert all(same)
    blur = "test/astronaut/blur/000000.png"
    assert (root / blur).read_bytes() != (tmp_path / "other" / blur).read_bytes()


def test_pairs_do_not_depend_on_how_many_are_written(dataset, tmp_path):
    root, _ = dataset
    write_dataset(tmp_path / "fewer", seed=3, **{**TINY, "n_train": 1, "n_test": 1})
    for f in files_of(tmp_path / "fewer"):
        if f.suffix == ".png":
            assert (root / f).read_bytes() == (tmp_path / "fewer" / f).read_bytes()


def test_interrupted_run_resumes_and_other_settings_are_refused(tmp_path):
    root = tmp_path / "data"
    write_dataset(root, **TINY)
    missing = root / "train" / TRAIN_SOURCES[1] / "sharp" / "000000.png"
    original = missing.read_bytes()
    missing.unlink()
    assert write_dataset(root, **TINY) == {"train": 1, "test": 0}
    assert missing.read_bytes() == original
    with pytest.raises(ValueError, match="other settings"):
        write_dataset(root, **{**TINY, "seed": 1})
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        write_dataset(tmp_path / "stuff", **TINY)


def test_no_half_written_file_is_left_when_saving_fails(tmp_path, monkeypatch):
    path = tmp_path / "image.png"

    def broken_save(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_image(path, np.zeros((4, 4, 3)))
    assert list(tmp_path.iterdir()) == []


def test_command_line_writes_and_reports(tmp_path, capsys):
    args = [str(tmp_path / "d"), "--n-train", "2", "--n-test", "1", "--quiet"]
    assert synth([*args, "--train-size", "16", "16", "--test-size", "16", "24"]) == 0
    assert "wrote 2 train and 1 test pairs" in capsys.readouterr().out
    assert len(gopro_pairs(tmp_path / "d", "train")) == 2
    assert synth([*args, "--seed", "5"]) == 1  # same folder, other settings
    assert "error:" in capsys.readouterr().err


def test_make_dataset_script_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "data_scripts" / "make_dataset.py"), str(tmp_path / "d"),
         "--n-train", "1", "--n-test", "1", "--train-size", "16", "16", "--test-size", "16", "16"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(gopro_pairs(tmp_path / "d", "test")) == 1


def test_bad_settings_are_refused_by_option_name_and_write_nothing(tmp_path, capsys):
    root = tmp_path / "d"
    with pytest.raises(ValueError, match="--n-train must be an integer >= 0, got -1"):
        write_dataset(root, n_train=-1, progress=False)
    args = [str(root), "--n-train", "1", "--n-test", "1", "--test-size", "8", "8", "--quiet"]
    assert synth([*args, "--train-size", "0", "0"]) == 1
    assert "error: --train-size must be two positive integers (H, W), got (0, 0)" in (
        capsys.readouterr().err
    )
    assert not root.exists()
    assert synth([*args, "--train-size", "8", "8"]) == 0  # not refused as "other settings"


# --- the reader -------------------------------------------------------------------------------


def make_tree(root, blur_names, sharp_names, variant="blur"):
    for folder, names in ((variant, blur_names), ("sharp", sharp_names)):
        d = root / "train" / "SEQ" / folder
        d.mkdir(parents=True, exist_ok=True)
        for name in names:
            Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(d / name)


def test_gopro_pairs_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no 'train' folder"):
        gopro_pairs(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="variant must be"):
        gopro_pairs(tmp_path, variant="sharp")
    (tmp_path / "train").mkdir()
    with pytest.raises(ValueError, match="no image pairs"):
        gopro_pairs(tmp_path)
    make_tree(tmp_path, ["a.png", "b.png"], ["a.png", "c.png"])
    with pytest.raises(
        ValueError, match=r"do not match: 1 only in blur/ \['b.png'\], 1 only in sharp/ \['c.png'\]"
    ):
        gopro_pairs(tmp_path)
    with pytest.raises(FileNotFoundError, match="has no 'blur_gamma' folder"):
        gopro_pairs(tmp_path, variant="blur_gamma")


def test_gopro_pairs_are_sorted_and_ignore_other_files(tmp_path):
    make_tree(tmp_path, ["b.png", "a.png"], ["a.png", "b.png"])
    (tmp_path / "train" / "SEQ" / "blur" / "notes.txt").write_text("x")
    (tmp_path / "train" / ".ipynb_checkpoints").mkdir()  # a hidden folder is not a sequence
    pairs = gopro_pairs(tmp_path)
    assert [b.name for b, _ in pairs] == ["a.png", "b.png"]


# --- the realism check script -----------------------------------------------------------------


def test_realism_check_without_real_data_exits_cleanly(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "realism_check.py"), str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0
    assert "nothing to compare" in result.stdout


def test_realism_check_compares_pairs(tmp_path):
    rng = np.random.default_rng(0)
    differences = []
    for name in ("1.png", "2.png"):
        sharp = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
        for folder, image in (("sharp", sharp), ("blur", sharp // 2 + 60)):
            (tmp_path / folder).mkdir(exist_ok=True)
            Image.fromarray(image).save(tmp_path / folder / name)
        differences.append((sharp // 2 + 60 - sharp.astype(float)) / 255)
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "realism_check.py"), str(tmp_path), "--n", "2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "PSNR(blur, sharp) dB" in result.stdout and "synthetic" in result.stdout
    assert "nearly static crops (input above 30 dB): real 0%" in result.stdout
    real = next(line for line in result.stdout.splitlines() if line.startswith("brightening"))
    expected = np.mean([d.mean() / np.sqrt((d**2).mean()) for d in differences])
    assert float(real.split()[-1]) == pytest.approx(expected, abs=1e-3)  # the mean of the two


def test_averages_in_linear_light_brighten_and_averages_of_the_codes_do_not():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from realism_check import statistics, synthetic_pairs

    values = {
        variant: statistics(synthetic_pairs(6, 0, variant=variant))["brightening mean/rms(b-s)"]
        for variant in ("blur", "blur_gamma")
    }
    assert abs(np.median(values["blur"])) < 0.03
    assert (values["blur_gamma"] > values["blur"]).all()


def test_the_noise_estimate_finds_the_noise_and_ignores_smooth_content():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from realism_check import noise_sigma

    rng = np.random.default_rng(0)
    ramp = np.linspace(0.2, 0.8, 256)[:, None, None] * np.ones((256, 256, 3))
    noise = rng.normal(0, 2 / 255, (256, 256, 1))  # the same in every channel: 2 grey levels
    assert noise_sigma(ramp) < 0.01
    assert noise_sigma(ramp + noise) == pytest.approx(2.0, rel=0.05)
    assert noise_sigma(ramp + noise / 4) == pytest.approx(0.5, rel=0.05)


def test_every_other_training_pair_is_dead_leaves_and_test_pairs_never_are():
    train = [sequence_of("train", i) for i in range(60)]
    assert [name == "dead_leaves" for name, _ in train] == [i % 2 == 1 for i in range(60)]
    photos = [name for name, _ in train if name != "dead_leaves"]
    assert set(photos) == set(TRAIN_SOURCES)  # 30 photo pairs cycle through all 14 sources
    assert len(set(train)) == 60  # no two pairs share a file name
    assert all(sequence_of("test", i)[0] in TEST_SOURCES for i in range(30))


def test_dead_leaves_are_reproducible_covered_and_edged():
    from svrnn_lite.dead_leaves import dead_leaves, sample_radii

    a, b = dead_leaves((64, 80), rng=1), dead_leaves((64, 80), rng=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, dead_leaves((64, 80), rng=2))
    # opaque discs of flat colour: most neighbouring pixels are equal, some differ (edges)
    same = np.all(a[:, 1:] == a[:, :-1], axis=-1).mean()
    assert 0.3 < same < 0.99
    palette = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    c = dead_leaves((32, 32), rng=0, colors=palette, supersample=1)
    assert {tuple(p) for p in c.reshape(-1, 3)} <= {(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)}
    radii = sample_radii(np.random.default_rng(0), 100_000, 1.0, 1000.0)
    # p(r) ~ r^-3: P(r > 2) = (2^-2 - 1000^-2) / (1 - 1000^-2) = 0.25
    assert abs((radii > 2).mean() - 0.25) < 0.01
    with pytest.raises(ValueError, match="colors must have shape"):
        dead_leaves((8, 8), rng=0, colors=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="r_min < r_max"):
        sample_radii(np.random.default_rng(0), 3, 5.0, 1.0)


def test_a_temporary_file_left_by_a_crash_is_not_taken_for_a_frame(tmp_path):
    from svrnn_lite.synth import write_dataset

    write_dataset(tmp_path, n_train=2, n_test=1, train_size=(16, 16), test_size=(16, 24),
                  progress=False)  # fmt: skip
    blur = next((tmp_path / "train").glob("*/blur"))
    (blur / ".000000.png.k2j3.png").write_bytes(b"half a png")  # an older temp-file name
    assert len(gopro_pairs(tmp_path, "train")) == 2


# --- a folder of your own photographs -------------------------------------------------------------


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(12):
        sub = folder / ("city" if i % 2 else "nature")
        sub.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(sub / f"{i}.jpg")
    (folder / ".hidden").mkdir()
    Image.new("RGB", (90, 120)).save(folder / ".hidden" / "x.png")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_photo_sources_split_by_name_disjoint_and_stable(photos, tmp_path):
    train, test = photo_sources(photos, "train"), photo_sources(photos, "test")
    assert len(train) == 10 and len(test) == 2 and not set(train) & set(test)
    assert all(".hidden" not in p.parts and p.suffix == ".jpg" for p in train + test)
    copy = tmp_path / "copy"  # the same names elsewhere: the same split
    for path in train + test:
        (copy / path.relative_to(photos)).parent.mkdir(parents=True, exist_ok=True)
        (copy / path.relative_to(photos)).write_bytes(path.read_bytes())
    assert [p.relative_to(copy) for p in photo_sources(copy, "test")] == [
        p.relative_to(photos) for p in test
    ]


def test_photo_sources_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="--photos .*nowhere: no such folder"):
        photo_sources(tmp_path / "nowhere", "train")
    Image.new("RGB", (8, 8)).save(tmp_path / "one.png")
    with pytest.raises(ValueError, match="found 1 photographs, need at least 2"):
        photo_sources(tmp_path, "train")


def test_synth_from_photos_writes_gopro_layout_with_gopro_scale_motion(photos, tmp_path, capsys):
    root = tmp_path / "d"
    args = [str(root), "--photos", str(photos), "--n-train", "4", "--n-test", "2", "--quiet"]
    assert synth([*args, "--train-size", "24", "24", "--test-size", "24", "32"]) == 0
    assert "wrote 4 train and 2 test pairs" in capsys.readouterr().out
    train, test = gopro_pairs(root, "train"), gopro_pairs(root, "test")
    assert len(train) == 4 and len(test) == 2
    names = {p.parent.parent.name for p, _ in train} | {p.parent.parent.name for p, _ in test}
    assert all(n.split("_")[0] in ("city", "nature") for n in names)  # photos, no dead leaves
    test_names = {p.stem for p in photo_sources(photos, "test")}
    assert {p.parent.parent.name.split("_")[1] for p, _ in test} <= test_names
    assert '"photos"' in (root / "synth.json").read_text()
    name, pair, _ = synth_pair("train", 1, 3, (24, 24), photos=photos)
    assert pair.sharp.shape == (24, 24, 3) and name.split("_")[0] in ("city", "nature")
    assert np.abs(pair.trajectory.dx).max() <= PHOTO_MARGIN  # room for GoPro-scale shake


def test_a_larger_shake_range_makes_stronger_blur_and_is_recorded(photos, tmp_path, capsys):
    def camera_path_lengths(shake):  # the extent of the camera's path over the exposure
        paths = [synth_pair("train", i, 0, (24, 24), photos, shake)[1].trajectory for i in range(4)]
        return np.array([np.hypot(np.ptp(t.dx), np.ptp(t.dy)) for t in paths])

    assert np.all(camera_path_lengths((2.5, 3.0)) > 5 * camera_path_lengths((0.3, 0.35)))
    root = tmp_path / "strong"
    args = [str(root), "--n-train", "1", "--n-test", "1", "--quiet"]
    sizes = ["--train-size", "24", "24", "--test-size", "24", "24"]
    assert synth([*args, *sizes, "--photos", str(photos), "--shake", "1", "4"]) == 0
    assert json.loads((root / "synth.json").read_text())["photo_shake"] == [1.0, 4.0]
    capsys.readouterr()
    assert synth([str(tmp_path / "x"), *args[1:], *sizes, "--shake", "1", "4"]) == 1
    assert "--shake needs --photos" in capsys.readouterr().err
    assert (
        synth([str(tmp_path / "y"), *args[1:], "--photos", str(photos), "--shake", "4", "1"]) == 1
    )
    assert "0 < LOW <= HIGH" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_synth_refuses_a_missing_photo_folder_before_writing(tmp_path, capsys):
    root = tmp_path / "d"
    assert synth([str(root), "--photos", str(tmp_path / "nowhere"), "--quiet"]) == 1
    assert "no such folder of photographs" in capsys.readouterr().err
    assert not (root / "synth.json").exists()


def test_pair_dataset_keeps_8_bit_images_as_uint8_and_names_a_damaged_file(tmp_path):
    root = tmp_path / "d"
    write_dataset(root, seed=1, **TINY)
    pairs = gopro_pairs(root, "test")
    dataset = PairDataset(pairs)
    blurred, sharp = dataset.stored(0)
    assert blurred.dtype == sharp.dtype == np.uint8
    assert np.array_equal(dataset[0][1], load_image(pairs[0][1]))  # the floats load_image gives
    pairs[1][0].write_bytes(pairs[1][0].read_bytes()[:100])  # truncated
    with pytest.raises(ImageError, match=f"cannot read {pairs[1][0]}"):
        dataset.stored(1)
    save_image(pairs[1][0], np.zeros((8, 8, 3)))  # a blurry image smaller than its sharp one
    with pytest.raises(ValueError, match=r"blur/000000.png is 8x8 pixels but .*sharp/000000.png"):
        dataset.stored(1)
