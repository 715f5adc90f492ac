"""Compiled scan kernels (numba) behind :func:`svrnn_lite.recursive.recursive_filter`.

Every array is C-contiguous with shape (B, M, N, Q): the scan runs along N, M and Q index
independent sequences. ``x`` and ``dx`` have M rows; ``g``, ``h``, ``t`` and ``dg`` may have more
and are read/written at rows ``m0 .. m0 + M`` (so SpatialRNN works in place on its slices of
the (B, 4C, H, W) gate and output tensors, without copies).

Two loop orders keep memory access sequential:

- Q > 1 (e.g. scanning an image along H, Q = W): for each (b, m) in parallel, k runs along the
  scan and the inner loop over q is contiguous and vectorised.
- Q == 1 (scanning along the last, contiguous axis): each (b, m) is one contiguous row, scanned
  with the running state in a register. SpatialRNN scans each row both ways; the ``_pair``
  kernels run the two scans in one loop, two independent chains of multiply-adds that the CPU
  overlaps (one chain alone waits for each multiply-add to finish).

Forward:  h[k] = (1 - g[k]) x[k] + g[k] h[k-1],  h[-1] = 0.
Backward: d[k] = t[k] + g[k+1] d[k+1],  dx[k] (+)= (1 - g[k]) d[k],  dg[k] = d[k] (h[k-1] - x[k]).
("k-1" and "k+1" are the previous and next positions in scan order, reversed when ``reverse``.)
"""

from __future__ import annotations

import os

import numba
from numba import njit, prange

# numba's default OpenMP thread pool and torch's spin-wait against each other on a small machine
# (5 ms per call measured here); the simple "workqueue" pool does not. Set unless the user chose.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


@njit(parallel=True, cache=True)
def _forward_cols(x, g, h, m0, reverse):
    """Q > 1: for each sequence of rows k, the inner loop runs along a contiguous row of Q."""
    B, M, N, Q = x.shape
    one = x.dtype.type(1)
    step = -1 if reverse else 1
    for task in prange(B * M):
        b, m = task // M, task % M
        xs, gs, hs = x[b, m], g[b, m0 + m], h[b, m0 + m]
        k = N - 1 if reverse else 0
        for q in range(Q):  # h[-1] = 0
            hs[k, q] = (one - gs[k, q]) * xs[k, q]
        for _ in range(1, N):
            k += step
            for q in range(Q):
                hs[k, q] = (one - gs[k, q]) * xs[k, q] + gs[k, q] * hs[k - step, q]


@njit(parallel=True, cache=True)
def _forward_rows(x, g, h, m0, reverse):
    """Q == 1: each sequence is a contiguous row; the state h[k-1] stays in a register."""
    B, M, N = x.shape
    one = x.dtype.type(1)
    step = -1 if reverse else 1
    for task in prange(B * M):
        b, m = task // M, task % M
        xs, gs, hs = x[b, m], g[b, m0 + m], h[b, m0 + m]
        k = N - 1 if reverse else 0
        h_k = (one - gs[k]) * xs[k]  # h[-1] = 0
        hs[k] = h_k
        for _ in range(1, N):
            k += step
            h_k = (one - gs[k]) * xs[k] + gs[k] * h_k
            hs[k] = h_k


@njit(parallel=True, cache=True)
def _backward_cols(t, x, g, h, dx, dg, m0, reverse, accumulate):
    """Q > 1: d runs backwards along the scan, one contiguous row of Q at a time."""
    B, M, N, Q = x.shape
    one = x.dtype.type(1)
    step = -1 if reverse else 1  # the forward scan's direction; here we walk it backwards
    for task in prange(B * M):
        b, m = task // M, task % M
        ts, xs, gs, hs = t[b, m0 + m], x[b, m], g[b, m0 + m], h[b, m0 + m]
        dxs, dgs = dx[b, m], dg[b, m0 + m]
        k = 0 if reverse else N - 1  # the last position of the forward scan
        d = ts[k].copy()  # d[k]; no g[k+1] d[k+1] term at the end
        for i in range(N):
            if i > 0:
                for q in range(Q):
                    d[q] = ts[k, q] + gs[k + step, q] * d[q]
            if i < N - 1:
                for q in range(Q):
                    dgs[k, q] = d[q] * (hs[k - step, q] - xs[k, q])
            else:  # the first position of the forward scan: h[k-1] = 0
                for q in range(Q):
                    dgs[k, q] = -d[q] * xs[k, q]
            if accumulate:
                for q in range(Q):
                    dxs[k, q] += (one - gs[k, q]) * d[q]
            else:
                for q in range(Q):
                    dxs[k, q] = (one - gs[k, q]) * d[q]
            k -= step


@njit(parallel=True, cache=True)
def _backward_rows(t, x, g, h, dx, dg, m0, reverse, accumulate):
    """Q == 1: d runs backwards along each contiguous row, in a register."""
    B, M, N = x.shape
    one, zero = x.dtype.type(1), x.dtype.type(0)
    step = -1 if reverse else 1
    for task in prange(B * M):
        b, m = task // M, task % M
        ts, xs, gs, hs = t[b, m0 + m], x[b, m], g[b, m0 + m], h[b, m0 + m]
        dxs, dgs = dx[b, m], dg[b, m0 + m]
        k = 0 if reverse else N - 1
        d = ts[k]
        for i in range(N):
            if i > 0:
                d = ts[k] + gs[k + step] * d
            h_prev = hs[k - step] if i < N - 1 else zero
            dgs[k] = d * (h_prev - xs[k])
            if accumulate:
                dxs[k] += (one - gs[k]) * d
            else:
                dxs[k] = (one - gs[k]) * d
            k -= step


