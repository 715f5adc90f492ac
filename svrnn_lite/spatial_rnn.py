"""The four-direction spatially variant RNN: four recursive filters over an image, concatenated.

Explained in chapter *The four-direction spatially variant RNN*. For a feature map ``x`` of shape
(B, C, H, W) and gates ``g`` of shape (B, 4C, H, W) (predicted per pixel by a CNN), direction ``d``
scans ``x`` with the gates ``g[:, d*C:(d+1)*C]``::

    d = 0  left -> right   (along W)
    d = 1  right -> left   (along W, reversed)
    d = 2  top -> bottom   (along H)
    d = 3  bottom -> top   (along H, reversed)

and the four results are concatenated into (B, 4C, H, W), in that order. :func:`spatial_rnn`
computes it with the recursive filter of the previous chapter (its autograd Function, given the
four directions at once); :class:`SpatialRNN` is the same as a module.
"""

from __future__ import annotations

import torch
from torch import nn

from svrnn_lite.recursive import _check, _RecursiveFilter, recursive_filter_reference

__all__ = ["DIRECTIONS", "HALF_PRECISION", "SpatialRNN", "spatial_rnn"]

#: (name, axis of a (B, C, H, W) tensor, reverse) of each direction, in the order of the gates.
DIRECTIONS = (
    ("left->right", -1, False),
    ("right->left", -1, True),
    ("top->bottom", -2, False),
    ("bottom->top", -2, True),
)

#: The dtypes :func:`spatial_rnn` converts to float32 before it scans.
HALF_PRECISION = (torch.float16, torch.bfloat16)


def spatial_rnn(x: torch.Tensor, g: torch.Tensor, reference: bool = False) -> torch.Tensor:
    """Scan ``x`` in the four :data:`DIRECTIONS` with per-pixel gates; concatenate the results.

    Block ``d`` of the output is ``recursive_filter(x, g[:, d*C:(d+1)*C], dim, reverse)`` for the
    ``(dim, reverse)`` of direction ``d``.

    Parameters
    ----------
    x : torch.Tensor
        Features, shape (B, C, H, W), float32 or float64.
    g : torch.Tensor
        Gates, shape (B, 4C, H, W), same dtype and device as ``x``: C channels per direction;
        values in (-1, 1) keep the filters stable.
    reference : bool, default False
        Use the plain-loop :func:`~svrnn_lite.recursive.recursive_filter_reference` (slow; for
        teaching and testing) instead of the scan kernels.

    Returns
    -------
    torch.Tensor
        Shape (B, 4C, H, W): the four directions' outputs along channels, in order.
        Half-precision inputs, as autocast makes them (``train --amp``), are scanned in float32
        all the same: the output is then float32, exactly the scan of the inputs converted to
        float32.

    Examples
    --------
    >>> x = torch.zeros(1, 1, 1, 4)
    >>> x[..., 0] = 1.0
    >>> spatial_rnn(x, torch.full((1, 4, 1, 4), 0.5))[0, :, 0]
    tensor([[0.5000, 0.2500, 0.1250, 0.0625],
            [0.5000, 0.0000, 0.0000, 0.0000],
            [0.5000, 0.0000, 0.0000, 0.0000],
            [0.5000, 0.0000, 0.0000, 0.0000]])
    """
    if any(isinstance(t, torch.Tensor) and t.dtype in HALF_PRECISION for t in (x, g)):
        with torch.autocast(x.device.type, enabled=False):
            return spatial_rnn(x.float(), g.float(), reference)
    _check(x, g, None)
    if reference:  # the definition: four recursive filters, concatenated
        gates = g.split(x.shape[1], dim=1)
        outs = [
            recursive_filter_reference(x, g_d, dim, reverse)
            for g_d, (_, dim, reverse) in zip(gates, DIRECTIONS, strict=True)
        ]
        return torch.cat(outs, dim=1)
    # the same maths, four scans written straight into one output (no split, no cat)
    return _RecursiveFilter.apply(x, g, tuple((dim, reverse) for _, dim, reverse in DIRECTIONS))


class SpatialRNN(nn.Module):
    """Four-direction spatially variant RNN (no parameters: the gates are an input).

    The module form of :func:`spatial_rnn`.

    Parameters
    ----------
    reference : bool, default False
        Use the plain-loop :func:`~svrnn_lite.recursive.recursive_filter_reference` instead of the
        scan kernels (slow; for teaching and testing).

    Examples
    --------
    >>> rnn = SpatialRNN()
    >>> x = torch.rand(2, 3, 5, 7)
    >>> g = torch.rand(2, 12, 5, 7) * 2 - 1
    >>> rnn(x, g).shape
    torch.Size([2, 12, 5, 7])
    """

    def __init__(self, reference: bool = False) -> None:
        super().__init__()
        self.reference = reference

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Scan ``x`` (B, C, H, W) in four directions with gates ``g`` (B, 4C, H, W).

        Returns the four outputs concatenated along channels, shape (B, 4C, H, W).
        """
        return spatial_rnn(x, g, reference=self.reference)

    def extra_repr(self) -> str:
        return "reference=True" if self.reference else ""
