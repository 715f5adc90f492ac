"""Saving and loading checkpoints without ever losing one.

A checkpoint is written to a temporary file next to its destination and renamed over it only
once it is complete, so an interrupted or failed save (Ctrl-C, a full disk) leaves the previous
checkpoint untouched. Loading uses ``torch.load(weights_only=True)``, which refuses to run code
stored in a file, and turns every way a file can be wrong into one clear message.
Explained in chapter *Training*.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import torch

from svrnn_lite.atomic import atomic_path


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message names the file and the problem."""


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically: a temporary file, fsync, then a rename.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "state.pt")
    >>> atomic_save({"step": 3}, path)
    >>> safe_load(path)["step"]
    3
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
    except OSError as error:
        raise type(error)(
            f"could not write checkpoint {path} ({error.strerror or error}); "
            "the previous checkpoint, if any, is unchanged"
        ) from error


def safe_load(path: str | os.PathLike, required: tuple[str, ...] = ()) -> dict:
    """Load a checkpoint dict on the CPU with ``weights_only=True``; raise on any problem.

    Parameters
    ----------
    path : path
        The checkpoint file.
    required : tuple of str
        Keys the dict must have.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is truncated, not a checkpoint, lacks a required key or holds NaN/inf weights.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"no such checkpoint file: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, pickle of arbitrary objects, random bytes, ...
        raise CheckpointError(
            f"{path} is not a readable checkpoint: {_why(path, error)}"
        ) from error
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} is not a checkpoint: it holds a {type(checkpoint).__name__}")
    missing = [key for key in required if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} is not an svrnn_lite checkpoint: no {', '.join(missing)}")
    for name, tensor in _tensors(checkpoint):
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path} holds NaN or infinite values in {name}")
    return checkpoint


def _why(path: Path, error: Exception) -> str:
    """Why ``torch.load`` failed, in a few words (torch's own messages run to paragraphs)."""
    if not zipfile.is_zipfile(path):  # every torch.save since PyTorch 1.6 is a zip archive
        return "truncated, or not a file written by torch.save"
    if "weights only" in str(error).lower():
        return "it holds Python objects besides tensors, which are refused (they could run code)"
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"damaged ({first[:120]})"


def _tensors(obj: Any, prefix: str = ""):
    if isinstance(obj, torch.Tensor):
        yield prefix or "<tensor>", obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            yield from _tensors(value, f"{prefix}[{i}]")
