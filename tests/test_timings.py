"""svrnn_lite.timings: the stored timing run turned into the book's tables, sentences and plot.

A small run is made up here, with round numbers, so every ratio and verdict can be checked by
hand; the last tests read the stored run the chapters read."""

import json
import re
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from svrnn_lite import timings

REPO = Path(__file__).resolve().parents[1]
STORED = REPO / "book" / "chapters" / "data" / "peers.json"


def result(name, times, preset=None, arch=None, gflop=100.0, reference=200.0, layers=None):
    return {
        "name": name,
        "preset": preset,
        "arch": arch,
        "gflop": gflop,
        "times_s": times,
        "median_s": sorted(times)[len(times) // 2],
        "reference_gflops_per_run": [reference] * len(times),
        "layer_times_s": layers or {},
    }


@pytest.fixture
def run():
    """Paper preset 4 s; DeblurGAN-v2 MobileNet 3.2 s (ratio 0.8, as published), DeblurGAN 2 s
    (0.5 against 1.95 published), SVRNN 5 s (1.25 against 1.0), MPRNet 200 s (50 against 54.85),
    NAFNet 8 s; half 1.5 s, lite 1 s."""
    paper_layers = {"conv1": [0.5, 0.4, 0.6], "rnn1": [0.2, 0.1, 0.3], "conv21": [1.0, 0.9, 1.1]}
    return {
        "provisional": False,
        "date": "2026-12-02T12:00:00+00:00",
        "machine": {
            "processor": "Test CPU",
            "physical_cores": 2,
            "simd": "AVX2",
            "threads": 2,
            "torch": "2.13.0",
        },  # fmt: skip
        "image": {"width": 1280, "height": 720},
        "runs": 3,
        "results": [
            result("deblurgan-v2-mobilenet", [3.2, 3.2, 3.2]),
            result("deblurgan", [2.0, 2.0, 2.0]),
            result("mprnet", [200.0, 200.0, 200.0]),
            result("nafnet-w32", [8.0, 8.0, 8.0]),
            result("paper", [4.2, 4.0, 3.0], "paper", "multitask", 1500.0, 500.0, paper_layers),
            result(
                "svrnn",
                [5.0, 5.0, 5.0],
                "paper",
                "baseline",
                1500.0,
                500.0,
                {"rnn1": [1.0, 1.0, 1.0]},
            ),  # fmt: skip
            result("lite", [1.0, 1.0, 1.0], "lite", "multitask", 100.0, 400.0),
            result("half", [1.5, 1.5, 1.5], "half", "multitask", 400.0, 400.0),
            result("lite-plain", [0.5, 0.5, 0.5], "lite", "plain", 50.0, 400.0),
        ],
    }


def test_every_row_of_table_1_is_listed_with_its_published_scores():
    assert [p.method for p in timings.TABLE_1][::3] == [
        "DeblurGAN-v2 (MobileNet)", "multi-task (batch 20)", "SIUN"]  # fmt: skip
    published = {p.method: (p.psnr, p.ssim, p.cpu_s) for p in timings.TABLE_1}
    assert published["multi-task (batch 32)"] == (29.56, 0.943, 4.0)
    assert published["MPRNet"] == (32.66, 0.959, 219.4)
    assert published["Stack(4)-DMPHN"] == (31.20, 0.945, 138.1)
    assert len(published) == 9
    assert [p.psnr for p in timings.TABLE_1] == sorted(p.psnr for p in timings.TABLE_1)


def test_published_scores_agree_with_those_of_the_benchmark():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_peers

    for p in [*timings.TABLE_1, timings.NAFNET]:
        if p.measured is None:
            continue
        method = bench_peers.METHODS[p.measured]
        if p.measured == "paper" and p.method != "multi-task (batch 32)":
            continue  # batch 20 is the same network; the benchmark carries batch 32's scores
        assert (method.psnr, method.ssim, method.cpu_s) == (p.psnr, p.ssim, p.cpu_s), p.method


def test_rows_carry_published_and_measured_ratios_to_the_multi_task_network(run):
    rows = {r.method: r for r in timings.table1_rows(run)}
    assert rows["DeblurGAN"].published_ratio == pytest.approx(7.8 / 4.0)
    assert rows["DeblurGAN"].measured_ratio == pytest.approx(0.5)
    assert rows["MPRNet"].measured_s == 200.0 and rows["MPRNet"].measured_ratio == 50.0
    # both batch sizes are the one network timed as "paper"
    assert rows["multi-task (batch 20)"].measured_ratio == 1.0
    assert rows["multi-task (batch 32)"].measured_s == 4.0
    # not re-implemented: published only
    assert rows["SIUN"].measured is None and rows["SIUN"].measured_s is None
    assert rows["NAFNet-w32 (not in Table 1)"].published_s is None
    assert rows["our lite preset (width 0.25)"].measured_ratio == 0.25
    assert rows["our lite preset (width 0.25)"].psnr is None


def test_the_table_is_a_markdown_table_with_one_line_per_row(run):
    lines = timings.table1_markdown(run).splitlines()
    assert len(lines) == 2 + 9 + 1 + 2  # header, rule, Table 1, NAFNet, half and lite
    assert lines[1] == "|" + "---|" * 8
    del lines[1]
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines)
    columns = {line.count("|") for line in lines}
    assert columns == {9}
    row = next(line for line in lines if line.startswith("| DeblurGAN |"))
    assert row == "| DeblurGAN | 28.70 | 0.927 | 7.8 | 1.95 | 2.00 | 0.50 | `deblurgan` |"
    assert "| SIUN | 30.22 | 0.904 | 4.5 | 1.12 | - | - | not re-implemented |" in lines


