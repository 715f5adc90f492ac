"""What a training run is: its settings, their ranges, and the learning-rate schedule.

Explained in chapter *Training*.

A :class:`TrainConfig` holds everything that defines a run; every checkpoint stores it, and
``svrnn-lite train`` has one option per field (``--batch-size`` for ``batch_size``, with the
field's help text). This module needs neither torch nor numpy, so the command line can list
the options without loading them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = [
    "ABOVE_ZERO",
    "AT_LEAST",
    "LOSSES",
    "SCHEDULES",
    "TrainConfig",
    "VARIANTS",
    "check_config",
    "check_loss",
    "learning_rate",
    "option_name",
]


def _option(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved with every checkpoint."""

    preset: str = _option("lite", "model preset: paper, half or lite")
    arch: str = _option("multitask", "multitask (the paper), baseline (SVRNN) or plain (no RNN)")
    residual: bool = _option(False, "add the input to the output (off in the paper)")
    data: list[str] | str | None = _option(
        None,
        "dataset folder(s) in the GoPro layout, drawn from in equal shares and validated on the "
        "first one's test split; none: synthesise",
    )
    variant: str = _option(
        "blur",
        "blurry images of the GoPro layout: blur (the frames' encoded values averaged), "
        "blur_gamma (averaged in linear light) or both (every pair twice, once in each; "
        "validated on blur)",
    )
    data_seed: int = _option(0, "seed of the pairs synthesised on the fly")
    loss: str = _option(
        "l2", "l2 (the paper: mean squared error), psnr (mean per-crop PSNR) or charbonnier"
    )
    steps: int = _option(2000, "optimisation steps")
    batch_size: int = _option(8, "crops per step (all processes together under torchrun)")
    crop: int = _option(128, "side of the random training crops, pixels")
    static_psnr: float = _option(
        0.0,
        "redraw a training crop whose blurry input is above this PSNR in dB (a nearly static "
        "window) up to 8 times; 0: keep every crop",
    )
    lr: float = _option(3e-4, "initial learning rate of Adam")
    schedule: str = _option("poly", "learning-rate decay: poly (the SVRNN code's) or cosine")
    lr_power: float = _option(2.0, "poly decay: lr_t = lr * (1 - t / steps) ** lr_power")
    warmup: int = _option(0, "steps of linear learning-rate warm-up from 0")
    ema: float = _option(0.0, "decay of an exponential moving average of the weights (0: none)")
    init: str | None = _option(
        None, "start from the weights of this checkpoint (a warm restart); none: at random"
    )
    weight_decay: float = _option(1e-6, "Adam weight decay")
    grad_clip: float = _option(1.0, "maximum L2 norm of the gradient")
    val_every: int = _option(250, "validate and save a checkpoint every this many steps")
    val_images: int = _option(4, "whole test images used for validation")
    seed: int = _option(0, "seed of the weights and of every batch")
    amp: bool = _option(
        False, "mixed precision: convolutions in bfloat16 (autocast), RNN weights and scans float32"
    )
    out: str = _option("runs/lite", "output folder: last.pt, config.json, log.csv")
    threads: int = _option(0, "torch CPU threads (0: torch's default)")
    progress: bool = _option(True, "no progress bar (shown by default)")


#: The learning-rate schedules :func:`learning_rate` knows.
SCHEDULES = ("poly", "cosine")
#: The blurry images a run can train on: GoPro's two folders, or both of them.
VARIANTS = ("blur", "blur_gamma", "both")
#: The objectives :func:`svrnn_lite.train.training_loss` knows.
LOSSES = ("l2", "psnr", "charbonnier")
#: The smallest value each numeric setting of :class:`TrainConfig` allows.
AT_LEAST = {
    "data_seed": 0, "steps": 1, "batch_size": 1, "crop": 1, "lr_power": 0, "weight_decay": 0,
    "val_every": 1, "val_images": 1, "seed": 0, "threads": 0, "warmup": 0, "ema": 0,
    "static_psnr": 0,
}  # fmt: skip
#: The numeric settings that must be above zero (with 0, the network would not learn).
ABOVE_ZERO = ("lr", "grad_clip")


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """The learning rate of step ``step`` (counting from 0).

    A linear warm-up over ``cfg.warmup`` steps, then the decay of ``cfg.schedule``:
    ``lr * (1 - t / steps) ** lr_power`` (poly) or ``lr * (1 + cos(pi t / steps)) / 2``
    (cosine), where ``t`` counts the steps after the warm-up.

    Examples
    --------
    >>> cfg = TrainConfig(lr=1e-3, steps=100, lr_power=2.0)
    >>> learning_rate(cfg, 0), learning_rate(cfg, 50)
    (0.001, 0.00025)
    >>> cfg = TrainConfig(lr=1e-3, steps=110, schedule="cosine", warmup=10)
    >>> learning_rate(cfg, 4), learning_rate(cfg, 10), learning_rate(cfg, 60)
    (0.0005, 0.001, 0.0005)
    """
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    if cfg.schedule == "cosine":
        return cfg.lr * (1 + math.cos(math.pi * progress)) / 2
    return cfg.lr * (1.0 - progress) ** cfg.lr_power


def option_name(name: str) -> str:
    """The command-line option of a setting.

    Examples
    --------
    >>> option_name("batch_size")
    '--batch-size'
    """
    return "--" + name.replace("_", "-")


def check_loss(kind: str) -> None:
    """Refuse an objective that is not one of :data:`LOSSES`.

    Examples
    --------
    >>> check_loss("l1")
    Traceback (most recent call last):
    ...
    ValueError: --loss must be one of l2, psnr, charbonnier, got 'l1'
    """
    if kind not in LOSSES:
        raise ValueError(f"--loss must be one of {', '.join(LOSSES)}, got {kind!r}")


def check_config(cfg: TrainConfig) -> None:
    """Refuse settings no run can train with, naming the command-line option at fault.

    The one place where a configuration is checked; :func:`svrnn_lite.train.train` calls it
    before any work.

    Raises
    ------
    ValueError
        If the loss, schedule or variant is unknown or a number is out of its range
        (:data:`AT_LEAST`, :data:`ABOVE_ZERO`).

    Examples
    --------
    >>> check_config(TrainConfig(val_images=0))
    Traceback (most recent call last):
    ...
    ValueError: --val-images must be >= 1, got 0
    """
    check_loss(cfg.loss)
    if cfg.schedule not in SCHEDULES:
        raise ValueError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}")
    if cfg.variant not in VARIANTS:
        raise ValueError(f"--variant must be one of {', '.join(VARIANTS)}, got {cfg.variant!r}")
    if not cfg.ema < 1:
        raise ValueError(f"--ema must be below 1, got {cfg.ema}")
    for name, lowest in AT_LEAST.items():
        value = getattr(cfg, name)
        if not value >= lowest:  # "not >=" also refuses NaN
            raise ValueError(f"{option_name(name)} must be >= {lowest}, got {value}")
    for name in ABOVE_ZERO:
        value = getattr(cfg, name)
        if not value > 0:
            raise ValueError(f"{option_name(name)} must be > 0, got {value}")
