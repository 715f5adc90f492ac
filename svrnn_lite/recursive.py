"""The first-order recursive filter, the scan at the heart of the spatially variant RNN.

Along one axis of a tensor, with a gate ``g`` of the same shape as the input ``x``::

    h[k] = (1 - g[k]) * x[k] + g[k] * h[k-1],      h[-1] = 0,      g in (-1, 1)

The gate is the one at the current position ``k`` (as in the original Caffe layer). Two versions
compute the same thing:

- :func:`recursive_filter_reference`, a plain Python loop over ``k``; autograd differentiates it.
- :func:`recursive_filter`, the fast path: a compiled forward scan and, for the backward pass, the
  reverse scan of the adjoint recursion (``_scan_numba``, with a pure-torch fallback)::

      d[k]     = t[k] + g[k+1] * d[k+1]        (t = gradient reaching h from above)
      dL/dx[k] = (1 - g[k]) * d[k]
      dL/dg[k] = d[k] * (h[k-1] - x[k])

Explained in chapter *The first-order recursive filter*.
"""

from __future__ import annotations

import math
import os

import torch

from svrnn_lite import _scan_torch

try:  # numba is a dependency, but the filter still works (slower) without it
    from svrnn_lite import _scan_numba
except ImportError:  # pragma: no cover - exercised only on installs without numba
    _scan_numba = None

__all__ = ["recursive_filter", "recursive_filter_reference", "use_numba"]

#: Set the environment variable ``SVRNN_LITE_NO_NUMBA=1`` (before import) or call
#: ``use_numba(False)`` to force the pure-torch scan.
_USE_NUMBA = _scan_numba is not None and os.environ.get("SVRNN_LITE_NO_NUMBA", "") in ("", "0")


def use_numba(enabled: bool | None = None) -> bool:
    """Switch the compiled (numba) scan on or off; return whether it is now used.

    With ``enabled=False`` :func:`recursive_filter` runs the pure-torch scan everywhere (tensors on
    a GPU always take that path). ``use_numba()`` without argument only reports the setting.

    Parameters
    ----------
    enabled : bool, optional
        The new setting; ``True`` is ignored (returns ``False``) when numba is not installed.

    Returns
    -------
    bool
        Whether CPU tensors now go through the numba kernels.

    Examples
    --------
    >>> previous = use_numba()
    >>> use_numba(False)
    False
    >>> _ = use_numba(previous)

    Explained in chapter *The first-order recursive filter*.
    """
    global _USE_NUMBA
    if enabled is not None:
        _USE_NUMBA = bool(enabled) and _scan_numba is not None
    return _USE_NUMBA


