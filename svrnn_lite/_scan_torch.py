"""Pure-torch scan kernels: the fallback of :func:`svrnn_lite.recursive.recursive_filter`.

Used for tensors on a GPU and when numba is missing or switched off. Same interface as
``_scan_numba.forward`` and ``_scan_numba.backward``: contiguous tensors of shape (B, M, N, Q),
the scan runs along N; ``g``, ``h``, ``t`` and ``dg`` are used at rows ``m0 .. m0 + M``. One
vectorised torch step per position k.
"""

from __future__ import annotations

import torch


def _scan_order(n: int, reverse: bool) -> list[int]:
    return list(range(n - 1, -1, -1)) if reverse else list(range(n))


@torch.no_grad()
def forward(x, g, h, m0: int, reverse: bool) -> None:
    """Write h[k] = (1 - g[k]) x[k] + g[k] h[k-1] (h[-1] = 0) into rows m0.. of ``h``."""
    if x.numel() == 0:
        return
    rows = slice(m0, m0 + x.shape[1])
    g, h = g[:, rows], h[:, rows]
    h_prev = torch.zeros_like(x[:, :, 0])
    for k in _scan_order(x.shape[2], reverse):
        h_prev = torch.addcmul((1 - g[:, :, k]) * x[:, :, k], g[:, :, k], h_prev, out=h[:, :, k])


@torch.no_grad()
def backward(t, x, g, h, dx, dg, m0: int, reverse: bool, accumulate: bool) -> None:
    """d[k] = t[k] + g[k+1] d[k+1]; write dg = d (h[k-1] - x), write or add dx = (1 - g) d."""
    if x.numel() == 0:
        return
    rows = slice(m0, m0 + x.shape[1])
    t, g, h, dg = t[:, rows], g[:, rows], h[:, rows], dg[:, rows]
    order = _scan_order(x.shape[2], reverse)
    zero = torch.zeros_like(x[:, :, 0])
    d, g_next = zero, zero
    for i in range(len(order) - 1, -1, -1):  # scan order, backwards
        k = order[i]
        h_prev = h[:, :, order[i - 1]] if i > 0 else zero
        d = torch.addcmul(t[:, :, k], g_next, d)
        torch.mul(d, h_prev - x[:, :, k], out=dg[:, :, k])
        dx_k = (1 - g[:, :, k]) * d
        if accumulate:
            dx[:, :, k] += dx_k
        else:
            dx[:, :, k] = dx_k
        g_next = g[:, :, k]
