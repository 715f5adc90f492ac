"""Data-parallel training: torchrun with 2 CPU processes (gloo) trains as one process does.

The tests start ``torchrun --nproc-per-node 2`` in a subprocess, once (starting Python and
torch takes most of the time), and this file is also the program its two ranks run
(:func:`ranks_main`, at the bottom): they train several runs, whose results the tests compare
with runs of a single process, and end with a run of the command line in which rank 1 is
killed. The GPU-only lines of :mod:`svrnn_lite.distributed` (NCCL, one GPU per
rank) and the bfloat16 autocast of ``--amp`` take the same code paths on the CPU.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import svrnn_lite
from svrnn_lite import distributed
from svrnn_lite import train as train_module
from svrnn_lite.checkpoint import atomic_save, safe_load
from svrnn_lite.data import MixedPairs, PairDataset, SyntheticPairs, random_crop_batch
from svrnn_lite.distributed import batch_share
from svrnn_lite.layout import gopro_pairs
from svrnn_lite.metrics import psnr
from svrnn_lite.recursive import use_numba
from svrnn_lite.spatial_rnn import SpatialRNN
from svrnn_lite.train import TrainConfig, train

STEPS = 4
#: Largest difference allowed between weights trained by 1 and by 2 processes: the gradients
#: of the two halves of a batch are summed in another order (measured: below 2e-5 after 5
#: steps at lr 1e-3).
ATOL = 2e-4


def config(tiny_dataset, out, **changes):
    settings = dict(
        data=[str(tiny_dataset)], steps=STEPS, batch_size=2, crop=32, val_every=2, val_images=1,
        lr=1e-3, ema=0.9, out=str(out), progress=False, threads=1,
    )  # fmt: skip
    settings.update(changes)
    return TrainConfig(**settings)


def quiet(*args):
    pass


def torchrun(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run this file (or ``-m svrnn_lite``) on 2 ranks with torchrun; the package under test."""
    root = str(Path(svrnn_lite.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node"]
    return subprocess.run(
        [*command, "2", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def assert_close(a: dict, b: dict, atol: float = ATOL):
    assert a.keys() == b.keys()
    for name in a:
        difference = (a[name] - b[name]).abs().max().item()
        assert difference <= atol, f"{name} differs by {difference}"


@pytest.fixture(scope="module")
def runs(tiny_dataset, tmp_path_factory):
    """The runs of one process and of two (see ``ranks_main``) side by side in one folder, and
    the output of torchrun (``launch.txt``)."""
    root = tmp_path_factory.mktemp("runs")
    train(config(tiny_dataset, root / "one"), log=quiet)
    train(config(tiny_dataset, root / "one_then_two"), stop_after_steps=STEPS // 2, log=quiet)
    launch = torchrun(__file__, str(tiny_dataset), str(root))
    output = f"exit code {launch.returncode}\n{launch.stdout}{launch.stderr}"
    (root / "launch.txt").write_text(output)
    assert all((root / f"rank{r}.json").exists() for r in (0, 1)), output
    train(config(tiny_dataset, root / "two_then_one"), resume=True, log=quiet)
    return root


def checkpoint(path):
    return safe_load(Path(path) / "last.pt")


def test_two_processes_reach_the_weights_and_average_of_one(runs):
    one, two = checkpoint(runs / "one"), checkpoint(runs / "two")
    assert one["step"] == two["step"] == STEPS
    assert_close(one["state_dict"], two["state_dict"])
    assert_close(one["ema_state_dict"], two["ema_state_dict"])
    assert [h["loss"] for h in one["history"]] == pytest.approx(
        [h["loss"] for h in two["history"]], rel=1e-5
    )
    # rank 0 validated and wrote the run's files; rank 1 wrote nothing
    assert [h["step"] for h in two["history"] if "val_psnr" in h] == [2, 4]
    assert sorted(p.name for p in (runs / "two").iterdir()) == ["config.json", "last.pt", "log.csv"]


def test_a_run_resumes_with_another_number_of_processes(runs):
    one = checkpoint(runs / "one")
    for name in ("one_then_two", "two_then_one"):  # 1 rank, then 2; 2 ranks, then 1
        resumed = checkpoint(runs / name)
        assert resumed["step"] == STEPS
        assert_close(one["state_dict"], resumed["state_dict"])
        assert_close(one["ema_state_dict"], resumed["ema_state_dict"])


def test_sigterm_to_one_rank_stops_both_after_saving(runs):
    results = [json.loads((runs / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["sigterm"] for r in results] == [{"step": 2, "interrupted": True}] * 2
    assert checkpoint(runs / "sigterm")["step"] == 2


def test_a_batch_that_does_not_split_evenly_is_refused_on_every_rank(runs):
    results = [json.loads((runs / f"rank{r}.json").read_text()) for r in (0, 1)]
    message = "--batch-size 3 is the batch of all 2 processes together and must be a multiple of 2"
    assert [r["odd_batch"] for r in results] == [message] * 2
    assert not (runs / "odd_batch").exists()


def test_mixed_precision_with_two_processes_matches_one(runs, tiny_dataset, tmp_path):
    one = train(config(tiny_dataset, tmp_path / "one_amp", amp=True, steps=2), log=quiet)
    one, two = safe_load(one["checkpoint"]), checkpoint(runs / "two_amp")
    assert all(t.dtype == torch.float32 for t in two["state_dict"].values())
    assert [h["loss"] for h in one["history"]] == pytest.approx(
        [h["loss"] for h in two["history"]], rel=1e-3
    )
    # bfloat16 rounds the halves of a batch otherwise than the whole, and Adam turns a few tiny
    # gradients of opposite signs into steps of +-lr: compare the whole update (measured: 5%)
    torch.manual_seed(0)
    start = svrnn_lite.build_model("lite").state_dict()
    one_update, two_update = (
        torch.cat([(run["state_dict"][k] - start[k]).flatten() for k in start])
        for run in (one, two)
    )
    assert (one_update - two_update).norm() < 0.2 * one_update.norm()


def test_a_killed_rank_ends_the_run_with_an_error_and_keeps_the_last_checkpoint(runs, tiny_dataset):
    output = (runs / "launch.txt").read_text()
    assert not output.startswith("exit code 0")
    # torchrun names the rank that died first and stops the other one
    assert "Root Cause" in output and "rank      : 1" in output and "SIGKILL" in output, output
    out = runs / "killed"
    saved = checkpoint(out)  # the checkpoint of step 2, whole
    assert saved["step"] == 2 and not list(out.glob(".*.tmp"))
    assert train(config(tiny_dataset, out), resume=True, log=quiet)["finished"]


def test_a_checkpoint_older_than_the_amp_option_resumes(tiny_dataset, tmp_path):
    cfg = config(tiny_dataset, tmp_path / "old", steps=2)
    paused = train(cfg, stop_after_steps=1, log=quiet)
    saved = safe_load(paused["checkpoint"])
    del saved["train_config"]["amp"]  # as the trainer wrote it before --amp existed
    atomic_save(saved, paused["checkpoint"])
    assert train(cfg, resume=True, log=quiet)["finished"]
    with pytest.raises(ValueError, match="amp: False -> True"):
        train(config(tiny_dataset, tmp_path / "old", steps=2, amp=True), resume=True, log=quiet)


# --- the ranks' shares of a batch -----------------------------------------------------------


@pytest.mark.parametrize("static_psnr", [0.0, 30.0])
def test_the_ranks_shares_put_together_are_the_batch_of_one_process(tiny_dataset, static_psnr):
    pairs = MixedPairs([PairDataset(gopro_pairs(tiny_dataset, "train"), cache=False)] * 2)
    whole = random_crop_batch(pairs, np.random.default_rng([0, 7]), 6, 32, static_psnr=static_psnr)
    shares = [
        random_crop_batch(
            pairs, np.random.default_rng([0, 7]), 6, 32, batch_share(6, r, 3), static_psnr
        )
        for r in range(3)
    ]
    for i in (0, 1):  # blurred, sharp
        assert torch.equal(torch.cat([share[i] for share in shares]), whole[i])


def test_a_pairs_size_comes_from_the_header_as_the_decoded_image_has_it(tmp_path):
    image = Image.fromarray(np.zeros((30, 50, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: upright it is 50 high and 30 wide
    for name in ("blurred.jpg", "sharp.jpg"):
        image.save(tmp_path / name, exif=exif.tobytes())
    pairs = PairDataset([(tmp_path / "blurred.jpg", tmp_path / "sharp.jpg")], cache=False)
    assert pairs.image_shape(0) == pairs.stored(0)[1].shape[:2] == (50, 30)


# --- mixed precision: the recurrent scan stays in float32 -----------------------------------


@pytest.mark.parametrize("numba", [True, False])
def test_under_autocast_the_scan_is_the_float32_scan(numba):
    previous = use_numba(numba)  # False: the pure-torch scan, which GPUs run
    try:
        x, g = torch.rand(2, 3, 6, 7), torch.rand(2, 12, 6, 7) * 2 - 1
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = SpatialRNN()(x.bfloat16(), g.bfloat16())
        assert half.dtype == torch.float32
        assert torch.equal(half, SpatialRNN()(x.bfloat16().float(), g.bfloat16().float()))
    finally:
        use_numba(previous)


def test_mixed_precision_moves_the_shipped_models_output_by_about_one_grey_level_at_most():
    model = svrnn_lite.load_pretrained("lite")
    blurred, sharp = SyntheticPairs("test", n=1, size=(96, 128))[0]
    x = torch.from_numpy(blurred).permute(2, 0, 1)[None]
    with torch.no_grad():
        full = model(x)[0]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model(x)[0].float()
    change = (full - mixed).abs().flatten()
    # bfloat16 keeps 8 significant bits: a few values move by a little over one grey level
    assert torch.quantile(change, 0.999).item() < 1 / 255  # measured: 0.0030
    assert change.max().item() < 2 / 255  # measured: 0.0047
    assert psnr(mixed, sharp) == pytest.approx(psnr(full, sharp), abs=0.02)  # measured: 0.005 dB


# --- what the ranks run ---------------------------------------------------------------------


def ranks_main(argv: list[str]) -> int:
    """The program of each rank: ``DATA ROOT`` trains the runs the tests compare, then trains
    through the command line until rank 1 is killed."""
    tiny_dataset, root = Path(argv[0]), Path(argv[1])
    rank, results = int(os.environ["RANK"]), {}
    with distributed.process_group():
        train(config(tiny_dataset, root / "two"), log=quiet)
        train(config(tiny_dataset, root / "one_then_two"), resume=True, log=quiet)
        train(config(tiny_dataset, root / "two_then_one"), stop_after_steps=STEPS // 2, log=quiet)
        train(config(tiny_dataset, root / "two_amp", amp=True, steps=2), log=quiet)
        try:
            train(config(tiny_dataset, root / "odd_batch", batch_size=3), log=quiet)
        except ValueError as error:
            results["odd_batch"] = str(error)
        with _on_call(2, signal.SIGTERM if rank == 1 else None):  # as `kill -TERM` would
            result = train(config(tiny_dataset, root / "sigterm"), log=quiet)
        results["sigterm"] = {"step": result["step"], "interrupted": result["interrupted"]}
        (root / f"rank{rank}.json").write_text(json.dumps(results))
        return _train_until_rank_1_is_killed(tiny_dataset, root / "killed")


def _train_until_rank_1_is_killed(tiny_dataset: Path, out: Path) -> int:
    from svrnn_lite.cli import main

    kill = signal.SIGKILL if os.environ["RANK"] == "1" else None
    with _on_call(STEPS, kill):  # during the last step, after the checkpoint of step 2
        options = ["--data", str(tiny_dataset), "--steps", str(STEPS), "--batch-size", "2"]
        options += ["--crop", "32", "--val-every", "2", "--val-images", "1", "--lr", "1e-3"]
        return main(["train", *options, "--ema", "0.9", "--out", str(out), "--no-progress"])


class _on_call:
    """Within the block, the ``n``-th call of the training loss sends this process a signal."""

    def __init__(self, n: int, signum) -> None:
        self.n, self.signum, self.calls = n, signum, 0

    def __enter__(self):
        self.real = train_module.training_loss

        def loss(*args, **kwargs):
            self.calls += 1
            if self.calls == self.n and self.signum is not None:
                os.kill(os.getpid(), self.signum)
            return self.real(*args, **kwargs)

        train_module.training_loss = loss

    def __exit__(self, *exc):
        train_module.training_loss = self.real


if __name__ == "__main__":
    sys.exit(ranks_main(sys.argv[1:]))