def _check(x: torch.Tensor, g: torch.Tensor, dim: int) -> int:
    """Validate the inputs of both filters; return ``dim`` as a non-negative axis."""
    for name, t in (("x", x), ("g", g)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    if x.shape != g.shape:
        raise ValueError(
            f"x and g must have the same shape, got x {tuple(x.shape)} and g {tuple(g.shape)}"
        )
    if x.dtype != g.dtype:
        raise TypeError(f"x and g must have the same dtype, got x {x.dtype} and g {g.dtype}")
    if x.device != g.device:
        raise ValueError(f"x and g must be on the same device, got {x.device} and {g.device}")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension, got a 0-d tensor")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"dim must be in [{-x.ndim}, {x.ndim - 1}] for a {x.ndim}-d x, got {dim}")
    return dim % x.ndim


def recursive_filter_reference(
    x: torch.Tensor, g: torch.Tensor, dim: int = -1, reverse: bool = False
) -> torch.Tensor:
    """First-order recursive filter as a plain loop: ``h[k] = (1 - g[k]) x[k] + g[k] h[k-1]``.

    The textbook version: one Python step per position along ``dim``, differentiated by autograd.
    Slow (use :func:`recursive_filter`), but it is the definition the fast path is tested against.

    Parameters
    ----------
    x : torch.Tensor
        Input, any shape, float32 or float64.
    g : torch.Tensor
        Gates, same shape, dtype and device as ``x``; values in (-1, 1) keep the filter stable.
    dim : int, default -1
        The axis to scan along.
    reverse : bool, default False
        Scan from the last position to the first (the same as flipping ``x`` and ``g`` along
        ``dim``, filtering, and flipping the result back).

    Returns
    -------
    torch.Tensor
        ``h``, same shape and dtype as ``x``.

    Examples
    --------
    >>> x = torch.tensor([1.0, 0.0, 0.0, 0.0])
    >>> g = torch.full((4,), 0.5)
    >>> recursive_filter_reference(x, g)
    tensor([0.5000, 0.2500, 0.1250, 0.0625])
    >>> recursive_filter_reference(x, g, reverse=True)
    tensor([0.5000, 0.0000, 0.0000, 0.0000])

    Explained in chapter *The first-order recursive filter*.
    """
    dim = _check(x, g, dim)
    # unbind gives all slices at once: indexing x[..., k] step by step would make the backward
    # pass allocate a full-size gradient per step (O(N^2) time).
    xs, gs = x.unbind(dim), g.unbind(dim)
    order = range(len(xs) - 1, -1, -1) if reverse else range(len(xs))
    h_prev = torch.zeros_like(xs[0])
    hs = [None] * len(xs)
    for k in order:
        h_prev = (1 - gs[k]) * xs[k] + gs[k] * h_prev
        hs[k] = h_prev
    return torch.stack(hs, dim)


def scan_backend(t: torch.Tensor):
    """The scan kernels for tensor ``t``: numba on CPU when enabled, else the pure-torch scan."""
    return _scan_numba if (_USE_NUMBA and t.device.type == "cpu") else _scan_torch


def _as_bmnq(t: torch.Tensor, dim: int) -> torch.Tensor:
    """A contiguous (1, M, N, Q) view of ``t``: the axes before ``dim`` merged into M, the scan
    axis N, the axes after ``dim`` merged into Q (contiguous, so the kernels read in order)."""
    m = math.prod(t.shape[:dim])
    q = math.prod(t.shape[dim + 1 :])
    return t.contiguous().view(1, m, t.shape[dim], q)


class _RecursiveFilter(torch.autograd.Function):
    """Compiled forward scan; the backward pass is the reverse scan of the adjoint recursion."""

    @staticmethod
    def forward(ctx, x, g, dim, reverse):
        x4, g4 = _as_bmnq(x, dim), _as_bmnq(g, dim)
        h4 = torch.empty_like(x4)
        scan_backend(x4).scan_forward(x4, g4, h4, 0, reverse)
        ctx.save_for_backward(x4, g4, h4)
        ctx.reverse = reverse
        return h4.view(x.shape)

    @staticmethod
    def backward(ctx, grad_h):
        x4, g4, h4 = ctx.saved_tensors
        t4 = grad_h.contiguous().view(x4.shape)
        dx4, dg4 = torch.empty_like(x4), torch.empty_like(x4)
        scan_backend(t4).scan_backward(t4, x4, g4, h4, dx4, dg4, 0, ctx.reverse, False)
        return dx4.view(grad_h.shape), dg4.view(grad_h.shape), None, None


def recursive_filter(
    x: torch.Tensor, g: torch.Tensor, dim: int = -1, reverse: bool = False
) -> torch.Tensor:
    """Recursive filter ``h[k] = (1 - g[k]) x[k] + g[k] h[k-1]``, fast and differentiable.

    Same maths as :func:`recursive_filter_reference`, computed by a compiled scan (numba, cached on
    disk after the first call) with a hand-written backward pass, the reverse scan
    ``d[k] = t[k] + g[k+1] d[k+1]``, ``dL/dx = (1 - g) d``, ``dL/dg[k] = d[k] (h[k-1] - x[k])``.
    Tensors on a GPU, or any tensor when numba is missing or switched off with :func:`use_numba`,
    go through an equivalent pure-torch scan.

    Parameters
    ----------
    x : torch.Tensor
        Input, any shape and strides, float32 or float64.
    g : torch.Tensor
        Gates, same shape, dtype and device as ``x``; values in (-1, 1) keep the filter stable.
    dim : int, default -1
        The axis to scan along.
    reverse : bool, default False
        Scan from the last position to the first.

    Returns
    -------
    torch.Tensor
        ``h``, a new contiguous tensor of the shape and dtype of ``x``.

    Examples
    --------
    >>> x = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    >>> g = torch.full((1, 4), 0.5)
    >>> recursive_filter(x, g)
    tensor([[0.5000, 0.2500, 0.1250, 0.0625]])
    >>> torch.allclose(recursive_filter(x, g, dim=0), (1 - g) * x)
    True

    Explained in chapter *The first-order recursive filter*.
    """
    dim = _check(x, g, dim)
    return _RecursiveFilter.apply(x, g, dim, bool(reverse))
