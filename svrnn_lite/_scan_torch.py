"""Vectorised pure-torch scan kernels, the device-agnostic back end of the recursive filter.

Used for tensors on a GPU (or any device other than the CPU) and when numba is missing or
switched off (:func:`svrnn_lite.recursive.use_numba`); explained in chapter
*The first-order recursive filter*. Same interface as :func:`svrnn_lite._scan_numba.forward` and
:func:`~svrnn_lite._scan_numba.backward`: contiguous tensors of shape (B, M, N, Q), the scan runs
along N; ``g``, ``h``, ``t`` and ``dg`` are used at rows ``m0 .. m0 + M``.

Both passes are first-order linear recurrences ``y[k] = a[k] y[k-1] + b[k]``, ``y[-1] = 0``:
the forward scan with ``a = g``, ``b = (1 - g) x``, the backward scan (run the other way) with
``a[k] = g[k+1]``, ``b = t``. :func:`linear_scan` solves one in ``ceil(log2 N)`` steps of
whole-tensor operations (a Hillis-Steele scan of the affine maps ``y -> a y + b``) instead of
``N`` dependent steps, which is what a GPU needs. It only multiplies and adds gates, never divides
by their products, so gates that are zero, negative or tiny are handled exactly like in the loop.

On the CPU it does about ``log2 N`` times the work of the compiled loop and is slower: in
``benchmarks/bench_scan.py`` (one thread, CPU clock) 6x at forward+backward on (16, 32, 64, 64),
13x to 14x at forward on (1, 32, 360, 640).
"""

from __future__ import annotations

import torch


@torch.no_grad()
def linear_scan(a: torch.Tensor, b: torch.Tensor, reverse: bool) -> torch.Tensor:
    """Solve ``y[k] = a[k] y[k-1] + b[k]``, ``y[-1] = 0``, along axis 2; the result goes in ``b``.

    Step ``s = 1, 2, 4, ...`` composes each position's affine map with the one ``s`` positions
    earlier: ``b[k] += a[k] b[k-s]`` and ``a[k] *= a[k-s]``, all ``k`` at once. Afterwards
    ``y[k] = a[k] y[k-2s] + b[k]`` (with ``y = 0`` before the start), so once ``2s >= N`` every
    ``b[k]`` is ``y[k]``. Each step reads the previous step's values, so it writes into a second
    pair of buffers and the two pairs swap. The next step needs ``a`` only at ``k >= 2s``, so only
    those products are formed. ``a`` is overwritten.

    Parameters
    ----------
    a, b : torch.Tensor
        Coefficients and inputs, same shape, at least 3-d; any device.
    reverse : bool
        Run from the last position to the first (``k-1`` means ``k+1``).

    Returns
    -------
    torch.Tensor
        ``b``, now holding ``y``.

    Examples
    --------
    >>> a = torch.full((1, 1, 4), 0.5)
    >>> linear_scan(a, torch.tensor([[[1.0, 0.0, 0.0, 0.0]]]), reverse=False)
    tensor([[[1.0000, 0.5000, 0.2500, 0.1250]]])
    """
    n, s, result = b.shape[2], 1, b
    a_next, b_next = torch.empty_like(a), torch.empty_like(b)
    while s < n:
        if reverse:  # positions with a partner s earlier in scan order, those partners, the rest
            cur, prev, rest = slice(0, n - s), slice(s, n), slice(n - s, n)
            cur_a, prev_a = slice(0, max(n - 2 * s, 0)), slice(s, n - s)
        else:
            cur, prev, rest = slice(s, n), slice(0, n - s), slice(0, s)
            cur_a, prev_a = slice(2 * s, n), slice(s, n - s)
        torch.addcmul(b[:, :, cur], a[:, :, cur], b[:, :, prev], out=b_next[:, :, cur])
        b_next[:, :, rest] = b[:, :, rest]  # already final
        torch.mul(a[:, :, cur_a], a[:, :, prev_a], out=a_next[:, :, cur_a])
        a, a_next, b, b_next = a_next, a, b_next, b
        s *= 2
    return b if b is result else result.copy_(b)


@torch.no_grad()
def forward(x, g, h, m0: int, reverse: bool) -> None:
    """Write h[k] = (1 - g[k]) x[k] + g[k] h[k-1] (h[-1] = 0) into rows m0.. of ``h``."""
    rows = slice(m0, m0 + x.shape[1])
    g, h = g[:, rows], h[:, rows]
    h.copy_((1 - g) * x)
    linear_scan(g.clone(), h, reverse)


@torch.no_grad()
def backward(t, x, g, h, dx, dg, m0: int, reverse: bool, accumulate: bool) -> None:
    """d[k] = t[k] + g[k+1] d[k+1]; write dg = d (h[k-1] - x), write or add dx = (1 - g) d."""
    rows = slice(m0, m0 + x.shape[1])
    t, g, h, dg = t[:, rows], g[:, rows], h[:, rows], dg[:, rows]
    # "next" and "previous" in scan order: along axis 2, or against it when reverse
    later, earlier = (
        (slice(None, -1), slice(1, None)) if reverse else (slice(1, None), slice(None, -1))
    )
    shifted = torch.zeros_like(g)
    shifted[:, :, earlier] = g[:, :, later]  # g[k+1], 0 past the end
    d = linear_scan(shifted, t.clone(), not reverse)
    shifted.zero_()[:, :, later] = h[:, :, earlier]  # h[k-1], h[-1] = 0
    dg.copy_(d * (shifted - x))
    if accumulate:
        dx.addcmul_(1 - g, d)
    else:
        torch.mul(1 - g, d, out=dx)
