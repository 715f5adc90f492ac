"""The four-direction spatially variant RNN: four recursive filters over an image, concatenated.

For a feature map ``x`` of shape (B, C, H, W) and gates ``g`` of shape (B, 4C, H, W) (predicted per
pixel by a CNN), direction ``d`` scans ``x`` with the gates ``g[:, d*C:(d+1)*C]``::

    d = 0  left -> right   (along W)
    d = 1  right -> left   (along W, reversed)
    d = 2  top -> bottom   (along H)
    d = 3  bottom -> top   (along H, reversed)

and the four results are concatenated into (B, 4C, H, W), in that order.

Explained in chapter *The four-direction spatially variant RNN*.
"""

from __future__ import annotations

import torch
from torch import nn

from svrnn_lite.recursive import recursive_filter_reference, scan_backend

__all__ = ["DIRECTIONS", "HALF_PRECISION", "SpatialRNN"]

#: (name, axis of a (B, C, H, W) tensor, reverse) of each direction, in the order of the gates.
DIRECTIONS = (
    ("left->right", -1, False),
    ("right->left", -1, True),
    ("top->bottom", -2, False),
    ("bottom->top", -2, True),
)


#: The dtypes :class:`SpatialRNN` converts to float32 before it scans.
HALF_PRECISION = (torch.float16, torch.bfloat16)


def _scan_views(t: torch.Tensor, axis: int) -> torch.Tensor:
    """A contiguous (B, K, H, W) tensor seen in the (B, M, N, Q) layout of the scan kernels:
    along W it is (B, K*H, W, 1) (rows of pixels), along H it is (B, K, H, W) itself."""
    b, k, h, w = t.shape
    return t.view(b, k * h, w, 1) if axis == -1 else t


class _FourScans(torch.autograd.Function):
    """The four scans written straight into one (B, 4C, H, W) output (no split, no cat).

    Direction d reads gate channels d*C..(d+1)*C and writes the same output channels; in the
    (B, M, N, Q) layout of the kernels that is row ``m0 = d*C*H`` along W and ``m0 = d*C`` along
    H. The two directions of an axis go to the kernels together (``scan_*_pair``).
    """

    @staticmethod
    def forward(ctx, x, g):
        x, g = x.contiguous(), g.contiguous()
        out = torch.empty_like(g)
        kernels = scan_backend(x)
        for axis, m0_fwd, m0_rev in _axes(x):
            xv, gv, ov = (_scan_views(t, axis) for t in (x, g, out))
            kernels.scan_forward_pair(xv, gv, ov, m0_fwd, m0_rev)
        ctx.save_for_backward(x, g, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, g, out = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        dx, dg = torch.empty_like(x), torch.empty_like(g)
        kernels = scan_backend(x)
        for i, (axis, m0_fwd, m0_rev) in enumerate(_axes(x)):
            views = (_scan_views(t, axis) for t in (grad_out, x, g, out, dx, dg))
            kernels.scan_backward_pair(*views, m0_fwd, m0_rev, i > 0)  # dx sums all directions
        return dx, dg


def _axes(x: torch.Tensor) -> list[tuple[int, int, int]]:
    """(axis, first row of its forward direction, of its reverse direction) in the kernels'
    (B, M, N, Q) layout, for the directions 0, 1 (along W) and 2, 3 (along H) of DIRECTIONS:
    C channels are C*H rows of the view along W and C rows along H."""
    c, h = x.shape[1], x.shape[2]
    return [(-1, 0 * c * h, 1 * c * h), (-2, 2 * c, 3 * c)]


def _check_inputs(x: torch.Tensor, g: torch.Tensor) -> int:
    """Validate x (B, C, H, W) and g (B, 4C, H, W); return C."""
    for name, t in (("x", x), ("g", g)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    if x.dtype != g.dtype or x.device != g.device:
        raise TypeError(
            f"x and g must have the same dtype and device, got x {x.dtype} on {x.device} "
            f"and g {g.dtype} on {g.device}"
        )
    if x.ndim != 4:
        raise ValueError(f"x must have shape (B, C, H, W), got {tuple(x.shape)}")
    b, c, h, w = x.shape
    if g.shape != (b, 4 * c, h, w):
        raise ValueError(
            f"g must have shape (B, 4C, H, W) = {(b, 4 * c, h, w)} for x of shape "
            f"{tuple(x.shape)} (C gate channels per direction), got {tuple(g.shape)}"
        )
    return c


class SpatialRNN(nn.Module):
    """Four-direction spatially variant RNN (no parameters: the gates are an input).

    Parameters
    ----------
    reference : bool, default False
        Use the plain-loop :func:`~svrnn_lite.recursive.recursive_filter_reference` instead of the
        compiled scan (slow; for teaching and testing).

    Examples
    --------
    >>> rnn = SpatialRNN()
    >>> x = torch.rand(2, 3, 5, 7)
    >>> g = torch.rand(2, 12, 5, 7) * 2 - 1
    >>> rnn(x, g).shape
    torch.Size([2, 12, 5, 7])

    Explained in chapter *The four-direction spatially variant RNN*.
    """

    def __init__(self, reference: bool = False) -> None:
        super().__init__()
        self.reference = reference

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Scan ``x`` (B, C, H, W) in four directions with gates ``g`` (B, 4C, H, W).

        Returns the four outputs concatenated along channels, shape (B, 4C, H, W). Half-precision
        inputs, as autocast makes them (``train --amp``), are scanned in float32 all the same:
        the output is then float32, exactly the scan of the inputs converted to float32.
        """
        if x.dtype in HALF_PRECISION or g.dtype in HALF_PRECISION:
            with torch.autocast(x.device.type, enabled=False):
                return self.forward(x.float(), g.float())
        c = _check_inputs(x, g)
        if self.reference:  # the definition: four recursive filters, concatenated
            gates = g.split(c, dim=1)
            outs = [
                recursive_filter_reference(x, g_d, dim, reverse)
                for g_d, (_, dim, reverse) in zip(gates, DIRECTIONS, strict=True)
            ]
            return torch.cat(outs, dim=1)
        return _FourScans.apply(x, g)  # the same maths, compiled, without split and cat

    def extra_repr(self) -> str:
        return "reference=True" if self.reference else ""
