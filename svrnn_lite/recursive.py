"""The first-order recursive filter, the scan at the heart of the spatially variant RNN.

Explained in chapter *The first-order recursive filter*. Along one axis of a tensor, with a gate
``g`` of the same shape as the input ``x``::

    h[k] = (1 - g[k]) * x[k] + g[k] * h[k-1],      h[-1] = 0,      g in (-1, 1)

The gate is the one at the current position ``k`` (as in the original Caffe layer). Two versions
compute the same thing:

- :func:`recursive_filter_reference`, a plain Python loop over ``k``; autograd differentiates it.
- :func:`recursive_filter`, the fast path: the autograd Function ``_RecursiveFilter`` runs a
  forward scan kernel and, for the backward pass, the reverse scan of the adjoint recursion::

      d[k]     = t[k] + g[k+1] * d[k+1]        (t = gradient reaching h from above)
      dL/dx[k] = (1 - g[k]) * d[k]
      dL/dg[k] = d[k] * (h[k-1] - x[k])

The kernels are compiled loops (``_scan_numba``) for CPU tensors and a vectorised log-depth torch
scan (``_scan_torch``) on any other device or with numba off; :func:`scan_backend` chooses. The
four-direction block of the next chapter (:func:`svrnn_lite.spatial_rnn.spatial_rnn`) is the same
Function with four directions: the path from ``SpatialRNN.forward`` to the recursion line is
``spatial_rnn`` -> ``_RecursiveFilter.forward`` -> a kernel (e.g. ``_scan_numba.forward``).
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
#: ``use_numba(False)`` to force the vectorised torch scan.
_USE_NUMBA = _scan_numba is not None and os.environ.get("SVRNN_LITE_NO_NUMBA", "") in ("", "0")


def use_numba(enabled: bool | None = None) -> bool:
    """Switch the compiled (numba) scan on or off; return whether it is now used.

    With ``enabled=False`` :func:`recursive_filter` runs the vectorised torch scan everywhere
    (tensors on a GPU always take that path). ``use_numba()`` without argument only reports the
    setting.

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
    """
    global _USE_NUMBA
    if enabled is not None:
        _USE_NUMBA = bool(enabled) and _scan_numba is not None
    return _USE_NUMBA


def _check(x: torch.Tensor, g: torch.Tensor, dim: int | None) -> int | None:
    """The one input check of :func:`recursive_filter` and of
    :func:`svrnn_lite.spatial_rnn.spatial_rnn`.

    With an axis ``dim`` (the filter): ``g`` has the shape of ``x``; returns ``dim`` as a
    non-negative axis. With ``dim=None`` (four directions): ``x`` is (B, C, H, W) and ``g``
    (B, 4C, H, W); returns None.
    """
    for name, t in (("x", x), ("g", g)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    if x.dtype != g.dtype:
        raise TypeError(f"x and g must have the same dtype, got x {x.dtype} and g {g.dtype}")
    if x.device != g.device:
        raise ValueError(f"x and g must be on the same device, got {x.device} and {g.device}")
    if dim is None:
        if x.ndim != 4:
            raise ValueError(f"x must have shape (B, C, H, W), got {tuple(x.shape)}")
        b, c, h, w = x.shape
        if g.shape != (b, 4 * c, h, w):
            raise ValueError(
                f"g must have shape (B, 4C, H, W) = {(b, 4 * c, h, w)} for x of shape "
                f"{tuple(x.shape)} (C gate channels per direction), got {tuple(g.shape)}"
            )
        return None
    if x.shape != g.shape:
        raise ValueError(
            f"x and g must have the same shape, got x {tuple(x.shape)} and g {tuple(g.shape)}"
        )
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
    """The scan kernels for tensor ``t``: numba on the CPU when enabled, else the torch scan.

    Parameters
    ----------
    t : torch.Tensor
        A tensor to scan; only its device matters (and the setting of :func:`use_numba`).

    Returns
    -------
    module
        :mod:`svrnn_lite._scan_numba` or :mod:`svrnn_lite._scan_torch`; both offer
        ``forward(x, g, h, m0, reverse)`` and ``backward(t, x, g, h, dx, dg, m0, reverse,
        accumulate)``, and numba the fused ``forward_pair`` and ``backward_pair``.

    Examples
    --------
    >>> scan_backend(torch.zeros(1, device="meta")).__name__  # what a GPU tensor gets
    'svrnn_lite._scan_torch'
    """
    return _scan_numba if (_USE_NUMBA and t.device.type == "cpu") else _scan_torch


def _view(t: torch.Tensor, axis: int) -> torch.Tensor:
    """A contiguous (B, K, ...) tensor seen as (B, M, N, Q) for a scan along ``axis``: the axes
    from 1 up to ``axis`` merged into M, ``axis`` is N, the axes after it merged into Q."""
    m, q = math.prod(t.shape[1:axis]), math.prod(t.shape[axis + 1 :])
    return t.view(t.shape[0], m, t.shape[axis], q)


def _by_axis(ndim: int, directions) -> dict[int, list[tuple[int, bool]]]:
    """The directions grouped by axis, in order: {axis: [(index d of the direction, reverse)]}."""
    axes: dict[int, list[tuple[int, bool]]] = {}
    for d, (axis, reverse) in enumerate(directions):
        axes.setdefault(axis % ndim, []).append((d, reverse))
    return axes


def _fused(kernels, view: torch.Tensor, scans: list[tuple[int, bool]]) -> bool:
    """Whether the scans of an axis go to the fused pair kernel: only a forward and a reverse
    scan along contiguous rows (Q == 1) with numba, where the benchmark shows that it pays."""
    paired = [reverse for _, reverse in scans] == [False, True]
    return paired and view.shape[3] == 1 and hasattr(kernels, "forward_pair")


def _channels_last(kernels, x: torch.Tensor, g: torch.Tensor, directions) -> bool:
    """Whether to scan in the channels-last layout: the gates come from a channels-last conv
    (channels innermost in memory, as conv14's output or a channel slice of it), the scan is the
    four-direction one over H and W, and the numba kernels run it."""
    return (
        kernels is _scan_numba
        and x.ndim == 4
        and g.shape[1] > 1
        and g.stride(1) == 1
        and all(axis % 4 in (2, 3) for axis, _ in directions)
    )


def _pixels(t: torch.Tensor, axis: int, block: int | None = None, c: int = 0) -> torch.Tensor:
    """A channels-last (B, K, H, W) tensor, or its channels ``block * c ..``, seen without a copy
    as the kernels' (B, M, N, Q) for a scan along ``axis`` (2: H, 3: W): Q is the channels, so
    the kernels' inner loop runs over contiguous memory, and M is the other spatial axis."""
    p = t.permute(0, 2, 3, 1)  # (B, H, W, K), K innermost
    if block is not None:
        p = p[..., block * c : (block + 1) * c]
    return p if axis == 3 else p.transpose(1, 2)


def _channels_inner(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself if its channels are innermost in memory, else a channels-last copy."""
    return t if t.stride(1) == 1 else t.contiguous(memory_format=torch.channels_last)


class _RecursiveFilter(torch.autograd.Function):
    """Several recursive filters of one input, by the scan kernels, with the adjoint scans as
    backward pass: the one autograd Function of the filter and of the four-direction RNN.

    ``x`` is (B, C, ...) and ``g`` (B, D*C, ...) for D ``directions`` ``(axis, reverse)``; the
    output has the shape of ``g``, block ``d`` of its C channels is the scan of ``x`` along the
    axis of direction ``d`` with the gates of block ``d``. In the kernels' (B, M, N, Q) view
    block ``d`` starts at row ``d * M``, so every scan reads and writes its block in place.
    Channels-last inputs of the four-direction RNN (what a channels-last network makes, see
    :class:`svrnn_lite.models.Network`) are scanned in that layout, block ``d`` a strided view
    of its channels (``_pixels``), so that no tensor is copied to another layout.
    """

    @staticmethod
    def forward(ctx, x, g, directions):
        kernels = scan_backend(x)
        layout = torch.channels_last if _channels_last(kernels, x, g, directions) else None
        if layout is None:
            x, g = x.contiguous(), g.contiguous()
            h = torch.empty_like(g)
        else:  # g as it is (a channel slice of conv14 is strided), x with channels innermost
            x, h = _channels_inner(x), torch.empty_like(g, memory_format=layout)
        for axis, scans in _by_axis(x.ndim, directions).items():
            if layout is not None:
                c = x.shape[1]
                for d, reverse in scans:
                    hv, gv = _pixels(h, axis, d, c), _pixels(g, axis, d, c)
                    kernels.forward(_pixels(x, axis), gv, hv, 0, reverse)
                continue
            xv, gv, hv = (_view(t, axis) for t in (x, g, h))
            m = xv.shape[1]
            if _fused(kernels, xv, scans):
                kernels.forward_pair(xv, gv, hv, scans[0][0] * m, scans[1][0] * m)
            else:
                for d, reverse in scans:
                    kernels.forward(xv, gv, hv, d * m, reverse)
        ctx.save_for_backward(x, g, h)
        ctx.directions, ctx.layout = directions, layout
        return h

    @staticmethod
    def backward(ctx, grad_h):
        x, g, h = ctx.saved_tensors
        layout = ctx.layout
        grad_h = grad_h.contiguous() if layout is None else _channels_inner(grad_h)
        fmt = layout or torch.contiguous_format
        dx, dg = torch.empty_like(x, memory_format=fmt), torch.empty_like(g, memory_format=fmt)
        kernels = scan_backend(x)
        done = 0  # scans whose dL/dx is in dx: the first writes it, the others add to it
        for axis, scans in _by_axis(x.ndim, ctx.directions).items():
            if layout is not None:
                c = x.shape[1]
                xv, dxv = _pixels(x, axis), _pixels(dx, axis)
                for i, (d, reverse) in enumerate(scans):
                    tv, gv, hv, dgv = (_pixels(t, axis, d, c) for t in (grad_h, g, h, dg))
                    kernels.backward(tv, xv, gv, hv, dxv, dgv, 0, reverse, done + i > 0)
                done += len(scans)
                continue
            tv, xv, gv, hv, dxv, dgv = (_view(t, axis) for t in (grad_h, x, g, h, dx, dg))
            m = xv.shape[1]
            if _fused(kernels, xv, scans):
                m0s = (scans[0][0] * m, scans[1][0] * m)
                kernels.backward_pair(tv, xv, gv, hv, dxv, dgv, *m0s, done > 0)
            else:
                for i, (d, reverse) in enumerate(scans):
                    kernels.backward(tv, xv, gv, hv, dxv, dgv, d * m, reverse, done + i > 0)
            done += len(scans)
        return dx, dg, None


def recursive_filter(
    x: torch.Tensor, g: torch.Tensor, dim: int = -1, reverse: bool = False
) -> torch.Tensor:
    """Recursive filter ``h[k] = (1 - g[k]) x[k] + g[k] h[k-1]``, fast and differentiable.

    Same maths as :func:`recursive_filter_reference`, computed by a compiled scan (numba, cached on
    disk after the first call) with a hand-written backward pass, the reverse scan
    ``d[k] = t[k] + g[k+1] d[k+1]``, ``dL/dx = (1 - g) d``, ``dL/dg[k] = d[k] (h[k-1] - x[k])``.
    Tensors on a GPU, or any tensor when numba is missing or switched off with :func:`use_numba`,
    go through the same recursions as a vectorised torch scan of ``ceil(log2 N)`` steps.

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
    """
    dim = _check(x, g, dim)
    # one direction: x and g as (B, C) = (1, 1) of the layout of _RecursiveFilter
    return _RecursiveFilter.apply(x[None, None], g[None, None], ((dim + 2, bool(reverse)),))[0, 0]
