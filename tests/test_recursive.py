"""Tests of svrnn_lite.recursive: the fast scan against the plain loop, gradients, edge cases."""

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.signal
import torch

from svrnn_lite import _scan_numba, _scan_torch
from svrnn_lite.recursive import (
    recursive_filter,
    recursive_filter_reference,
    scan_backend,
    use_numba,
)

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


@pytest.fixture(params=["numba", "torch"])
def backend(request):
    """Run the test once with the numba kernels and once with the pure-torch fallback."""
    previous = use_numba()
    assert use_numba(request.param == "numba") == (request.param == "numba")
    yield request.param
    use_numba(previous)


def random_pair(shape, dtype, seed, noncontiguous=False):
    """Random x and gates g in (-0.95, 0.95); optionally as non-contiguous views."""
    gen = torch.Generator().manual_seed(seed)
    if noncontiguous:  # every other element of a larger tensor, with its axes reversed
        big = tuple(2 * n for n in reversed(shape))
        every_other = (slice(None, None, 2),) * len(shape)
        x = torch.randn(big, dtype=dtype, generator=gen).permute(*reversed(range(len(shape))))
        g = torch.rand(big, dtype=dtype, generator=gen).permute(*reversed(range(len(shape))))
        x, g = x[every_other], g[every_other] * 1.9 - 0.95
        assert x.shape == shape and (x.numel() == 1 or not x.is_contiguous())
    else:
        x = torch.randn(shape, dtype=dtype, generator=gen)
        g = torch.rand(shape, dtype=dtype, generator=gen) * 1.9 - 0.95
    return x, g


def value_and_grads(fn, x, g, dim, reverse, seed=0):
    x = x.detach().requires_grad_()
    g = g.detach().requires_grad_()
    h = fn(x, g, dim=dim, reverse=reverse)
    t = torch.randn(h.shape, dtype=h.dtype, generator=torch.Generator().manual_seed(seed))
    dx, dg = torch.autograd.grad(h, (x, g), t)
    return h, dx, dg


