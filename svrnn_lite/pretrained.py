"""The model shipped inside the package, trained on two CPU cores.

Explained in chapter *Training*.

``svrnn_lite/weights/lite.pt`` holds the lite preset trained by the committed recipe
``data_scripts/train_reference.py``: a checkpoint of :func:`~svrnn_lite.checkpoint.save_checkpoint`
whose record (``extra``) holds the training settings, the number of steps, the CPU hours of the
campaign and its scores on real and synthetic test pairs. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from svrnn_lite.checkpoint import RECORD_KEYS, read_checkpoint, save_checkpoint

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: What a training checkpoint must hold to be exported.
EXPORT_KEYS = ("config", "state_dict", "train_config", "step")


def pretrained_path(name: str = "lite") -> Path:
    """Where the shipped weights of preset ``name`` live inside the installed package.

    Examples
    --------
    >>> pretrained_path("lite").name
    'lite.pt'
    """
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ValueError(f"name must be a preset name such as 'lite', got {name!r}")
    return WEIGHTS_DIR / f"{name}.pt"


def load_pretrained(name: str = "lite") -> torch.nn.Module:
    """The shipped model of preset ``name``, in eval mode, on the CPU.

    The file is read once; its training record (data seed, steps, test metrics) is in
    ``model.pretrained_info``.

    Raises
    ------
    FileNotFoundError
        If this installation ships no weights for ``name``.

    Examples
    --------
    >>> model = load_pretrained("lite")
    >>> model.config.name, model.training, model.pretrained_info["data_seed"]
    ('lite', False, 0)
    """
    path = pretrained_path(name)
    if not path.is_file():
        shipped = sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))
        raise FileNotFoundError(
            f"no shipped weights for {name!r} (shipped: {shipped or 'none'}); "
            "train them with data_scripts/train_reference.py"
        )
    checkpoint = read_checkpoint(path, required=RECORD_KEYS)
    model = checkpoint.load_model().eval()
    model.pretrained_info = checkpoint.extra
    return model


def export_pretrained(
    run_checkpoint: str | os.PathLike, out: str | os.PathLike, test_rows: list[dict], record: dict
) -> dict:
    """Write a training checkpoint's weights as shipped weights, with their record.

    The weights are the checkpoint's moving average when it kept one (what validation scored,
    :func:`~svrnn_lite.checkpoint.load_checkpoint`). The record holds the training settings, the
    steps trained, ``test_metrics`` (the summary of ``test_rows``, the bundled synthetic test
    split scored with :func:`~svrnn_lite.evaluate.evaluate`) and everything in ``record``.

    Returns
    -------
    dict
        The ``extra`` record stored with the weights.
    """
    from svrnn_lite.evaluate import summarise  # matplotlib: only when exporting

    checkpoint = read_checkpoint(run_checkpoint, required=EXPORT_KEYS)
    train_config = checkpoint.contents["train_config"]
    extra = {
        "recipe": "data_scripts/train_reference.py",
        "train_config": train_config,
        "data_seed": train_config["data_seed"],
        "steps": int(checkpoint.contents["step"]),
        "test_metrics": summarise(test_rows),
        **record,
    }
    save_checkpoint(checkpoint.load_model(), out, extra)
    return extra
