"""The ``svrnn-lite`` command line: the console script is installed and answers --help/--version."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

import svrnn_lite
from svrnn_lite.cli import main


def test_version_flag_prints_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"svrnn-lite {svrnn_lite.__version__}"


def test_no_command_prints_help_and_succeeds(capsys):
    assert main([]) == 0
    assert "usage: svrnn-lite" in capsys.readouterr().out


def test_unknown_command_fails_with_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = shutil.which("svrnn-lite") or shutil.which("svrnn-lite", path=sys.prefix + "/bin")
    assert exe is not None, "the svrnn-lite console script is not on PATH: reinstall the package"
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "Example:" in result.stdout


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "svrnn_lite", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert svrnn_lite.__version__ in result.stdout


# --- end to end on a tiny dataset ---------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A tiny synthetic dataset and a two-step training run made through the command line."""
    root = tmp_path_factory.mktemp("cli")
    data, run = root / "data", root / "run"
    size = ["--n-train", "4", "--n-test", "2", "--train-size", "48", "48"]
    assert main(["synth", str(data), *size, "--test-size", "40", "56", "--quiet"]) == 0
    assert (
        main(["train", "--data", str(data), "--steps", "2", "--batch-size", "2", "--crop", "32",
              "--val-every", "2", "--val-images", "1", "--out", str(run), "--no-progress"])
        == 0
    )  # fmt: skip
    return {"root": root, "data": data, "checkpoint": run / "last.pt"}


