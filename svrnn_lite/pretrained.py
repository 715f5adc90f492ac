"""The model shipped inside the package, trained on two CPU cores.

``svrnn_lite/weights/lite.pt`` holds the lite preset trained by the committed recipe
``data_scripts/train_reference.py``, with its configuration, the number of steps, the CPU
hours of the campaign and its scores on real and synthetic test pairs. Nothing is ever
downloaded.
Explained in chapter *Training*.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch

from svrnn_lite.checkpoint import atomic_save, safe_load
from svrnn_lite.models import load_checkpoint

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def pretrained_path(name: str = "lite") -> Path:
    """Where the shipped weights of preset ``name`` live inside the installed package."""
    return WEIGHTS_DIR / f"{name}.pt"


def load_pretrained(name: str = "lite") -> torch.nn.Module:
    """The shipped model of preset ``name``, in eval mode, on the CPU.

    Its training record (data seed, steps, test metrics) is in ``model.pretrained_info``.

    Raises
    ------
    FileNotFoundError
        If this installation ships no weights for ``name``.

    Explained in chapter *Training*.
    """
    path = pretrained_path(name)
    if not path.is_file():
        shipped = sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))
        raise FileNotFoundError(
            f"no shipped weights for {name!r} (shipped: {shipped or 'none'}); "
            "train them with data_scripts/train_reference.py"
        )
    model = load_checkpoint(path).eval()
    model.pretrained_info = safe_load(path)["extra"]
    return model


def export_pretrained(
    run_checkpoint: str | os.PathLike, out: str | os.PathLike, test_rows: list[dict], record: dict
) -> dict:
    """Write a training checkpoint's weights as shipped weights, with their record.

    The weights are the checkpoint's moving average when it kept one (what validation scored,
    :func:`~svrnn_lite.models.load_checkpoint`). The record holds the training settings, the
    steps trained, ``test_metrics`` (the summary of ``test_rows``, the bundled synthetic test
    split scored with :func:`~svrnn_lite.evaluate.evaluate`) and everything in ``record``.

    Returns
    -------
    dict
        The ``extra`` record stored with the weights.
    """
    from svrnn_lite.evaluate import summarise  # matplotlib: only when exporting

    checkpoint = safe_load(run_checkpoint, required=("config", "state_dict", "train_config"))
    model = load_checkpoint(run_checkpoint)
    extra = {
        "recipe": "data_scripts/train_reference.py",
        "train_config": checkpoint["train_config"],
        "data_seed": checkpoint["train_config"]["data_seed"],
        "steps": int(checkpoint["step"]),
        "test_metrics": summarise(test_rows),
        **record,
    }
    weights = {k: v.float().contiguous() for k, v in model.state_dict().items()}
    atomic_save({"config": asdict(model.config), "state_dict": weights, "extra": extra}, out)
    return extra
