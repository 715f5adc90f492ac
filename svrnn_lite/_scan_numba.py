"""Compiled scan kernels (numba), the CPU back end of :func:`svrnn_lite.recursive.recursive_filter`.

Explained in chapter *The first-order recursive filter*. The kernels take CPU torch tensors
(``_on_tensors`` hands numba their numpy views, no copy) of shape (B, M, N, Q), C-contiguous or
strided views of a channels-last tensor (Q the channels, innermost in memory):
the scan runs along N, M and Q index independent sequences. ``x`` and ``dx`` have M rows; ``g``,
``h``, ``t`` and ``dg`` may have more and are read/written at rows ``m0 .. m0 + M`` (so the four
directions of ``spatial_rnn`` work in place on their slices of one (B, 4C, H, W) gate and output
tensor, without copies)::

    forward:   h[k] = (1 - g[k]) x[k] + g[k] h[k-1],    h[-1] = 0
    backward:  d[k] = t[k] + g[k+1] d[k+1],
               dx[k] (+)= (1 - g[k]) d[k],    dg[k] = d[k] (h[k-1] - x[k])

("k-1" and "k+1" are the previous and next positions in scan order, reversed when ``reverse``.)

Two loop orders keep memory access sequential, one in each branch of :func:`forward` and
:func:`backward` (the branch sits outside the parallel loop, which keeps the row loop as fast as
a kernel of its own):

- Q == 1 (scanning along the last, contiguous axis): each (b, m) is one contiguous row, scanned
  with the running state in a register;
- Q > 1 (e.g. scanning an image along H, Q = W): for each (b, m), k runs along the scan and the
  inner loop over q runs along a contiguous row of Q, vectorised.

A row scan is one chain of dependent multiply-adds, each waiting for the previous one.
:func:`forward_pair` and :func:`backward_pair` run the forward and the reverse scan of each row in
one loop, two independent chains the CPU overlaps. They are the only fused kernels, kept because
they pay. ``benchmarks/bench_scan.py`` times them against the two single scans they replace, along
W at the training shape (16, 32, 64, 64), float32. Two runs of ``OMP_NUM_THREADS=1
NUMBA_NUM_THREADS=1 bench_scan.py --clock cpu --repeats 20`` on the book's machine (2 cores,
shared with a training run): forward 7.9 ms fused against 13.1 ms for the two single scans
(1.66x) and 8.8 against 16.1 ms (1.82x); backward 16.2 against 23.0 ms and 18.0 against 25.6 ms
(1.42x both times).
Along columns (Q > 1) the inner loop is already vectorised and the two scans run one at a time.
"""

from __future__ import annotations

import functools
import os

import numba
import torch
from numba import njit, prange
from numba.extending import overload

# numba's default OpenMP thread pool and torch's spin-wait against each other on a small machine
# (5 ms per call measured here); the simple "workqueue" pool does not. Set unless the user chose.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


def _on_tensors(kernel):
    """Let a numba kernel take CPU torch tensors: it receives their numpy views (no copy)."""

    @functools.wraps(kernel)
    def call(*args):
        return kernel(*(a.numpy() if isinstance(a, torch.Tensor) else a for a in args))

    return call


def _rows(a):
    """A (B, K, N, 1) array as (B, K, N): rows indexed by one number run faster."""
    return a[:, :, :, 0]


@overload(_rows)
def _rows_typed(a):
    """In compiled code, a contiguous array is reshaped (numba then knows that its rows are
    contiguous); a strided one (a channels-last tensor's view) is indexed."""
    if a.layout == "C":
        return lambda a: a.reshape(a.shape[0], a.shape[1], a.shape[2])
    return lambda a: a[:, :, :, 0]


@_on_tensors
@njit(parallel=True, cache=True)
def forward(x, g, h, m0, reverse):
    """Write the scan of ``x`` with gates ``g`` into rows ``m0 ..`` of ``h``."""
    B, M, N, Q = x.shape
    if x.size == 0:  # the loops read position 0 unconditionally
        return
    one = x.dtype.type(1)
    step = -1 if reverse else 1
    first = N - 1 if reverse else 0
    if Q == 1:  # one contiguous row per (b, m); the state h[k-1] stays in a register
        xr, gr, hr = _rows(x), _rows(g), _rows(h)
        for task in prange(B * M):
            b, m = task // M, task % M
            xs, gs, hs = xr[b, m], gr[b, m0 + m], hr[b, m0 + m]
            k = first
            h_k = (one - gs[k]) * xs[k]  # h[-1] = 0
            hs[k] = h_k
            for _ in range(1, N):
                k += step
                h_k = (one - gs[k]) * xs[k] + gs[k] * h_k
                hs[k] = h_k
    else:  # along k, one contiguous row of Q states at a time
        for task in prange(B * M):
            b, m = task // M, task % M
            xs, gs, hs = x[b, m], g[b, m0 + m], h[b, m0 + m]
            k = first
            for q in range(Q):  # h[-1] = 0
                hs[k, q] = (one - gs[k, q]) * xs[k, q]
            for _ in range(1, N):
                k += step
                for q in range(Q):
                    hs[k, q] = (one - gs[k, q]) * xs[k, q] + gs[k, q] * hs[k - step, q]