CASES = [  # (shape, dim): length-1 axes, scans along first, middle and last axis
    ((7,), 0),
    ((1,), 0),
    ((3, 1), 1),
    ((1, 9), 0),
    ((2, 3, 17), -1),
    ((2, 3, 17), 1),
    ((4, 5, 6, 7), 0),
    ((2, 3, 5, 33), -2),
    ((2, 1, 1, 5), 2),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("noncontiguous", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(("shape", "dim"), CASES)
def test_fast_matches_reference(backend, shape, dim, reverse, noncontiguous, dtype):
    x, g = random_pair(shape, dtype, seed=len(shape) + dim, noncontiguous=noncontiguous)
    fast = value_and_grads(recursive_filter, x, g, dim, reverse)
    slow = value_and_grads(recursive_filter_reference, x, g, dim, reverse)
    for a, b, name in zip(fast, slow, ("h", "dL/dx", "dL/dg"), strict=True):
        assert a.shape == b.shape and a.dtype == dtype
        torch.testing.assert_close(a, b, rtol=TOL[dtype], atol=TOL[dtype], msg=name)


def test_reference_is_the_recursion():
    """The loop computes h[k] = (1 - g[k]) x[k] + g[k] h[k-1] written out by hand."""
    x = torch.tensor([2.0, -1.0, 4.0])
    g = torch.tensor([0.5, -0.25, 0.75])
    h0 = (1 - 0.5) * 2.0
    h1 = (1 + 0.25) * -1.0 - 0.25 * h0
    h2 = (1 - 0.75) * 4.0 + 0.75 * h1
    expected = torch.tensor([h0, h1, h2])
    torch.testing.assert_close(recursive_filter_reference(x, g), expected)
    torch.testing.assert_close(recursive_filter(x, g), expected)


@pytest.mark.parametrize(("shape", "dim"), [((5,), 0), ((2, 3, 4), 1), ((3, 4, 2), -1)])
def test_gradcheck(backend, shape, dim):
    for reverse in (False, True):
        x, g = random_pair(shape, torch.float64, seed=3)
        x.requires_grad_()
        g.requires_grad_()
        assert torch.autograd.gradcheck(
            lambda x, g, r=reverse: recursive_filter(x, g, dim=dim, reverse=r), (x, g)
        )


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_reverse_equals_flipping(backend, dim):
    x, g = random_pair((4, 5, 6), torch.float64, seed=dim)
    flipped = recursive_filter(x.flip(dim), g.flip(dim), dim=dim).flip(dim)
    torch.testing.assert_close(recursive_filter(x, g, dim=dim, reverse=True), flipped)


@pytest.mark.parametrize("gain", [-0.9, -0.3, 0.0, 0.5, 0.95])
def test_constant_gate_is_lfilter(backend, gain):
    """With a constant gate the filter is the IIR filter b = [1 - g], a = [1, -g]."""
    x = np.random.default_rng(1).standard_normal((3, 50))
    expected = scipy.signal.lfilter([1 - gain], [1, -gain], x, axis=-1)
    xt = torch.from_numpy(x)
    got = recursive_filter(xt, torch.full_like(xt, gain), dim=-1)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    expected_rev = scipy.signal.lfilter([1 - gain], [1, -gain], x[:, ::-1], axis=-1)[:, ::-1]
    got_rev = recursive_filter(xt, torch.full_like(xt, gain), dim=-1, reverse=True)
    np.testing.assert_allclose(got_rev.numpy(), expected_rev, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("gain", [0.999999, -0.999999])
def test_no_nans_near_the_stability_edge(backend, dtype, gain):
    """|g| < 1 keeps |h| below |1 - g| / (1 - |g|) max|x| (a geometric series), however long."""
    x = torch.randn(2, 3000, dtype=dtype, generator=torch.Generator().manual_seed(0))
    g = torch.full_like(x, gain).requires_grad_()
    x.requires_grad_()
    h = recursive_filter(x, g, dim=1)
    h.sum().backward()
    for t in (h, x.grad, g.grad):
        assert torch.isfinite(t).all()
    bound = abs(1 - gain) / (1 - abs(gain)) * x.abs().max()
    assert h.abs().max() <= bound * (1 + 1e-4)


@pytest.mark.parametrize(("shape", "dim"), [((0,), 0), ((3, 0), 1), ((3, 0), 0), ((0, 4, 2), 1)])
def test_empty_tensors(backend, shape, dim):
    x = torch.zeros(shape, requires_grad=True)
    g = torch.zeros(shape, requires_grad=True)
    h = recursive_filter(x, g, dim=dim)
    h.sum().backward()
    assert h.shape == x.grad.shape == g.grad.shape == shape


def test_output_is_new_contiguous_tensor(backend):
    x, g = random_pair((3, 4, 5), torch.float32, seed=0, noncontiguous=True)
    before = x.clone()
    h = recursive_filter(x, g, dim=1)
    assert h.is_contiguous() and h.shape == x.shape
    torch.testing.assert_close(x, before)  # the input is not modified


def test_backend_dispatch(monkeypatch):
    """CPU tensors use numba when enabled; other devices and use_numba(False) use torch."""
    previous = use_numba()
    try:
        assert use_numba(True) and scan_backend(torch.zeros(1)) is _scan_numba
        assert scan_backend(torch.zeros(1, device="meta")) is _scan_torch
        assert not use_numba(False) and scan_backend(torch.zeros(1)) is _scan_torch

        def fail(*args):
            raise AssertionError("numba kernel called although switched off")

        for name in ("forward", "backward", "forward_pair", "backward_pair"):
            monkeypatch.setattr(_scan_numba, name, fail)
        x = torch.rand(2, 5, requires_grad=True)
        recursive_filter(x, torch.zeros(2, 5)).sum().backward()
        torch.testing.assert_close(x.grad, torch.ones(2, 5))  # g = 0: h = x
    finally:
        use_numba(previous)


def test_environment_variable_forces_torch_fallback():
    env = {**os.environ, "SVRNN_LITE_NO_NUMBA": "1"}
    code = "from svrnn_lite.recursive import use_numba; print(use_numba())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("fn", [recursive_filter, recursive_filter_reference])
def test_bad_input_raises_clear_errors(fn):
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"same shape, got x \(2, 3\) and g \(3, 2\)"):
        fn(x, torch.zeros(3, 2))
    with pytest.raises(TypeError, match="x must be float32 or float64, got torch.int64"):
        fn(torch.zeros(2, 3, dtype=torch.int64), x)
    with pytest.raises(TypeError, match="same dtype"):
        fn(x, x.double())
    with pytest.raises(TypeError, match="g must be a torch.Tensor, got ndarray"):
        fn(x, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"dim must be in \[-2, 1\] for a 2-d x, got 2"):
        fn(x, x, dim=2)
    with pytest.raises(ValueError, match="at least one dimension"):
        fn(torch.tensor(1.0), torch.tensor(0.5))


def linear_recurrence_loop(a, b, reverse):
    """y[k] = a[k] y[k-1] + b[k], y[-1] = 0, along axis 2, one position at a time."""
    n = b.shape[2]
    y, prev = torch.empty_like(b), torch.zeros_like(b[:, :, 0])
    for k in range(n - 1, -1, -1) if reverse else range(n):
        prev = a[:, :, k] * prev + b[:, :, k]
        y[:, :, k] = prev
    return y


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 13, 64, 100])
def test_linear_scan_is_the_recursion(n, reverse):
    """The log-depth scan of the torch back end solves the recurrence for any length, with
    coefficients of either sign, exact zeros among them (no division by their products)."""
    gen = torch.Generator().manual_seed(n)
    a = torch.rand(2, 3, n, 4, dtype=torch.float64, generator=gen) * 1.9 - 0.95
    a[:, :, ::4] = 0.0
    b = torch.randn(2, 3, n, 4, dtype=torch.float64, generator=gen)
    expected = linear_recurrence_loop(a, b, reverse)
    got = _scan_torch.linear_scan(a.clone(), b.clone(), reverse)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_torch_scan_is_as_accurate_as_the_loop_on_long_sequences(reverse):
    """In float32, over 2000 positions with gates up to 0.999 (long memory), exact zeros and
    negative gates, the vectorised scan and the compiled loop are both close to the float64
    reference, values and gradients, and the scan's error is at most a few times the loop's
    (measured: 0.8 to 1.8 times)."""
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(3, 2000, generator=gen)
    g = torch.rand(3, 2000, generator=gen) * 1.998 - 0.999
    g[:, ::50] = 0.0
    g[1] = g[1].abs()  # one row of positive gates only: the longest memory
    t = torch.randn(3, 2000, dtype=torch.float64, generator=gen)  # gradient reaching h

    def value_and_grads_for_t(fn, x, g):
        x, g = x.detach().requires_grad_(), g.detach().requires_grad_()
        h = fn(x, g, dim=-1, reverse=reverse)
        return (h, *torch.autograd.grad(h, (x, g), t.to(h.dtype)))

    exact = value_and_grads_for_t(recursive_filter_reference, x.double(), g.double())
    errors = {}
    previous = use_numba()
    try:
        for name in ("numba", "torch"):
            use_numba(name == "numba")
            got = value_and_grads_for_t(recursive_filter, x, g)
            errors[name] = [
                (a.double() - b).abs().max().item() for a, b in zip(got, exact, strict=True)
            ]
    finally:
        use_numba(previous)
    scale = [b.abs().max().item() for b in exact]
    for what, err_torch, err_loop, s in zip(
        ("h", "dL/dx", "dL/dg"), errors["torch"], errors["numba"], scale, strict=True
    ):
        assert err_torch <= 2e-6 * s, (what, err_torch, s)
        assert err_torch <= 4 * err_loop + 1e-7 * s, (what, err_torch, err_loop)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_scan_matches_numba_on_feature_maps(dtype):
    """Both back ends on a (B, C, H, W)-sized input, along each axis, both ways."""
    x, g = random_pair((2, 8, 24, 40), dtype, seed=4)
    previous = use_numba()
    try:
        for dim in range(4):
            for reverse in (False, True):
                results = []
                for numba in (True, False):
                    use_numba(numba)
                    results.append(value_and_grads(recursive_filter, x, g, dim, reverse))
                for a, b, name in zip(*results, ("h", "dL/dx", "dL/dg"), strict=True):
                    torch.testing.assert_close(
                        a, b, rtol=TOL[dtype], atol=TOL[dtype], msg=f"{name} {dim} {reverse}"
                    )
    finally:
        use_numba(previous)


def test_torch_scan_runs_off_the_cpu():
    """A tensor on another device (here 'meta': shapes without data, standing in for a GPU)
    goes through the torch scan, forward and backward, although numba is on."""
    previous = use_numba()
    assert use_numba(True)
    try:
        x = torch.zeros(3, 5, 7, device="meta", requires_grad=True)
        g = torch.zeros(3, 5, 7, device="meta", requires_grad=True)
        for dim, reverse in ((0, False), (1, True), (2, False)):
            h = recursive_filter(x, g, dim=dim, reverse=reverse)
            dx, dg = torch.autograd.grad(h.sum(), (x, g))
            assert h.device.type == dx.device.type == dg.device.type == "meta"
            assert h.shape == dx.shape == dg.shape == x.shape
    finally:
        use_numba(previous)
