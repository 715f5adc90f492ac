"""benchmarks/bench_scan.py --json, and the stored run that chapter 3 shows its table from."""

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import bench_scan  # noqa: E402

STORED = REPO / "book" / "chapters" / "data" / "scan.json"
ROW_KEYS = {"case", "shape", "loop_s", "numba_s", "torch_s", "bound_s", "speedup",
            "torch_over_numba", "over_bound"}  # fmt: skip
MACHINE_KEYS = {"processor", "physical_cores", "simd", "cpu_count", "threads", "torch", "python"}


def check_report(report: dict) -> None:
    assert MACHINE_KEYS <= set(report["machine"])
    assert report["numba_threads"] >= 1
    assert report["date"].startswith("20") and report["command"].startswith("benchmarks/")
    assert {"start", "end"} == set(report["load_average"])
    assert [(r["case"], r["loop_s"] is None) for r in report["rows"]] == [
        ("fwd+bwd", False),
        ("fwd", True),
        ("fwd", False),
    ]
    for r in report["rows"]:
        assert set(r) == ROW_KEYS
        assert r["numba_s"] > 0 and r["bound_s"] > 0
        assert r["over_bound"] == pytest.approx(r["numba_s"] / r["bound_s"])
        if r["loop_s"] is not None:
            assert r["speedup"] == pytest.approx(r["loop_s"] / r["numba_s"])
    assert [f["pass"] for f in report["fused"]] == ["fwd", "bwd"]
    assert len(report["targets"]) == 3
    assert report["provisional"] is (report["repeats"] < bench_scan.DEFAULT_REPEATS)


def test_json_stores_the_tables_it_prints(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_scan, "TRAIN_SHAPE", (2, 2, 8, 8))  # small: seconds, not a minute
    monkeypatch.setattr(bench_scan, "BIG_SHAPE", (1, 2, 12, 16))
    out = tmp_path / "sub" / "scan.json"  # the folder is made
    argv = ["--repeats", "1", "--json", str(out)]
    returned = bench_scan.main(argv)
    printed = capsys.readouterr().out
    assert "fwd+bwd (2, 2, 8, 8)" in printed and "fwd (1, 2, 12, 16)" in printed
    assert f"results written to {out}" in printed
    report = json.loads(out.read_text())
    assert report == json.loads(json.dumps(returned))
    check_report(report)
    assert report["command"] == "benchmarks/bench_scan.py " + " ".join(argv)
    assert report["repeats"] == 1 and report["provisional"] is True
    assert [r["shape"] for r in report["rows"]] == [[2, 2, 8, 8], [2, 2, 8, 8], [1, 2, 12, 16]]


def test_quick_is_three_calls_and_provisional():
    assert bench_scan.QUICK_REPEATS == 3
    assert bench_scan.provisional(3) and bench_scan.provisional(9)
    assert not bench_scan.provisional(10) and not bench_scan.provisional(20)


def test_the_stored_run_is_at_the_books_shapes():
    report = json.loads(STORED.read_text(encoding="utf-8"))
    check_report(report)
    assert [r["shape"] for r in report["rows"]] == [
        list(bench_scan.TRAIN_SHAPE),
        list(bench_scan.TRAIN_SHAPE),
        list(bench_scan.BIG_SHAPE),
    ]


def test_chapter_3_shows_the_stored_run_and_says_how_to_make_it():
    chapter = json.loads((REPO / "book/chapters/03_spatial_rnn.ipynb").read_text("utf-8"))
    text = "".join("".join(c["source"]) for c in chapter["cells"])
    assert ".venv/bin/python benchmarks/bench_scan.py --json book/chapters/data/scan.json" in text
    assert 'Path("data/scan.json")' in text