def test_a_method_missing_from_the_run_is_said_to_be_missing(run):
    run["results"] = [r for r in run["results"] if r["name"] != "mprnet"]
    row = next(line for line in timings.table1_markdown(run).splitlines() if "MPRNet" in line)
    assert row.endswith("| - | - | not in this run |")


def test_reproduction_compares_ratios_within_the_tolerance(run):
    found = {r.method: r for r in timings.reproduction(run, tolerance=1.5)}
    # the multi-task network's own rows (ratio 1 by definition) are left out
    assert set(found) == {"DeblurGAN-v2 (MobileNet)", "DeblurGAN", "SVRNN", "MPRNet"}
    assert found["DeblurGAN-v2 (MobileNet)"].factor == pytest.approx(1.0)
    assert found["DeblurGAN-v2 (MobileNet)"].reproduces
    assert found["DeblurGAN"].factor == pytest.approx(0.5 / 1.95)
    assert not found["DeblurGAN"].reproduces
    assert found["SVRNN"].reproduces  # 1.25 <= 1.5
    assert not timings.reproduction(run, tolerance=1.2)[2].reproduces  # SVRNN, 1.25 > 1.2
    sentence = found["DeblurGAN"].sentence(1.5)
    assert sentence.startswith("DeblurGAN: 1.95x the multi-task network's time in the paper, 0.50x")
    assert "does not reproduce (the measured ratio is 3.9 times smaller)" in sentence
    assert "reproduces (within a factor of 1.5)" in found["SVRNN"].sentence(1.5)


def test_targets_say_whether_each_holds(run):
    checks = dict(timings.targets(run))
    assert checks == {
        "our lite preset (1.00 s) is faster than DeblurGAN-v2 (MobileNet) (3.20 s)": True,
        "the paper preset (4.00 s) is faster than DeblurGAN (2.00 s)": False,
        "the paper preset (4.00 s) is faster than NAFNet-w32 (8.00 s)": True,
        "the paper preset (4.00 s) is faster than MPRNet (200.00 s)": True,
    }
    run["results"] = [r for r in run["results"] if r["name"] != "nafnet-w32"]
    assert timings.targets(run)[2] == ("the paper preset is faster than NAFNet-w32", None)


def test_the_floor_puts_every_flop_at_the_best_rate_of_the_run(run):
    run["reference_gflops_sweep"] = 500.0
    assert timings.arithmetic_floor(run, "paper") == pytest.approx(3.0)  # 1500 GFLOP / 500
    assert timings.arithmetic_floor(run, "lite") == pytest.approx(0.2)
    missed = timings.floor_sentence(run, "paper", "deblurgan")
    assert "take at least 3.00 s, against 2.00 s measured for deblurgan" in missed
    assert "out of reach" in missed and "paper runs at 75% of the best rate now" in missed
    assert "faster already" in timings.floor_sentence(run, "paper", "nafnet-w32")  # 4 s < 8 s
    run["results"][3]["median_s"] = 3.5  # NAFNet now faster than the paper preset, not its floor
    assert "within reach of a faster implementation" in timings.floor_sentence(
        run, "paper", "nafnet-w32"
    )


def test_presets_table_orders_by_width_then_variant_with_rates_and_scan_shares(run):
    lines = timings.presets_markdown(run).splitlines()
    assert [line.split(" | ")[:2] for line in lines[2:]] == [
        ["| paper", "multitask"], ["| paper", "baseline"], ["| half", "multitask"],
        ["| lite", "multitask"], ["| lite", "plain"]]  # fmt: skip
    # paper: 1500 GFLOP in a median 4.0 s = 375 GFLOP/s; of the best conv: median of
    # 1500 / t / 500 over t = 4.2, 4.0, 3.0 = 0.75; scans 0.6 s of 11.2 s = 5.4%
    assert lines[2] == "| paper | multitask | 1500.0 | 4.00 | 375 | 75% | 5.4% |"
    assert lines[3].endswith("| 60% | 20.0% |")  # SVRNN: 300 / 500; 3 s of 15 s in its scans
    assert lines[-1].endswith("| 25% | - |")  # a plain UNet has no scans