@_on_tensors
@njit(parallel=True, cache=True)
def backward(t, x, g, h, dx, dg, m0, reverse, accumulate):
    """Reverse scan of the adjoint recursion; writes ``dg`` and writes (or adds to) ``dx``."""
    B, M, N, Q = x.shape
    if x.size == 0:
        return
    one, zero = x.dtype.type(1), x.dtype.type(0)
    step = -1 if reverse else 1  # the forward scan's direction; here we walk it backwards
    last = 0 if reverse else N - 1  # the last position of the forward scan
    if Q == 1:  # d runs backwards along each contiguous row, in a register
        tr, xr, gr, hr = _rows(t), _rows(x), _rows(g), _rows(h)
        dxr, dgr = _rows(dx), _rows(dg)
        for task in prange(B * M):
            b, m = task // M, task % M
            ts, xs, gs, hs = tr[b, m0 + m], xr[b, m], gr[b, m0 + m], hr[b, m0 + m]
            dxs, dgs = dxr[b, m], dgr[b, m0 + m]
            k = last
            d = ts[k]  # no g[k+1] d[k+1] term at the end
            for i in range(N):
                if i > 0:
                    d = ts[k] + gs[k + step] * d
                h_prev = hs[k - step] if i < N - 1 else zero  # h[-1] = 0
                dgs[k] = d * (h_prev - xs[k])
                if accumulate:
                    dxs[k] += (one - gs[k]) * d
                else:
                    dxs[k] = (one - gs[k]) * d
                k -= step
    else:  # d runs backwards along the scan, one contiguous row of Q at a time
        for task in prange(B * M):
            b, m = task // M, task % M
            ts, xs, gs, hs = t[b, m0 + m], x[b, m], g[b, m0 + m], h[b, m0 + m]
            dxs, dgs = dx[b, m], dg[b, m0 + m]
            k = last
            d = ts[k].copy()
            for i in range(N):
                if i > 0:
                    for q in range(Q):
                        d[q] = ts[k, q] + gs[k + step, q] * d[q]
                if i < N - 1:
                    for q in range(Q):
                        dgs[k, q] = d[q] * (hs[k - step, q] - xs[k, q])
                else:  # the first position of the forward scan: h[-1] = 0
                    for q in range(Q):
                        dgs[k, q] = -d[q] * xs[k, q]
                if accumulate:
                    for q in range(Q):
                        dxs[k, q] += (one - gs[k, q]) * d[q]
                else:
                    for q in range(Q):
                        dxs[k, q] = (one - gs[k, q]) * d[q]
                k -= step


@_on_tensors
@njit(parallel=True, cache=True)
def forward_pair(x, g, h, m0_fwd, m0_rev):
    """Q == 1: each row's forward scan (gates and outputs at rows ``m0_fwd ..``) and reverse scan
    (at rows ``m0_rev ..``) in one loop; x is read once."""
    B, M, N, Q = x.shape
    if Q != 1:
        raise ValueError("forward_pair scans contiguous rows: Q must be 1")
    if x.size == 0:
        return
    one = x.dtype.type(1)
    xr, gr, hr = _rows(x), _rows(g), _rows(h)
    for task in prange(B * M):
        b, m = task // M, task % M
        xs = xr[b, m]
        ga, ha = gr[b, m0_fwd + m], hr[b, m0_fwd + m]
        gb, hb = gr[b, m0_rev + m], hr[b, m0_rev + m]
        ha_k = (one - ga[0]) * xs[0]
        hb_k = (one - gb[N - 1]) * xs[N - 1]
        ha[0], hb[N - 1] = ha_k, hb_k
        for i in range(1, N):
            j = N - 1 - i
            ha_k = (one - ga[i]) * xs[i] + ga[i] * ha_k
            hb_k = (one - gb[j]) * xs[j] + gb[j] * hb_k
            ha[i], hb[j] = ha_k, hb_k


@_on_tensors
@njit(parallel=True, cache=True)
def backward_pair(t, x, g, h, dx, dg, m0_fwd, m0_rev, accumulate):
    """Q == 1: the adjoints of both scans of each row in one loop; dx receives both."""
    B, M, N, Q = x.shape
    if Q != 1:
        raise ValueError("backward_pair scans contiguous rows: Q must be 1")
    if x.size == 0:
        return
    one, zero = x.dtype.type(1), x.dtype.type(0)
    tr, xr, gr, hr, dxr, dgr = _rows(t), _rows(x), _rows(g), _rows(h), _rows(dx), _rows(dg)
    for task in prange(B * M):
        b, m = task // M, task % M
        xs, dxs = xr[b, m], dxr[b, m]
        ma, mb = m0_fwd + m, m0_rev + m
        ta, ga, ha, dga = tr[b, ma], gr[b, ma], hr[b, ma], dgr[b, ma]
        tb, gb, hb, dgb = tr[b, mb], gr[b, mb], hr[b, mb], dgr[b, mb]
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
