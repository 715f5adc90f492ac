"""Training a deblurring network: L2 loss, Adam, polynomial learning-rate decay.

The loop of Zhang et al. (2018) and of the paper: random 128x128 crops of blurry/sharp pairs,
the mean squared error between the network's output and the sharp crop, Adam; or, with
``loss="psnr"``, the mean of the crops' errors in decibels (:func:`training_loss`). Every random
choice of step ``t`` (which pairs, where to crop, which flips) comes from a generator seeded
with ``(seed, t)``, so a run that is interrupted and resumed from its last checkpoint ends with
exactly the same weights as one that ran straight through. Explained in chapter *Training*.

The same loop trains data-parallel when ``torchrun`` starts it on several processes
(:mod:`svrnn_lite.distributed`): each rank cuts its share of the same batches and rank 0 alone
writes the run's files.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import math
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, fields
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from tqdm.auto import tqdm

from svrnn_lite import distributed
from svrnn_lite.atomic import atomic_path
from svrnn_lite.checkpoint import (
    TRAINING_KEYS,
    Checkpoint,
    load_checkpoint,
    read_checkpoint,
    restore_training_state,
    save_training_state,
    training_state,
)
from svrnn_lite.data import MixedPairs, PairDataset, SyntheticPairs, check_size, random_crop_batch
from svrnn_lite.evaluate import evaluate
from svrnn_lite.images import image_size
from svrnn_lite.layout import gopro_pairs
from svrnn_lite.model_config import ModelConfig
from svrnn_lite.models import build_model
from svrnn_lite.train_config import TrainConfig, check_config, check_loss, learning_rate

CHECKPOINT = "last.pt"
# settings that may differ between a run and its resumption without changing the result
RESUMABLE_CHANGES = {"out", "threads", "progress"}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


#: The epsilon of the Charbonnier loss sqrt(d^2 + eps^2), on values in [0, 1].
CHARBONNIER_EPS = 1e-3


def training_loss(diff: torch.Tensor, kind: str = "l2") -> torch.Tensor:
    """The objective of a batch from the differences ``output - sharp``, shape (B, C, H, W).

    ``"l2"`` is the paper's: the mean of the squared errors, so a strongly blurred crop (large
    error) weighs more than a nearly sharp one. ``"psnr"`` minimises the mean over the crops of
    ``10 log10(mse)``, minus their PSNR: every crop counts alike in decibels, as in the benchmark's
    mean of per-image PSNRs, so making a nearly sharp crop worse costs as much as it would there.
    ``"charbonnier"`` is the mean of ``sqrt(d^2 + eps^2)``, a smooth L1 loss: every pixel's
    error counts in proportion to its size, not its square.

    Examples
    --------
    >>> diff = torch.stack([torch.full((1, 2, 2), 0.1), torch.full((1, 2, 2), 0.01)])
    >>> training_loss(diff, "l2").item(), training_loss(diff, "psnr").item()
    (0.00505000..., -30.0)
    >>> round(training_loss(diff, "charbonnier").item(), 4)
    0.055
    """
    check_loss(kind)
    if kind == "charbonnier":
        return torch.sqrt(diff**2 + CHARBONNIER_EPS**2).mean()
    mse = (diff**2).mean(dim=(1, 2, 3))  # one per crop
    if kind == "l2":
        return mse.mean()
    return 10 * torch.log10(mse + 1e-10).mean()


def training_pairs(cfg: TrainConfig):
    """The training set and a few validation pairs of a run."""
    if cfg.data is None:
        return (
            SyntheticPairs("train", n=100_000, seed=cfg.data_seed, size=(cfg.crop, cfg.crop)),
            SyntheticPairs("test", n=cfg.val_images, seed=cfg.data_seed),
        )
    folders = [cfg.data] if isinstance(cfg.data, str) else list(cfg.data)
    variants = ("blur", "blur_gamma") if cfg.variant == "both" else (cfg.variant,)
    sets = [
        PairDataset([pair for v in variants for pair in gopro_pairs(folder, "train", v)])
        for folder in folders
    ]
    train = sets[0] if len(sets) == 1 else MixedPairs(sets)
    first = folders[0]
    has_test = Path(first, "test").is_dir()  # without a test split, validate on training pairs
    val_pairs = gopro_pairs(first, "test" if has_test else "train", variants[0])
    stride = max(1, len(val_pairs) // cfg.val_images)  # spread over the sequences
    return train, PairDataset(val_pairs[::stride][: cfg.val_images], cache=True)


def _check_images(train_set, val_set, crop: int) -> None:
    """Refuse an unreadable image, or a training image smaller than the crop, before training.

    Opens only the image headers: a moment even for the 4206 training images of GoPro. Pairs
    synthesised on the fly have no files and are made to fit the crop.
    """
    for pairs in (train_set, val_set):
        for path in (path for pair in getattr(pairs, "pairs", []) for path in pair):
            size = image_size(path, upright=False)  # turning it changes no side's length
            if pairs is train_set:
                check_size(path, size, crop=crop)


def validate(model: torch.nn.Module, pairs) -> float:
    """Mean PSNR (GoPro convention, whole images) of ``model`` on ``pairs``.

    The scores of :func:`svrnn_lite.evaluate.evaluate`; the model is left in training mode.
    """
    rows = evaluate(model, pairs)
    model.train()
    return float(np.mean([row["psnr"] for row in rows]))


def train(
    cfg: TrainConfig,
    resume: bool = False,
    stop_after_steps: int | None = None,
    time_limit: float | None = None,
    log=print,
) -> dict:
    """Train (or resume training) a model as ``cfg`` says; checkpoints go to ``cfg.out``.

    Called on every rank of a process group (:func:`svrnn_lite.distributed.process_group`, which
    ``torchrun ... -m svrnn_lite train`` sets up), it trains data-parallel: each rank trains on
    its share of every batch of ``cfg.batch_size`` crops, the ranks' gradients are averaged at
    every step, and rank 0 alone logs, validates and writes ``cfg.out``. The weights are those a
    single process would reach, within float rounding, and a run may be resumed with any number
    of ranks.

    Parameters
    ----------
    cfg : TrainConfig
    resume : bool
        Continue from ``cfg.out/last.pt``; its configuration must match ``cfg``.
    stop_after_steps, time_limit : int, float, optional
        Stop this invocation after so many steps or seconds, saving a checkpoint, so a long run
        can be done in slices (resume it later with ``resume=True``).
    log : callable
        Receives one line of text per event (configuration, validation, checkpoint); on rank 0
        only.

    Returns
    -------
    dict
        ``{"step", "finished", "interrupted", "history", "checkpoint"}``; on ranks other than 0
        the history has no validation scores.

    Raises
    ------
    TrainingDiverged
        If the loss becomes NaN or infinite (the last checkpoint is kept).
    FileExistsError
        If ``cfg.out`` already holds a checkpoint and ``resume`` is False.
    ValueError
        If a setting is out of range or the crop is larger than a training image; checked, like
        the dataset, before anything is written to ``cfg.out``.
    """
    out = Path(cfg.out)
    ckpt_path = out / CHECKPOINT
    check_config(cfg)  # before any work, not at the first step
    rank, world = distributed.rank(), distributed.world_size()
    share = distributed.batch_share(cfg.batch_size, rank, world)  # this rank's crops of a batch
    main = rank == 0  # the rank that logs, validates and writes files
    log = log if main else _quiet
    train_set, val_set = training_pairs(cfg)  # the dataset exists and pairs up
    _check_images(train_set, val_set, cfg.crop)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = distributed.device()

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.preset, arch=cfg.arch, residual=cfg.residual).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    average = copy.deepcopy(model).eval() if cfg.ema else None  # the weights' moving average
    # rank 0 starts the run in cfg.out or resumes it from there; the other ranks take its state
    state = distributed.from_rank_zero(lambda: _start(cfg, resume, model, optimizer, average, log))
    if not main:
        _load(state, model, optimizer, average)
    step, history = state["step"], state["history"]
    net = distributed.wrap(model)  # under torchrun, its backward pass averages the gradients
    where = f"{device}" if world == 1 else f"{world} processes ({device} on rank 0)"
    log(f"training {model.config.describe()} on {where}: {json.dumps(asdict(cfg))}")

    started, steps_this_run, interrupted = time.monotonic(), 0, False
    # CPU seconds (all threads, all ranks) the run had used before this invocation: slices add up
    cpu_before, cpu_start = (history[-1].get("cpu_s", 0.0) if history else 0.0), time.process_time()
    bar = tqdm(total=cfg.steps, initial=step, desc="training", disable=not (cfg.progress and main))
    model.train()
    # under torchrun, SIGTERM (what torchrun sends every rank when it stops) also saves and stops
    stop_signals = (signal.SIGINT, signal.SIGTERM) if world > 1 else (signal.SIGINT,)
    with _stop_on_signals(stop_signals) as stop, ThreadPoolExecutor(max_workers=1) as loader:
        # the next batch is cut while this step trains (numpy and PNG decoding release the GIL)
        def batch_of(t):  # this rank's share of batch t, the same crops for any number of ranks
            rng = np.random.default_rng([cfg.seed, t])
            return random_crop_batch(
                train_set, rng, cfg.batch_size, cfg.crop, share, cfg.static_psnr
            )

        upcoming = loader.submit(batch_of, step)
        while step < cfg.steps:
            blurred, sharp = upcoming.result()
            upcoming = loader.submit(batch_of, step + 1)
            blurred, sharp = blurred.to(device), sharp.to(device)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, step)

            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp):
                output = net(blurred)
            diff = output.float() - sharp
            loss = training_loss(diff, cfg.loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # under torchrun, every rank now holds the ranks' mean gradient
            # the log keeps the L2 loss whatever the objective, so runs compare
            mse = (diff.detach() ** 2).mean()
            out_of_time = time_limit is not None and time.monotonic() - started > time_limit
            pause = stop.requested or out_of_time or steps_this_run + 1 == stop_after_steps
            # one exchange between the ranks per step: the sums of their losses (equal shares,
            # so the mean is the whole batch's), of their CPU seconds, and of their wishes to
            # stop, so that all of them stop together
            mine = [loss.item(), mse.item(), time.process_time() - cpu_start, pause, stop.requested]
            mine = torch.tensor(mine, dtype=torch.float64, device=device)
            loss_sum, mse_sum, cpu_s, pauses, stops = distributed.sum_over_ranks(mine).tolist()
            if not math.isfinite(loss_sum):
                bar.close()
                raise TrainingDiverged(
                    f"the loss became {loss_sum / world} at step {step}; stopped without saving, "
                    f"the last good checkpoint ({ckpt_path}) is kept: lower --lr and resume"
                )
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            if average is not None:
                update_average(average, model, cfg.ema, step)

            step += 1
            steps_this_run += 1
            pause, interrupted = pauses > 0, stops > 0
            record = {"step": step, "loss": mse_sum / world, "lr": learning_rate(cfg, step - 1)}
            record["cpu_s"] = cpu_before + cpu_s
            record["psnr"] = 10 * math.log10(1 / max(record["loss"], 1e-12))
            bar.update()
            bar.set_postfix(loss=f"{record['loss']:.4f}", psnr=f"{record['psnr']:.2f}")

            if main and (step % cfg.val_every == 0 or step == cfg.steps):
                record["val_psnr"] = validate(average or model, val_set)
                log(
                    f"step {step}: train loss {record['loss']:.5f}, val PSNR "
                    f"{record['val_psnr']:.2f} dB"
                )
            history.append(record)
            if main and ("val_psnr" in record or pause):
                _save(ckpt_path, cfg, model, optimizer, step, history, average)
            if pause:
                break
        upcoming.cancel()
    bar.close()
    distributed.barrier()  # every rank returns once rank 0 has written the checkpoint
    finished = step >= cfg.steps
    how = "finished" if finished else "stopped (resume with --resume)"
    log(f"{how} at step {step}; checkpoint {ckpt_path}")
    return {
        "step": step,
        "finished": finished,
        "interrupted": interrupted,
        "history": history,
        "checkpoint": ckpt_path,
    }


def _quiet(*args) -> None:
    """The log of the ranks other than 0: nothing."""


def _start(cfg, resume, model, optimizer, average, log) -> dict:
    """Start the run in ``cfg.out``, or resume it from there; return its state (as saved).

    Rank 0's part of :func:`train`: the only place besides :func:`_save` that touches
    ``cfg.out``.
    """
    out = Path(cfg.out)
    ckpt_path = out / CHECKPOINT
    if cfg.init is not None and not resume:  # a resumed run has its own weights
        load_checkpoint(cfg.init, model)  # its averaged weights, when it kept an average
        if average is not None:
            average.load_state_dict(model.state_dict())
    step, history = 0, []
    if resume:
        step, history = _restore(ckpt_path, cfg, model, optimizer, average)
        log(f"resuming {ckpt_path} at step {step} of {cfg.steps}")
    elif ckpt_path.exists():
        raise FileExistsError(
            f"{ckpt_path} exists: resume it (--resume) or choose another output folder (--out)"
        )
    else:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "config.json") as tmp:
            tmp.write_text(
                json.dumps({"train": asdict(cfg), "model": asdict(model.config)}, indent=2)
            )
    return _state(cfg, model, optimizer, step, history, average)


@torch.no_grad()
def update_average(average: torch.nn.Module, model: torch.nn.Module, decay: float, step: int):
    """Move ``average``'s weights towards ``model``'s: ``a <- d a + (1 - d) w``.

    The decay ramps up as ``min(decay, (1 + step) / (10 + step))``, so the first steps, whose
    weights are far from trained, are forgotten quickly.

    Examples
    --------
    >>> model, average = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    >>> with torch.no_grad():
    ...     _ = model.weight.fill_(1.0), average.weight.fill_(0.0)
    >>> update_average(average, model, decay=0.99, step=1000)
    >>> round(average.weight.item(), 4)
    0.01
    """
    d = min(decay, (1 + step) / (10 + step))
    for a, w in zip(average.state_dict().values(), model.state_dict().values(), strict=True):
        if a.dtype.is_floating_point:
            a.lerp_(w, 1 - d)
        else:
            a.copy_(w)


def _state(cfg, model, optimizer, step, history, average=None) -> dict:
    """Everything a checkpoint holds (:func:`svrnn_lite.checkpoint.training_state`)."""
    return training_state(
        model, optimizer, step=step, history=history, train_config=asdict(cfg), average=average
    )


def _save(path, cfg, model, optimizer, step, history, average=None) -> None:
    save_training_state(
        path,
        model,
        optimizer,
        step=step,
        history=history,
        train_config=asdict(cfg),
        average=average,
    )
    with atomic_path(path.parent / "log.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, ["step", "loss", "psnr", "lr", "val_psnr", "cpu_s"])
        writer.writeheader()
        writer.writerows(history)


def _restore(path, cfg, model, optimizer, average=None) -> tuple[int, list]:
    if not path.exists():
        raise FileNotFoundError(f"nothing to resume: no checkpoint {path}")
    checkpoint = read_checkpoint(path, required=TRAINING_KEYS)
    # a checkpoint older than a setting (amp) was trained with the setting's default
    saved = {**asdict(TrainConfig()), **checkpoint.contents["train_config"]}
    changed = sorted(
        f.name
        for f in fields(cfg)
        if f.name not in RESUMABLE_CHANGES and saved[f.name] != getattr(cfg, f.name)
    )
    if changed:
        diffs = ", ".join(f"{k}: {saved[k]!r} -> {getattr(cfg, k)!r}" for k in changed)
        raise ValueError(f"cannot resume {path}: the run was started with other settings ({diffs})")
    return restore_training_state(checkpoint, model, optimizer, average)


def _load(state, model, optimizer, average=None) -> None:
    """Put the state rank 0 sent (:func:`_state`) in place: weights, optimiser, random state."""
    received = Checkpoint(Path("<rank 0>"), ModelConfig.from_dict(state["config"]), state)
    restore_training_state(received, model, optimizer, average)


@contextlib.contextmanager
def _stop_on_signals(signals=(signal.SIGINT,)):
    """Turn Ctrl-C (and the other ``signals``) into a request to stop after the current step; a
    second one stops at once."""
    stop = SimpleNamespace(requested=False)

    def handle(signum, frame):
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, handle) for signum in signals}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