@njit(parallel=True, cache=True)
def _forward_rows_pair(x, g, h, m0_fwd, m0_rev):
    """Q == 1, a row's forward scan (gates and outputs at rows m0_fwd..) and reverse scan (at rows
    m0_rev..) in one loop: two independent chains the CPU overlaps, and x is read once."""
    B, M, N = x.shape
    one = x.dtype.type(1)
    for task in prange(B * M):
        b, m = task // M, task % M
        xs = x[b, m]
        ga, ha = g[b, m0_fwd + m], h[b, m0_fwd + m]
        gb, hb = g[b, m0_rev + m], h[b, m0_rev + m]
        ha_k = (one - ga[0]) * xs[0]
        hb_k = (one - gb[N - 1]) * xs[N - 1]
        ha[0], hb[N - 1] = ha_k, hb_k
        for i in range(1, N):
            j = N - 1 - i
            ha_k = (one - ga[i]) * xs[i] + ga[i] * ha_k
            hb_k = (one - gb[j]) * xs[j] + gb[j] * hb_k
            ha[i], hb[j] = ha_k, hb_k


@njit(parallel=True, cache=True)
def _backward_rows_pair(t, x, g, h, dx, dg, m0_fwd, m0_rev, accumulate):
    """Q == 1, the adjoints of both scans of a row in one loop; dx receives both contributions."""
    B, M, N = x.shape
    one, zero = x.dtype.type(1), x.dtype.type(0)
    for task in prange(B * M):
        b, m = task // M, task % M
        xs, dxs = x[b, m], dx[b, m]
        ta, ga, ha, dga = t[b, m0_fwd + m], g[b, m0_fwd + m], h[b, m0_fwd + m], dg[b, m0_fwd + m]
        tb, gb, hb, dgb = t[b, m0_rev + m], g[b, m0_rev + m], h[b, m0_rev + m], dg[b, m0_rev + m]
        if not accumulate:
            dxs[:] = zero
        # the forward scan's adjoint runs k = N-1 .. 0, the reverse scan's k = 0 .. N-1
        da, db = ta[N - 1], tb[0]
        for i in range(N):
            ka, kb = N - 1 - i, i
            if i > 0:
                da = ta[ka] + ga[ka + 1] * da
                db = tb[kb] + gb[kb - 1] * db
            ha_prev = ha[ka - 1] if i < N - 1 else zero
            hb_prev = hb[kb + 1] if i < N - 1 else zero
            dga[ka] = da * (ha_prev - xs[ka])
            dgb[kb] = db * (hb_prev - xs[kb])
            dxs[ka] += (one - ga[ka]) * da
            dxs[kb] += (one - gb[kb]) * db


def scan_forward(x, g, h, m0: int, reverse: bool) -> None:
    """Write the scan of ``x`` (B, M, N, Q) with gates ``g`` into ``h`` (rows from ``m0``)."""
    if x.numel() == 0:  # the kernels read position 0 unconditionally
        return
    if x.shape[3] == 1:
        _forward_rows(x.numpy()[..., 0], g.numpy()[..., 0], h.numpy()[..., 0], m0, reverse)
    else:
        _forward_cols(x.numpy(), g.numpy(), h.numpy(), m0, reverse)


def scan_backward(t, x, g, h, dx, dg, m0: int, reverse: bool, accumulate: bool) -> None:
    """Reverse scan of the adjoint recursion; writes ``dg`` and writes (or adds to) ``dx``."""
    if x.numel() == 0:
        return
    args = [a.numpy() for a in (t, x, g, h, dx, dg)]
    if x.shape[3] == 1:
        _backward_rows(*[a[..., 0] for a in args], m0, reverse, accumulate)
    else:
        _backward_cols(*args, m0, reverse, accumulate)


def scan_forward_pair(x, g, h, m0_fwd: int, m0_rev: int) -> None:
    """Both scans of an axis: forward with rows m0_fwd.. of g and h, reverse with rows m0_rev.."""
    if x.numel() == 0:
        return
    if x.shape[3] == 1:
        _forward_rows_pair(x.numpy()[..., 0], g.numpy()[..., 0], h.numpy()[..., 0], m0_fwd, m0_rev)
    else:  # along columns one direction at a time reads memory better
        scan_forward(x, g, h, m0_fwd, False)
        scan_forward(x, g, h, m0_rev, True)


def scan_backward_pair(t, x, g, h, dx, dg, m0_fwd: int, m0_rev: int, accumulate: bool) -> None:
    """Adjoints of both scans of an axis; dx gets (or, with accumulate, adds) both contributions."""
    if x.numel() == 0:
        return
    if x.shape[3] == 1:
        args = [a.numpy()[..., 0] for a in (t, x, g, h, dx, dg)]
        _backward_rows_pair(*args, m0_fwd, m0_rev, accumulate)
    else:
        scan_backward(t, x, g, h, dx, dg, m0_fwd, False, accumulate)
        scan_backward(t, x, g, h, dx, dg, m0_rev, True, True)