def test_layer_breakdown_takes_the_fastest_run(run):
    b = timings.layer_breakdown(run, "paper")
    assert b.total_s == 3.0  # the third run
    assert b.layer_s == {"conv1": 0.6, "rnn1": 0.3, "conv21": 1.1}
    assert b.layers_s == pytest.approx(2.0) and b.rest_s == pytest.approx(1.0)


def test_machine_text_names_the_cpu_and_the_protocol(run):
    text = timings.machine_text(run)
    assert text == (
        "Test CPU (2 cores, AVX2), 2 threads, PyTorch 2.13.0, 2026-12-02: one 1280x720 image, "
        "median of 3 timed runs after a warm-up"
    )
    run["machine"] = {"processor": "Bare CPU", "threads": 1}
    run["runs"] = 1
    del run["date"]
    assert timings.machine_text(run).startswith("Bare CPU, 1 thread: one 1280x720 image")
    assert timings.machine_text(run).endswith("median of 1 timed run after a warm-up")


def test_the_plot_places_each_timed_method_at_its_measured_time(run):
    fig, ax = plt.subplots()
    timings.plot_quality_vs_time(run, ax, lite_quality=(24.6, "lite on other data"))
    points = {
        (line.get_xdata()[0], line.get_ydata()[0], line.get_marker(), line.get_markerfacecolor())
        for line in ax.lines
        if len(line.get_xdata()) == 1
    }
    filled = {(x, y) for x, y, marker, face in points if marker == "o" and face != "none"}
    hollow = {(x, y) for x, y, marker, face in points if marker == "o" and face == "none"}
    assert filled == {(3.2, 28.17), (2.0, 28.70), (5.0, 29.19), (4.0, 29.43), (4.0, 29.56),
                      (200.0, 32.66), (8.0, 32.87)}  # fmt: skip
    assert hollow == {
        (3.2, 28.17),
        (7.8, 28.70),
        (4.0, 29.19),
        (4.0, 29.43),
        (4.0, 29.56),
        (219.4, 32.66),
    }  # fmt: skip  (published times; NAFNet has none)
    assert (1.0, 24.6, "*") in {(x, y, m) for x, y, m, _ in points}
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "lite on other data" in labels
    assert ax.get_xlabel() == "CPU seconds per 1280x720 image"
    plt.close(fig)


def test_without_a_quality_the_lite_preset_is_a_line_at_its_time(run):
    fig, ax = plt.subplots()
    timings.plot_quality_vs_time(run, ax)
    vertical = {line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":"}
    assert vertical == {1.0, 1.5}  # lite and half
    plt.close(fig)


def test_load_refuses_a_file_that_is_not_a_benchmark_run(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"machine": {}, "results": []}))
    with pytest.raises(ValueError, match="no image, runs"):
        timings.load(path)


# --- the stored run the chapters read --------------------------------------------------------


def test_the_stored_run_times_every_method_and_names_its_machine():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_peers

    stored = timings.load(STORED)
    assert {r["name"] for r in stored["results"]} == set(bench_peers.METHODS)
    assert isinstance(stored["provisional"], bool)
    machine = stored["machine"]
    assert machine["processor"] and machine["threads"] >= 1 and machine["torch"]
    assert stored["command"].startswith("benchmarks/bench_peers.py")
    for r in stored["results"]:
        assert len(r["times_s"]) == stored["runs"] and r["median_s"] > 0, r["name"]
        if r["preset"]:
            assert r["layer_times_s"] and r["gflop"] > 0, r["name"]
    # everything the chapters show can be made from it
    assert timings.table1_markdown(stored).count("\n") == 13
    assert all(holds is not None for _, holds in timings.targets(stored))
    assert timings.presets_markdown(stored).count("\n") == 10


def test_the_readme_points_to_the_one_table_and_the_command_that_remakes_it():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "book/chapters/data/peers.json" in readme
    command = ".venv/bin/python benchmarks/bench_peers.py --json book/chapters/data/peers.json"
    assert command in readme
    for name in ("04_multitask_unet", "06_evaluation"):  # the chapters that quote CPU times
        path = REPO / "book" / "chapters" / f"{name}.ipynb"
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "".join("".join(cell["source"]) for cell in cells)
        assert command in text and 'timings.load("data/peers.json")' in text, name


@pytest.mark.parametrize("name", ["04_multitask_unet", "06_evaluation"])
def test_the_chapters_type_no_measured_time_and_no_cpu_name(name):
    """Measured seconds and the machine's name are printed from the stored run; the prose may
    only quote the paper's own CPU times (and name the paper's CPU)."""
    path = REPO / "book" / "chapters" / f"{name}.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    published = {p.cpu_s for p in timings.TABLE_1}
    quoted = {float(m) for m in re.findall(r"(\d+(?:\.\d+)?) ?s\b", prose)}
    assert quoted <= published, f"{name}: times typed into the text: {quoted - published}"
    machines = re.findall(r"Xeon|EPYC|Intel|AMD|AVX[-\d]*|Ryzen(?!\s+5\s+5600X)", prose)
    assert machines == [], f"{name}: a CPU named in the text, not from the stored run"
