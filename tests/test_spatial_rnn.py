"""Tests of svrnn_lite.spatial_rnn: direction order, gate slicing, gradients, errors, and the one
scan path it shares with the recursive filter."""

import inspect

import pytest
import torch

from svrnn_lite import SpatialRNN, _scan_numba, _scan_torch, recursive
from svrnn_lite.recursive import recursive_filter, recursive_filter_reference, use_numba
from svrnn_lite.spatial_rnn import DIRECTIONS, spatial_rnn

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


@pytest.fixture(params=["numba", "torch"])
def backend(request):
    """Run the test once with the numba kernels and once with the pure-torch fallback."""
    previous = use_numba()
    use_numba(request.param == "numba")
    yield request.param
    use_numba(previous)


def random_inputs(b, c, h, w, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, h, w, dtype=dtype, generator=gen)
    g = torch.rand(b, 4 * c, h, w, dtype=dtype, generator=gen) * 1.9 - 0.95
    return x, g


def test_has_no_parameters():
    assert list(SpatialRNN().parameters()) == []
    assert list(SpatialRNN(reference=True).parameters()) == []


def test_direction_order_and_gate_slices(backend):
    """Block d of the output is the scan of x with gates g[:, d*C:(d+1)*C] in direction d."""
    x, g = random_inputs(2, 3, 5, 6, torch.float64)
    out = SpatialRNN()(x, g)
    assert out.shape == (2, 12, 5, 6)
    c = 3
    scans = {  # written out independently: flip, filter forwards along the axis, flip back
        "left->right": recursive_filter_reference(x, g[:, 0:c], dim=3),
        "right->left": recursive_filter_reference(x.flip(3), g[:, c : 2 * c].flip(3), 3).flip(3),
        "top->bottom": recursive_filter_reference(x, g[:, 2 * c : 3 * c], dim=2),
        "bottom->top": recursive_filter_reference(x.flip(2), g[:, 3 * c :].flip(2), 2).flip(2),
    }
    assert [name for name, _, _ in DIRECTIONS] == list(scans)
    for d, expected in enumerate(scans.values()):
        torch.testing.assert_close(out[:, d * c : (d + 1) * c], expected)


def test_impulse_travels_in_each_direction(backend):
    """A single bright pixel spreads right, left, down and up in blocks 0, 1, 2, 3."""
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    out = SpatialRNN()(x, torch.full((1, 4, 5, 5), 0.5))
    reached = out[0] != 0
    expected = torch.zeros(4, 5, 5, dtype=torch.bool)
    expected[0, 2, 2:] = True  # left -> right
    expected[1, 2, :3] = True  # right -> left
    expected[2, 2:, 2] = True  # top -> bottom
    expected[3, :3, 2] = True  # bottom -> top
    assert torch.equal(reached, expected)


def test_each_gate_block_changes_only_its_output_block(backend):
    x, g = random_inputs(1, 2, 4, 5)
    rnn = SpatialRNN()
    base = rnn(x, g)
    for d in range(4):
        g2 = g.clone()
        g2[:, 2 * d : 2 * d + 2] = 0.0  # gate 0: the output of direction d is x itself
        out = rnn(x, g2)
        for e in range(4):
            block = slice(2 * e, 2 * e + 2)
            if e == d:
                torch.testing.assert_close(out[:, block], x)
            else:
                torch.testing.assert_close(out[:, block], base[:, block])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 1, 1, 1), (3, 2, 1, 6), (2, 20, 9, 1)])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "conv14_slice", "sliced"])
