"""Data-parallel training: one process per device, started by ``torchrun``.

``torchrun --nproc-per-node N -m svrnn_lite train ...`` starts N copies of the training, the
*ranks* 0 ... N-1, each with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in its environment.
:func:`process_group` joins them into one process group (gloo between CPUs, NCCL between GPUs,
one GPU per rank); :func:`wrap` hands the model to PyTorch's DistributedDataParallel, which
averages the ranks' gradients during every backward pass, so that all ranks take the same
optimiser step and their weights stay equal. Each rank cuts only its share of every batch
(:func:`batch_share`), rank 0 alone writes files (:func:`from_rank_zero` sends what it read to
the others), and :func:`sum_over_ranks` lets the ranks agree on the loss and on when to stop.

Outside ``torchrun`` every function here does what one process alone would: no process group,
rank 0 of 1, the whole batch, sums over one rank. :func:`svrnn_lite.train.train` calls them
either way.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import pickle
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "TIMEOUT",
    "barrier",
    "batch_share",
    "device",
    "from_rank_zero",
    "is_distributed",
    "launched_by_torchrun",
    "process_group",
    "rank",
    "sum_over_ranks",
    "world_size",
    "wrap",
]

#: How long a rank waits for the others in a collective operation (a gradient exchange, a
#: barrier) before it gives up with an error: long enough for rank 0 to validate and save a
#: checkpoint while the others wait, short enough that a rank hung on another machine ends
#: the run instead of blocking it forever. (On one machine torchrun stops the other ranks as
#: soon as one fails.)
TIMEOUT = datetime.timedelta(minutes=10)


def launched_by_torchrun(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process is a rank started by ``torchrun`` (``RANK`` and ``WORLD_SIZE`` set).

    Examples
    --------
    >>> launched_by_torchrun({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    True
    >>> launched_by_torchrun({})
    False
    """
    environ = os.environ if environ is None else environ
    return "RANK" in environ and "WORLD_SIZE" in environ


@contextlib.contextmanager
def process_group(timeout: datetime.timedelta = TIMEOUT) -> Iterator[None]:
    """Join the process group that ``torchrun`` describes, for the duration of the block.

    The backend is NCCL when the machine has CUDA (each rank then uses GPU ``LOCAL_RANK``) and
    gloo otherwise. Outside ``torchrun`` (:func:`launched_by_torchrun`) nothing happens, so one
    code path serves both cases; nor when the caller has already set up a process group, which
    is then used as it is (and left to the caller to end).

    Parameters
    ----------
    timeout : datetime.timedelta
        How long a collective operation may wait for the other ranks (:data:`TIMEOUT`).

    Examples
    --------
    >>> with process_group():  # not under torchrun: a single process, as before
    ...     rank(), world_size()
    (0, 1)
    """
    if not launched_by_torchrun() or is_distributed():
        yield
        return
    if torch.cuda.is_available():  # one GPU per rank of this machine
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", timeout=timeout)
    try:
        yield
    finally:
        dist.destroy_process_group()


def is_distributed() -> bool:
    """Whether a process group is set up (by :func:`process_group` or the caller).

    Examples
    --------
    >>> is_distributed()
    False
    """
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank: 0 ... :func:`world_size` - 1 (0 for a single process)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """How many ranks train together (1 for a single process)."""
    return dist.get_world_size() if is_distributed() else 1


def device() -> torch.device:
    """The device this rank trains on: its own GPU (``LOCAL_RANK``) when there is CUDA, else CPU.

    Examples
    --------
    >>> device().type in ("cpu", "cuda")
    True
    """
    if not torch.cuda.is_available():
        return torch.device("cpu")
    if is_distributed():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cuda")


def batch_share(batch_size: int, rank: int, world_size: int) -> slice:
    """Which crops of every (global) batch of ``batch_size`` crops rank ``rank`` trains on.

    Rank ``r`` of ``n`` takes crops ``r b/n`` ... ``(r + 1) b/n - 1``: equal shares, so that
    the mean of the ranks' losses is the loss of the whole batch, and DistributedDataParallel,
    which averages the ranks' gradients, follows the gradient of the whole batch.

    Parameters
    ----------
    batch_size : int
        Crops per step, all ranks together (``--batch-size``).
    rank, world_size : int
        Which rank, of how many (:func:`rank`, :func:`world_size`).

    Raises
    ------
    ValueError
        If ``batch_size`` is not a multiple of ``world_size``.

    Examples
    --------
    >>> batch_share(8, rank=1, world_size=4)
    slice(2, 4, None)
    >>> batch_share(8, rank=0, world_size=1)  # a single process takes the whole batch
    slice(0, 8, None)
    >>> batch_share(6, rank=0, world_size=4)
    Traceback (most recent call last):
    ...
    ValueError: --batch-size 6 is the batch of all 4 processes together and must be a multiple of 4
    """
    if batch_size % world_size:
        raise ValueError(
            f"--batch-size {batch_size} is the batch of all {world_size} processes together "
            f"and must be a multiple of {world_size}"
        )
    share = batch_size // world_size
    return slice(rank * share, (rank + 1) * share)


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when there is a process group, else ``model`` itself.

    Train through the wrapper (its backward pass averages the gradients of all ranks); save,
    validate and average the weights of ``model``, whose parameter names have no ``module.``
    prefix, so checkpoints are the same with any number of ranks.
    """
    if not is_distributed():
        return model
    here = next(model.parameters()).device
    return DistributedDataParallel(model, device_ids=[here.index] if here.type == "cuda" else None)


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``values`` over all ranks (``values`` itself in one process).

    Every rank calls it at the same point with a tensor of the same shape, on its device.

    Examples
    --------
    >>> sum_over_ranks(torch.tensor([0.5, 1.0]))
    tensor([0.5000, 1.0000])
    """
    if is_distributed():
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def from_rank_zero(make: Callable[[], Any]) -> Any:
    """``make()``, called on rank 0 only, returned on every rank.

    Rank 0 sends its result to the others as a ``torch.save`` file, which they read with
    ``weights_only=True`` (its tensors arrive on the CPU), so ``make`` may return nested dicts,
    lists, numbers, strings and tensors. If ``make`` raises, every rank raises the same error,
    so all of them stop with rank 0's message. Every rank must call it at the same point.

    Examples
    --------
    >>> from_rank_zero(lambda: {"step": 3})
    {'step': 3}
    """
    if not is_distributed():
        return make()
    message: list[Any] = [None]
    if rank() == 0:
        try:
            result = make()
        except Exception as error:
            dist.broadcast_object_list([_picklable(error)], src=0)
            raise
        buffer = io.BytesIO()
        torch.save(result, buffer)
        dist.broadcast_object_list([buffer.getvalue()], src=0)
        return result
    dist.broadcast_object_list(message, src=0)
    if isinstance(message[0], BaseException):
        raise message[0]
    return torch.load(io.BytesIO(message[0]), map_location="cpu", weights_only=True)


def _picklable(error: Exception) -> Exception:
    """``error`` itself if it survives pickling, else a RuntimeError with its message."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def barrier() -> None:
    """Wait until every rank gets here (nothing to wait for in a single process)."""
    if is_distributed():
        dist.barrier()
