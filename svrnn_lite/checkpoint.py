"""Checkpoints: one file format for weights, model config, training state and shipped record.

Explained in chapter *Training*.

Every file ``svrnn_lite`` writes with weights in it is a dict saved by ``torch.save``, and this
module is the only one that writes or reads one. Its keys are part of the format (files written
by earlier versions must keep loading, so they never change):

=====================  ==========================================================================
key                    what it holds
=====================  ==========================================================================
``config``             the network's ``ModelConfig.to_dict()``: every checkpoint
``state_dict``         the network's weights: every checkpoint
``extra``              a record: ``save_checkpoint`` (the shipped weights keep their training
                       settings, steps and test scores here, ``model.pretrained_info``)
``optimizer``          Adam's state: training checkpoints (``save_training_state``, ``last.pt``)
``step``               steps trained so far: training checkpoints
``train_config``       the run's ``TrainConfig`` as a dict: training checkpoints
``torch_rng``          torch's random state: training checkpoints
``history``            one dict per step (loss, learning rate, validation): training checkpoints
``ema_state_dict``     the moving average of the weights: training checkpoints of ``--ema`` runs
=====================  ==========================================================================

A checkpoint is written to a temporary file next to its destination and renamed over it only
once it is complete, so an interrupted or failed save (Ctrl-C, a full disk) leaves the previous
checkpoint untouched (``atomic_save``). Reading uses ``torch.load(weights_only=True)``, which
refuses to run code stored in a file, and turns every way a file can be wrong into one clear
message (``safe_load``). ``read_checkpoint`` reads a file once into a ``Checkpoint``, from which
the model, its record and the training state are all taken.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from svrnn_lite.atomic import atomic_path
from svrnn_lite.model_config import ModelConfig
from svrnn_lite.models import build_model

#: The keys of every checkpoint.
MODEL_KEYS = ("config", "state_dict")
#: The keys of a checkpoint of ``save_checkpoint``, such as the shipped weights.
RECORD_KEYS = (*MODEL_KEYS, "extra")
#: The keys of a training checkpoint, besides ``AVERAGE_KEY`` when the run keeps an average.
TRAINING_KEYS = (*MODEL_KEYS, "optimizer", "step", "train_config", "torch_rng", "history")
#: The key of the moving average of the weights (``train --ema``).
AVERAGE_KEY = "ema_state_dict"


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message names the file and the problem."""


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically: a temporary file, fsync, then a rename.

    Raises
    ------
    OSError
        If the file cannot be written; the message says the previous file is unchanged.

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

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "state.pt")
    >>> atomic_save({"step": 3}, path)
    >>> safe_load(path, required=("step", "history"))
    Traceback (most recent call last):
    ...
    svrnn_lite.checkpoint.CheckpointError: ...state.pt is not an svrnn_lite checkpoint: no history
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


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file read once (``read_checkpoint``): its model config and its contents.

    Attributes
    ----------
    path : Path
        The file it was read from (named in every message).
    config : ModelConfig
        The network the weights belong to.
    contents : dict
        Everything the file holds, by the keys of the module's table.
    """

    path: Path
    config: ModelConfig
    contents: dict

    @property
    def extra(self) -> dict:
        """The record saved with the weights (``save_checkpoint``'s ``extra``); ``{}`` if none."""
        return self.contents.get("extra", {})

    @property
    def weights(self) -> dict[str, torch.Tensor]:
        """The weights to use: the moving average when the run kept one (what validation
        scored), else the trained weights."""
        return self.contents.get(AVERAGE_KEY, self.contents["state_dict"])

    def load_model(self, model: nn.Module | None = None) -> nn.Module:
        """``weights`` in ``model`` if given (it must be the same config), else in a new model.

        Raises
        ------
        ValueError
            If ``model`` is not the network the checkpoint holds.
        CheckpointError
            If the weights do not fit the network their config describes.
        """
        if model is None:
            model = build_model(self.config)
        else:
            config = getattr(model, "config", None)
            if config != self.config:
                got = config.describe() if isinstance(config, ModelConfig) else type(model).__name__
                raise ValueError(
                    f"checkpoint {str(self.path)!r} holds {self.config.describe()} but the model "
                    f"is {got}; build the matching model with build_model({self.config.name!r}, "
                    f"arch={self.config.arch!r}) or call load_checkpoint(path) without a model"
                )
        _load_weights(model, self.weights, self)
        return model


def read_checkpoint(path: str | os.PathLike, required: tuple[str, ...] = MODEL_KEYS) -> Checkpoint:
    """Read a checkpoint file once, safely (``safe_load``), and check its model config.

    Parameters
    ----------
    path : path
        The checkpoint file.
    required : tuple of str
        Keys it must have: ``MODEL_KEYS`` (any checkpoint), ``RECORD_KEYS`` or ``TRAINING_KEYS``.

    Returns
    -------
    Checkpoint

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is not a checkpoint, lacks a required key or holds an unknown model config.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "lite.pt")
    >>> save_checkpoint(build_model("lite", arch="plain"), path, extra={"note": "untrained"})
    >>> checkpoint = read_checkpoint(path, required=RECORD_KEYS)
    >>> checkpoint.config.describe(), checkpoint.extra
    ("preset 'lite' (arch plain, width 0.25)", {'note': 'untrained'})
    >>> type(checkpoint.load_model()).__name__
    'PlainUNet'
    """
    contents = safe_load(path, required=tuple(dict.fromkeys((*MODEL_KEYS, *required))))
    try:
        config = ModelConfig.from_dict(contents["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path} holds an unknown model configuration: {error}") from error
    return Checkpoint(Path(path), config, contents)


def _config_of(model: nn.Module) -> ModelConfig:
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise TypeError(f"model must carry a ModelConfig in .config, got {type(config).__name__}")
    return config


def _load_weights(model: nn.Module, weights: dict, checkpoint: Checkpoint) -> None:
    """``model.load_state_dict(weights)``, with the first misfit named in a ``CheckpointError``."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:  # missing, unexpected or mis-shaped weights
        # torch's message: a header line, then one line per kind of problem; show the first
        details = [line.strip() for line in str(error).strip().splitlines()[1:] if line.strip()]
        detail = details[0] if details else str(error).strip()
        raise CheckpointError(
            f"{checkpoint.path} does not fit {checkpoint.config.describe()}: {detail[:200]}"
        ) from error


def save_checkpoint(model: nn.Module, path: str | os.PathLike, extra: dict | None = None) -> None:
    """Save ``model``'s weights, its ``ModelConfig`` and a record ``extra`` (``RECORD_KEYS``).

    Raises
    ------
    TypeError
        If ``model`` carries no ``ModelConfig`` in ``.config``.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "lite.pt")
    >>> save_checkpoint(build_model("lite"), path, extra={"epoch": 3})
    >>> load_checkpoint(path).config.name
    'lite'
    """
    config = _config_of(model)
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict, got {type(extra).__name__}")
    checkpoint = {
        "config": config.to_dict(),
        "state_dict": model.state_dict(),
        "extra": extra or {},
    }
    atomic_save(checkpoint, path)


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None) -> nn.Module:
    """Load any checkpoint's weights; into ``model`` if given, else into a new model.

    Parameters
    ----------
    path : str or Path
        A file of ``save_checkpoint`` or a training checkpoint (``last.pt``).
    model : torch.nn.Module, optional
        Model to load into; it must be the same preset and architecture as the checkpoint.

    Returns
    -------
    torch.nn.Module
        The model with the checkpoint's weights: for a training checkpoint that keeps a moving
        average of the weights (``train --ema``), the average, which is what validation
        scored. The record is ``read_checkpoint(path).extra``.

    Raises
    ------
    ValueError
        If ``model`` is not the preset the checkpoint was saved from.
    CheckpointError
        If the file is not a checkpoint or its weights do not fit its config.
    """
    return read_checkpoint(path).load_model(model)


def training_state(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    step: int,
    history: list[dict],
    train_config: dict,
    average: nn.Module | None = None,
) -> dict:
    """Everything a run needs to resume bit for bit, as a dict with the keys ``TRAINING_KEYS``
    (and ``AVERAGE_KEY`` when the run keeps an average): what ``save_training_state`` writes,
    and what rank 0 of a data-parallel run sends the other ranks.

    Parameters
    ----------
    model, optimizer
        The network being trained (with its ``ModelConfig``) and its optimiser.
    step : int
        Steps trained so far.
    history : list of dict
        One record per step.
    train_config : dict
        The run's settings, ``asdict(TrainConfig)``.
    average : torch.nn.Module, optional
        The moving average of the weights, when the run keeps one.

    Examples
    --------
    >>> model = build_model("lite")
    >>> optimizer = torch.optim.Adam(model.parameters())
    >>> list(training_state(model, optimizer, step=0, history=[], train_config={}))
    ['config', 'state_dict', 'optimizer', 'step', 'train_config', 'torch_rng', 'history']
    """
    kept = {} if average is None else {AVERAGE_KEY: average.state_dict()}
    return {
        **kept,
        "config": _config_of(model).to_dict(),
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "train_config": train_config,
        "torch_rng": torch.get_rng_state(),
        "history": history,
    }


def save_training_state(path: str | os.PathLike, *args, **kwargs) -> None:
    """Write ``training_state(*args, **kwargs)`` to ``path`` (``last.pt``), atomically.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "last.pt")
    >>> model = build_model("lite")
    >>> optimizer = torch.optim.Adam(model.parameters())
    >>> save_training_state(path, model, optimizer, step=0, history=[], train_config={})
    >>> read_checkpoint(path, required=TRAINING_KEYS).contents["step"]
    0
    """
    atomic_save(training_state(*args, **kwargs), path)


def restore_training_state(
    checkpoint: Checkpoint,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    average: nn.Module | None = None,
) -> tuple[int, list[dict]]:
    """Put a training checkpoint's state back: weights, average, optimiser, torch's random state.

    ``checkpoint`` is ``read_checkpoint(path, TRAINING_KEYS)``; the caller checks its
    ``contents["train_config"]`` against the run's settings. Without an average in the file,
    ``average`` starts from the weights.

    Returns
    -------
    tuple
        ``(step, history)``: where the run stopped and its records so far.

    Raises
    ------
    ValueError
        If ``model`` is not the network the checkpoint holds.
    """
    if checkpoint.config != getattr(model, "config", None):
        raise ValueError(f"cannot resume {checkpoint.path}: it holds another model")
    contents = checkpoint.contents
    _load_weights(model, contents["state_dict"], checkpoint)
    if average is not None:
        _load_weights(average, checkpoint.weights, checkpoint)
    optimizer.load_state_dict(contents["optimizer"])
    torch.set_rng_state(contents["torch_rng"])
    return int(contents["step"]), list(contents["history"])
