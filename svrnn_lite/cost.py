"""What a network costs: parameters, and the shape and FLOPs of every conv and RNN block.

Explained in chapter *The multi-task UNet*.

``layer_table`` reads a network back layer by layer with forward hooks: each conv's and each
RNN block's input and output shape, parameters and floating-point operations on an image of a
given size. ``flops_per_image`` is its total (convs and scans), ``count_parameters`` the number
of trainable weights.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import torch
from torch import nn

from svrnn_lite.layers import MULTIPLE
from svrnn_lite.spatial_rnn import SpatialRNN

SCAN_FLOPS_PER_ELEMENT = 4  # h = (1 - g) * x + g * h_prev: two multiply-adds per output element
PROBE_SIZE = 32  # side of the small zero image the layer table is measured on


@dataclass(frozen=True)
class LayerStats:
    """One row of ``layer_table``: a conv or an RNN block of a model at a given image size.

    Attributes
    ----------
    name : str
        The layer's name in the model ("conv14", "rnn1", ...).
    kind : str
        "conv" or "rnn".
    in_shape, out_shape : tuple of int
        (C, H, W) of the (first) input and of the output.
    params : int
        The layer's parameters.
    flops : int
        Floating-point operations: 2 x multiply-adds (conv bias adds not counted).
    """

    name: str
    kind: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    params: int
    flops: int


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``.

    Examples
    --------
    >>> from svrnn_lite.models import build_model
    >>> count_parameters(build_model("paper"))
    9195875
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def layer_table(model: nn.Module, height: int = 720, width: int = 1280) -> list[LayerStats]:
    """Shape, parameters and FLOPs of every conv and RNN block of ``model`` at ``height x width``.

    The model runs once on a small zero image with forward hooks on its ``nn.Conv2d`` and
    ``SpatialRNN`` modules; every layer's resolution is a fixed fraction of the padded input
    (1, 1/2, 1/4, 1/8), so the shapes are then rescaled to the padded ``height x width``
    (a multiple of 8, as the model pads it). A conv costs 2 x C_in x k_h x k_w FLOP per output
    element, a scan ``SCAN_FLOPS_PER_ELEMENT``.

    Parameters
    ----------
    model : torch.nn.Module
        A network of :mod:`svrnn_lite.models` (any module with parameters that takes a
        (B, 3, H, W) image).
    height, width : int
        The image size to count for.

    Returns
    -------
    list of LayerStats
        One row per conv and RNN block, in the order the forward pass runs them.

    Raises
    ------
    ValueError
        If ``height`` or ``width`` is not a positive whole number.

    Examples
    --------
    >>> from svrnn_lite.models import build_model
    >>> rows = layer_table(build_model("paper"), 720, 1280)
    >>> rows[13].name, rows[13].out_shape
    ('conv14', (512, 360, 640))
    >>> round(rows[13].flops / 1e9, 1)
    543.6
    """
    try:
        height, width = operator.index(height), operator.index(width)
    except TypeError:
        raise ValueError(
            f"height and width must be whole numbers, got {height!r} x {width!r}"
        ) from None
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be positive, got {height} x {width}")
    padded_h, padded_w = -(-height // MULTIPLE) * MULTIPLE, -(-width // MULTIPLE) * MULTIPLE
    probe = PROBE_SIZE

    def rescale(shape: torch.Size) -> tuple[int, int, int]:
        c, h, w = shape[1:]
        return (c, h * padded_h // probe, w * padded_w // probe)

    rows: list[LayerStats] = []

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        name = names[module]
        in_shape, out_shape = rescale(inputs[0].shape), rescale(output.shape)
        elements = math.prod(out_shape)
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            per_element = 2 * (module.in_channels // module.groups) * kh * kw
            kind, params = "conv", sum(p.numel() for p in module.parameters())
        else:
            kind, params, per_element = "rnn", 0, SCAN_FLOPS_PER_ELEMENT
        rows.append(LayerStats(name, kind, in_shape, out_shape, params, elements * per_element))

    names = {m: n for n, m in model.named_modules() if isinstance(m, nn.Conv2d | SpatialRNN)}
    handles = [m.register_forward_hook(hook) for m in names]
    try:
        with torch.inference_mode():
            p = next(model.parameters())
            model(torch.zeros(1, 3, probe, probe, dtype=p.dtype, device=p.device))
    finally:
        for handle in handles:
            handle.remove()
    return rows


def flops_per_image(model: nn.Module, height: int = 720, width: int = 1280) -> int:
    """FLOPs of one ``height x width`` image: 2 x MACs of every conv plus the RNN scans.

    The sum of ``layer_table``'s ``flops``.

    Examples
    --------
    >>> from svrnn_lite.models import build_model
    >>> round(flops_per_image(build_model("paper"), 720, 1280) / 1e9)
    1490
    """
    return sum(row.flops for row in layer_table(model, height, width))
