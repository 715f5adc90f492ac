"""data_scripts/prepare_gopro.py on a tiny fake GOPRO_Large: complete, incomplete, wrong paths."""

import importlib.util
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "data_scripts" / "prepare_gopro.py"
# the fake dataset: 2 training sequences of 3 frames, 1 test sequence of 2 frames
LAYOUT = {"train": {"GOPR0001_00_00": 3, "GOPR0002_00_00": 3}, "test": {"GOPR0100_00_00": 2}}
EXPECT = ["--expect-train", "6", "--expect-test", "2"]


@pytest.fixture(scope="module")
def prepare():
    spec = importlib.util.spec_from_file_location("prepare_gopro", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.fixture
def gopro(tmp_path):
    """A complete fake dataset at ``tmp_path/GOPRO_Large``: 8x8 PNG files in the GoPro layout."""
    root = tmp_path / "GOPRO_Large"
    rng = np.random.default_rng(0)
    for split, sequences in LAYOUT.items():
        for sequence, frames in sequences.items():
            for folder in ("blur", "blur_gamma", "sharp"):
                (root / split / sequence / folder).mkdir(parents=True)
                for frame in range(frames):
                    pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                    Image.fromarray(pixels).save(
                        root / split / sequence / folder / f"{frame:06d}.png"
                    )
    return root


def run(prepare, capsys, *argv):
    """Run the script's main; return its exit code and everything it printed."""
    code = prepare.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".json", ".tmp"))


def test_complete_tree_writes_the_index(prepare, gopro, capsys):
    code, out, err = run(prepare, capsys, gopro, *EXPECT)
    assert code == 0, err
    assert err == ""
    index = json.loads((gopro / "index.json").read_text())
    assert index["format"] == "svrnn-lite GoPro index, version 1"
    assert Path(index["root"]) == gopro.absolute()
    assert index["complete"] is True
    for split, sequences in LAYOUT.items():
        entry = index["splits"][split]
        assert entry["sequences"] == sequences
        assert len(entry["pairs"]) == sum(sequences.values())
        for blurry, sharp in entry["pairs"]:
            assert not Path(blurry).is_absolute() and blurry.startswith(f"{split}/")
            assert Path(blurry).parent.name == "blur" and Path(sharp).parent.name == "sharp"
            assert Path(blurry).name == Path(sharp).name
            assert (gopro / blurry).is_file() and (gopro / sharp).is_file()
    assert leftovers(gopro) == ["index.json"]  # no temporary file left
    assert "svrnn-lite train --data" in out and str(gopro) in out and "--preset paper" in out


def test_index_option_and_variant(prepare, gopro, tmp_path, capsys):
    index_path = tmp_path / "elsewhere" / "gopro.json"
    code, out, _ = run(prepare, capsys, gopro, *EXPECT, "--index", index_path, "--variant",
                       "blur_gamma")  # fmt: skip
    assert code == 0
    assert not (gopro / "index.json").exists()
    pairs = json.loads(index_path.read_text())["splits"]["train"]["pairs"]
    assert {Path(blurry).parent.name for blurry, _ in pairs} == {"blur_gamma"}
    assert "--variant blur_gamma" in out


def test_missing_sharp_frame_is_named_and_no_index_written(prepare, gopro, capsys):
    missing = gopro / "train" / "GOPR0002_00_00" / "sharp" / "000001.png"
    missing.unlink()
    code, out, err = run(prepare, capsys, gopro, *EXPECT)
    assert code == 1
    assert "train/GOPR0002_00_00/sharp/000001.png: missing" in out
    assert "found 5 of 6 training pairs" in out
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "--allow-incomplete" in err
    assert leftovers(gopro) == []  # neither index.json nor a temporary file


def test_missing_blurry_frame_and_folder_are_named(prepare, gopro, capsys):
    (gopro / "train" / "GOPR0001_00_00" / "blur" / "000002.png").unlink()
    for path in (gopro / "test" / "GOPR0100_00_00" / "sharp").iterdir():
        path.unlink()
    (gopro / "test" / "GOPR0100_00_00" / "sharp").rmdir()
    code, out, _ = run(prepare, capsys, gopro, *EXPECT)
    assert code == 1
    assert "train/GOPR0001_00_00/blur/000002.png: missing" in out
    assert "test/GOPR0100_00_00/sharp/: missing folder" in out
    assert "found 0 of 2 test pairs" in out
    assert leftovers(gopro) == []


def test_missing_split_folder_is_reported(prepare, gopro, capsys):
    (gopro / "test").rename(gopro.parent / "test_moved_away")
    code, out, _ = run(prepare, capsys, gopro, *EXPECT)
    assert code == 1
    assert "test/: missing folder" in out


def test_empty_file_is_reported(prepare, gopro, capsys):
    empty = gopro / "train" / "GOPR0001_00_00" / "blur" / "000000.png"
    empty.write_bytes(b"")
    code, out, _ = run(prepare, capsys, gopro, *EXPECT)
    assert code == 1
    assert "train/GOPR0001_00_00/blur/000000.png: empty file" in out