def test_fast_matches_reference(backend, shape, dtype, layout):
    x, g = random_inputs(*shape, dtype=dtype, seed=sum(shape))
    if layout == "channels_last":
        x, g = (t.to(memory_format=torch.channels_last) for t in (x, g))
    elif layout == "conv14_slice":  # what a channels-last network hands an RNN block
        x = x.to(memory_format=torch.channels_last)
        g = torch.cat([-g, g, g, g], 1).to(memory_format=torch.channels_last).chunk(4, 1)[1]
    elif layout == "sliced":  # gates as a slice of a larger tensor, x transposed twice
        b, c, h, w = shape
        g = torch.cat([g, torch.ones(b, 1, h, w, dtype=dtype)], 1)[:, :-1]
        x = x.transpose(2, 3).contiguous().transpose(2, 3)
    results = []
    for rnn in (SpatialRNN(), SpatialRNN(reference=True)):
        xr, gr = x.detach().requires_grad_(), g.detach().requires_grad_()
        out = rnn(xr, gr)
        t = torch.randn(out.shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
        results.append((out, *torch.autograd.grad(out, (xr, gr), t)))
    for a, b, name in zip(*results, ("out", "dL/dx", "dL/dg"), strict=True):
        torch.testing.assert_close(a, b, rtol=TOL[dtype], atol=TOL[dtype], msg=name)


def test_channels_last_inputs_are_scanned_in_place(backend):
    """Gates with the channels innermost (a slice of a channels-last conv14) are scanned without
    a copy to NCHW: the output is channels-last too, as the next conv wants it."""
    x, g = random_inputs(2, 3, 5, 7)
    x = x.to(memory_format=torch.channels_last)
    gates = torch.cat([g, g], 1).to(memory_format=torch.channels_last).chunk(2, 1)[0]
    out = spatial_rnn(x, gates)
    torch.testing.assert_close(out, spatial_rnn(x.contiguous(), g))
    if backend == "numba":
        assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("shape", [(0, 2, 3, 4), (1, 0, 3, 4), (2, 1, 0, 4), (2, 1, 3, 0)])
def test_empty_inputs(backend, shape):
    b, c, h, w = shape
    x = torch.zeros(shape, requires_grad=True)
    g = torch.zeros(b, 4 * c, h, w, requires_grad=True)
    out = SpatialRNN()(x, g)
    out.sum().backward()
    assert out.shape == g.shape == g.grad.shape and x.grad.shape == shape


def test_gradcheck(backend):
    x, g = random_inputs(2, 2, 3, 4, torch.float64, seed=5)
    x.requires_grad_()
    g.requires_grad_()
    assert torch.autograd.gradcheck(SpatialRNN(), (x, g))


@pytest.mark.parametrize("rnn", [SpatialRNN(), spatial_rnn, SpatialRNN(reference=True)])
def test_bad_input_raises_clear_errors(rnn):
    x = torch.zeros(1, 3, 4, 5)
    msg = r"g must have shape \(B, 4C, H, W\) = \(1, 12, 4, 5\) .* got \(1, 3, 4, 5\)"
    with pytest.raises(ValueError, match=msg):
        rnn(x, torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"got \(1, 12, 4, 6\)"):
        rnn(x, torch.zeros(1, 12, 4, 6))
    with pytest.raises(ValueError, match=r"x must have shape \(B, C, H, W\), got \(3, 4, 5\)"):
        rnn(torch.zeros(3, 4, 5), torch.zeros(12, 4, 5))
    with pytest.raises(TypeError, match="x must be float32 or float64, got torch.int64"):
        rnn(x.long(), torch.zeros(1, 12, 4, 5))
    with pytest.raises(TypeError, match="g must be a torch.Tensor, got list"):
        rnn(x, [0.0])
    with pytest.raises(TypeError, match="same dtype"):
        rnn(x, torch.zeros(1, 12, 4, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="same device, got cpu and meta"):
        rnn(x, torch.zeros(1, 12, 4, 5, device="meta"))


def test_function_and_module_agree(backend):
    x, g = random_inputs(2, 3, 4, 5, torch.float64, seed=2)
    for reference in (False, True):
        torch.testing.assert_close(
            spatial_rnn(x, g, reference=reference), SpatialRNN(reference=reference)(x, g)
        )
    torch.testing.assert_close(spatial_rnn(x, g), spatial_rnn(x, g, reference=True))


def autograd_functions(t: torch.Tensor) -> set[str]:
    """The names of every node in the autograd graph that produced ``t``."""
    seen, todo = {}, [t.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and id(node) not in seen:
            seen[id(node)] = type(node).__name__
            todo.extend(next_node for next_node, _ in node.next_functions)
    return set(seen.values())


def test_filter_and_block_share_one_autograd_function(backend):
    """recursive_filter and spatial_rnn differentiate through the same Function."""
    x, g = random_inputs(1, 2, 3, 4)
    x.requires_grad_()
    block = autograd_functions(spatial_rnn(x, g))
    single = autograd_functions(recursive_filter(x, g[:, :2], dim=-1))
    shared = {name for name in block & single if name.endswith("Backward")}
    assert shared >= {"_RecursiveFilterBackward"}
    assert not any("FourScans" in name for name in block)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_pair_kernels_match_single_scans(monkeypatch, dtype):
    """Along W the numba path runs the fused pair kernels; the single-direction kernels, used
    when fusing is switched off, give the same values and gradients."""
    previous = use_numba()
    assert use_numba(True)
    try:
        calls = []
        for name in ("forward_pair", "backward_pair"):
            kernel = getattr(_scan_numba, name)
            monkeypatch.setattr(
                _scan_numba, name, lambda *a, k=kernel, n=name: (calls.append(n), k(*a))[1]
            )
        x, g = random_inputs(2, 3, 5, 9, dtype, seed=7)
        results = []
        for fused in (True, False):
            if not fused:
                monkeypatch.setattr(recursive, "_fused", lambda *args: False)
            xr, gr = x.clone().requires_grad_(), g.clone().requires_grad_()
            out = spatial_rnn(xr, gr)
            t = torch.randn(out.shape, dtype=dtype, generator=torch.Generator().manual_seed(3))
            results.append((out, *torch.autograd.grad(out, (xr, gr), t)))
            if fused:
                assert calls == ["forward_pair", "backward_pair"]
        assert calls == ["forward_pair", "backward_pair"]  # none with fusing off
        for a, b, name in zip(*results, ("out", "dL/dx", "dL/dg"), strict=True):
            torch.testing.assert_close(a, b, rtol=TOL[dtype], atol=TOL[dtype], msg=name)
    finally:
        use_numba(previous)


@pytest.mark.parametrize("name", ["forward_pair", "backward_pair"])
def test_pair_kernels_only_scan_rows(name):
    x = torch.zeros(1, 2, 3, 2)
    g, h, t, dg = (torch.zeros(1, 4, 3, 2) for _ in range(4))
    args = (x, g, h, 0, 2) if name == "forward_pair" else (t, x, g, h, x.clone(), dg, 0, 2, False)
    with pytest.raises(ValueError, match="Q must be 1"):
        getattr(_scan_numba, name)(*args)


def test_runs_on_any_device():
    """A tensor off the CPU (here on the 'meta' device, which has shapes but no data, as a
    stand-in for a GPU) takes the torch scan even with numba on, forward and backward; the
    numba kernels would fail on it (no numpy view)."""
    previous = use_numba()
    assert use_numba(True)
    try:
        x = torch.zeros(2, 3, 4, 5, device="meta", requires_grad=True)
        g = torch.zeros(2, 12, 4, 5, device="meta", requires_grad=True)
        out = spatial_rnn(x, g)
        out.sum().backward()
        assert out.device.type == x.grad.device.type == g.grad.device.type == "meta"
        assert out.shape == g.grad.shape == g.shape and x.grad.shape == x.shape
    finally:
        use_numba(previous)


def test_module_reaches_the_recursion_in_three_hops():
    """SpatialRNN.forward -> spatial_rnn -> _RecursiveFilter.forward -> kernel with the
    recursion line, for both back ends."""
    hop1 = inspect.getsource(SpatialRNN.forward)
    hop2 = inspect.getsource(spatial_rnn)
    hop3 = inspect.getsource(recursive._RecursiveFilter.forward)
    assert "spatial_rnn(x, g" in hop1
    assert "_RecursiveFilter.apply(x, g" in hop2
    assert "kernels.forward_pair(" in hop3 and "kernels.forward(" in hop3
    assert "gs[k] * h_k" in inspect.getsource(_scan_numba.forward)
    assert "ga[i] * ha_k" in inspect.getsource(_scan_numba.forward_pair)
    assert not hasattr(_scan_torch, "forward_pair")