def one_error_line(capsys, *needles):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def test_eval_writes_results_and_names_the_convention(workspace, capsys):
    out = workspace["root"] / "eval"
    code = main(["eval", "--data", str(workspace["data"]), "--checkpoint",
                 str(workspace["checkpoint"]), "--out", str(out), "--no-timing"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "GoPro convention" in printed
    assert {p.name for p in out.iterdir()} == {"results.csv", "results.json", "grid.png"}
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 2


def test_deblur_writes_outputs_and_keeps_going_after_a_bad_file(workspace, capsys):
    from PIL import Image

    images = workspace["root"] / "my photos"
    images.mkdir()
    Image.fromarray(np.zeros((37, 53, 4), np.uint8), "RGBA").save(images / "rgba.png")
    Image.fromarray(np.zeros((30, 20), np.uint8)).save(images / "grey ü.jpg")
    (images / "broken.png").write_bytes(b"\x89PNG not really")
    out = workspace["root"] / "deblurred"
    code = main(["deblur", *map(str, sorted(images.iterdir())), "-o", str(out),
                 "--checkpoint", str(workspace["checkpoint"]), "--tile", "32",
                 "--overlap", "8"])  # fmt: skip
    assert code == 1
    one_error_line(capsys, "broken.png", "not an image")
    assert sorted(p.name for p in out.iterdir()) == ["grey ü_deblurred.jpg", "rgba_deblurred.png"]
    assert Image.open(out / "rgba_deblurred.png").mode == "RGBA"


def test_deblur_refuses_to_overwrite(workspace, capsys):
    from PIL import Image

    src = workspace["root"] / "one.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(src)
    args = ["deblur", str(src), "-o", str(workspace["root"] / "once"), "--checkpoint",
            str(workspace["checkpoint"])]  # fmt: skip
    assert main(args) == 0
    assert main(args) == 1
    one_error_line(capsys, "exists", "--overwrite")


def test_bench_prints_seconds_per_frame(capsys):
    assert main(["bench", "--height", "32", "--width", "48", "--repeats", "1"]) == 0
    assert "s per 48x32 frame" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("make_args", "needles"),
    [
        (lambda w: ["eval", "--data", str(w["root"] / "nowhere"), "--checkpoint",
                    str(w["checkpoint"])], ["no 'test' folder"]),
        (lambda w: ["train", "--data", str(w["root"] / "empty"), "--out",
                    str(w["root"] / "r")], ["no 'train' folder"]),
        (lambda w: ["deblur", str(w["root"] / "missing.png"), "-o", str(w["root"] / "o"),
                    "--checkpoint", str(w["checkpoint"])], ["missing.png"]),
        (lambda w: ["eval", "--data", str(w["data"]), "--checkpoint",
                    str(w["root"] / "data" / "synth.json")], ["synth.json", "checkpoint"]),
        (lambda w: ["synth", str(w["data"]), "--n-train", "5"], ["other settings"]),
        (lambda w: ["deblur", str(w["root"] / "one.png"), "-o", str(w["root"] / "o"),
                    "--tile", "100", "--overlap", "64"], ["--overlap", "half of --tile"]),
        (lambda w: ["eval", "--data", str(w["data"]), "--tile", "8"], ["--tile", "16"]),
        (lambda w: ["eval", "--data", str(w["data"]), "--limit", "-1"], ["--limit"]),
        (lambda w: ["deblur", str(w["root"] / "one.png"), "-o", str(w["root"] / "one.png")],
         ["--out", "is a file"]),
        (lambda w: ["deblur", str(w["root"] / "empty"), "-o", str(w["root"] / "o")],
         ["empty", "is a folder"]),
        (lambda w: ["bench", "--repeats", "0"], ["--repeats"]),
    ],
    ids=["eval-missing-data", "train-empty-data", "deblur-missing-image",
         "eval-not-a-checkpoint", "synth-mismatched-folder", "deblur-overlap-too-large",
         "eval-tile-too-small", "eval-negative-limit", "deblur-out-is-a-file",
         "deblur-a-folder", "bench-no-repeats"],
)  # fmt: skip
def test_bad_input_exits_non_zero_with_one_line(workspace, capsys, make_args, needles):
    from PIL import Image

    (workspace["root"] / "empty").mkdir(exist_ok=True)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(workspace["root"] / "one.png")
    assert main(make_args(workspace)) != 0
    one_error_line(capsys, *needles)
    assert not (workspace["root"] / "o").exists(), "no output folder when nothing was written"


def test_inputs_with_the_same_name_never_overwrite_each_other(workspace, capsys):
    from PIL import Image

    for folder, value in (("day1", 0), ("day2", 255)):
        (workspace["root"] / folder).mkdir()
        image = np.full((16, 16, 3), value, np.uint8)
        Image.fromarray(image).save(workspace["root"] / folder / "a.png")
    out = workspace["root"] / "same-name"
    code = main(["deblur", str(workspace["root"] / "day1" / "a.png"),
                 str(workspace["root"] / "day2" / "a.png"), "-o", str(out), "--overwrite",
                 "--checkpoint", str(workspace["checkpoint"])])  # fmt: skip
    assert code == 1
    one_error_line(capsys, "day2", "already written from", "day1")
    assert [p.name for p in out.iterdir()] == ["a_deblurred.png"]
    assert np.asarray(Image.open(out / "a_deblurred.png")).mean() < 128  # day1's, not day2's


def test_a_small_tile_gets_a_fitting_overlap(workspace, capsys):
    from PIL import Image

    src = workspace["root"] / "wide.png"
    Image.fromarray(np.zeros((40, 90, 3), np.uint8)).save(src)
    out = workspace["root"] / "small-tiles"
    args = ["deblur", str(src), "-o", str(out), "--tile", "32", "--checkpoint"]
    assert main([*args, str(workspace["checkpoint"])]) == 0
    assert (out / "wide_deblurred.png").exists()


def test_a_checkpoint_of_another_preset_is_refused_by_name(workspace, tmp_path):
    from svrnn_lite.checkpoint import load_checkpoint
    from svrnn_lite.models import build_model

    with pytest.raises(ValueError, match="preset 'lite'.*preset 'half'"):
        load_checkpoint(workspace["checkpoint"], build_model("half"))


def test_the_command_line_prints_no_traceback_on_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "svrnn_lite", "eval", "--data", str(tmp_path),
         "--checkpoint", str(tmp_path / "none.pt")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("svrnn-lite eval: error:")