def test_wrong_expected_count_fails(prepare, gopro, capsys):
    code, out, err = run(prepare, capsys, gopro, "--expect-train", "9", "--expect-test", "2")
    assert code == 1
    assert "found 6 of 9 training pairs" in out
    assert err.startswith("error: ")
    assert not (gopro / "index.json").exists()


def test_long_problem_lists_are_cut(prepare, gopro, capsys):
    sequence = gopro / "train" / "GOPR0001_00_00"
    for frame in range(3, 15):  # 12 blurry frames without a sharp one
        (sequence / "blur" / f"{frame:06d}.png").write_bytes(
            (sequence / "blur" / "000000.png").read_bytes()
        )
    code, out, _ = run(prepare, capsys, gopro, *EXPECT)
    assert code == 1
    assert out.count(": missing (its blur/ image exists)") == prepare.MAX_LISTED
    assert "... and 2 more" in out


def test_allow_incomplete_writes_what_exists(prepare, gopro, capsys):
    (gopro / "train" / "GOPR0002_00_00" / "sharp" / "000001.png").unlink()
    code, _, err = run(prepare, capsys, gopro, *EXPECT, "--allow-incomplete")
    assert code == 0
    assert err.startswith("warning: ") and err.count("\n") == 1
    index = json.loads((gopro / "index.json").read_text())
    assert index["complete"] is False
    assert index["splits"]["train"]["sequences"] == {"GOPR0001_00_00": 3, "GOPR0002_00_00": 2}
    pairs = index["splits"]["train"]["pairs"]
    assert len(pairs) == 5
    assert [
        "train/GOPR0002_00_00/blur/000001.png",
        "train/GOPR0002_00_00/sharp/000001.png",
    ] not in (pairs)
    assert all((gopro / path).is_file() for pair in pairs for path in pair)
    assert leftovers(gopro) == ["index.json"]


def test_nonexistent_path_is_one_line_error(prepare, tmp_path, capsys):
    missing = tmp_path / "no" / "GOPRO_Large"
    code, out, err = run(prepare, capsys, missing)
    assert code == 1
    assert out == ""
    assert err.startswith("error: no such folder") and str(missing) in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_file_instead_of_folder(prepare, tmp_path, capsys):
    archive = tmp_path / "GOPRO_Large.zip"
    archive.write_bytes(b"PK")
    code, _, err = run(prepare, capsys, archive)
    assert code == 1
    assert "is a file, not a folder" in err and "unpack" in err and err.count("\n") == 1


def test_parent_folder_suggests_gopro_large(prepare, gopro, capsys):
    code, _, err = run(prepare, capsys, gopro.parent, *EXPECT)
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1
    assert f"but {gopro} is" in err


def test_split_folder_suggests_its_parent(prepare, gopro, capsys):
    code, _, err = run(prepare, capsys, gopro / "train", *EXPECT)
    assert code == 1
    assert f"but {gopro} is" in err


def test_check_images_names_a_corrupt_png(prepare, gopro, capsys):
    corrupt = gopro / "test" / "GOPR0100_00_00" / "sharp" / "000001.png"
    corrupt.write_bytes(b"this is not a PNG file at all")
    code, out, _ = run(prepare, capsys, gopro, *EXPECT)
    assert code == 0, out  # without --check-images only existence and size are checked
    (gopro / "index.json").unlink()
    code, out, err = run(prepare, capsys, gopro, *EXPECT, "--check-images")
    assert code == 1
    assert "test/GOPR0100_00_00/sharp/000001.png: cannot be decoded" in out
    assert err.startswith("error: ")
    assert leftovers(gopro) == []


def test_check_images_compares_sizes(prepare, gopro, capsys):
    sharp = gopro / "train" / "GOPR0001_00_00" / "sharp" / "000000.png"
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(sharp)
    code, out, _ = run(prepare, capsys, gopro, *EXPECT, "--check-images")
    assert code == 1
    assert "train/GOPR0001_00_00/blur/000000.png is 8x8 but" in out and "is 6x4" in out


def test_printed_train_command_parses(prepare, gopro, capsys):
    from svrnn_lite.cli import build_parser

    code, out, _ = run(prepare, capsys, gopro, *EXPECT)
    assert code == 0
    command = next(line.strip() for line in out.splitlines() if "svrnn-lite train" in line)
    args = build_parser().parse_args(shlex.split(command)[1:])  # exits on an unknown option
    assert args.command == "train" and [Path(d) for d in args.data] == [gopro.absolute()]
    assert args.preset == "paper"


def test_unreadable_folder_is_one_line_error(prepare, gopro, capsys, monkeypatch):
    # the tests may run as root, who reads everything: fake the permission error
    denied = gopro / "train"

    def scan_split(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(denied))

    monkeypatch.setattr(prepare, "scan_split", scan_split)
    code, out, err = run(prepare, capsys, gopro, *EXPECT)
    assert code == 1
    assert err.startswith(f"error: cannot read {denied}: permission denied")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (gopro / "index.json").exists()
