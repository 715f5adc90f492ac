"""The building blocks of the networks: 3x3 convs, the figure's three arrows, padding, init.

Explained in chapter *The multi-task UNet* (``init_weights`` in chapter *Training*).

Figure 2 of Anisimovskiy et al. (2023) draws its network with three symbols besides the convs:
a down arrow (``down``, 2x2 max-pooling), an up arrow (``up``, bilinear x2 resize) and a circled
plus (``cat``, concatenation on the channel axis). Three poolings need H and W to be multiples
of 8, so every network pads its input (``pad_to_multiple``) and crops its output back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from svrnn_lite.spatial_rnn import HALF_PRECISION

NEGATIVE_SLOPE = 0.1  # LeakyReLU slope of the SVRNN code; the paper does not state its own
MULTIPLE = 8  # three 2x2 poolings: H and W are padded to a multiple of 8


def scaled(channels: int, width: float) -> int:
    """Channel count ``channels`` of the paper scaled by ``width`` (rounded, at least 1).

    Parameters
    ----------
    channels : int
        A channel count of the paper's network (width 1.0).
    width : float
        The multiplier of every channel count.

    Returns
    -------
    int
        ``round(channels * width)``, at least 1.

    Examples
    --------
    >>> scaled(64, 1.0), scaled(64, 0.25), scaled(16, 0.01)
    (64, 16, 1)
    """
    return max(1, round(channels * width))


def conv(c_in: int, c_out: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    """A ``k x k`` convolution with "same" zero padding (the output is ``H/stride x W/stride``).

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    k : int
        Kernel side (odd).
    stride : int
        Stride in both directions.

    Returns
    -------
    torch.nn.Conv2d

    Examples
    --------
    >>> conv(3, 8)(torch.zeros(1, 3, 10, 12)).shape
    torch.Size([1, 8, 10, 12])
    >>> conv(16, 32, k=7, stride=2)(torch.zeros(1, 16, 10, 12)).shape
    torch.Size([1, 32, 5, 6])
    """
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2)


def init_weights(model: nn.Module, negative_slope: float, residual: bool) -> None:
    """He (Kaiming) normal weights for convs followed by LeakyReLU, zero biases.

    With the global residual, the last conv (conv21) starts at zero so the untrained network
    returns its input. The paper does not state its initialisation (SVRNN used Xavier). On a batch
    of synthetic crops, 150 Adam steps of the residual lite model gained +4.0 dB with this,
    +1.4 dB with Xavier and +0.3 dB with PyTorch's default initialisation.

    Parameters
    ----------
    model : torch.nn.Module
        Every ``nn.Conv2d`` in it is initialised, in the order of ``model.modules()``.
    negative_slope : float
        Slope of the LeakyReLU that follows the convs.
    residual : bool
        Zero ``model.conv21``'s weights (it must have one).

    Examples
    --------
    >>> model = nn.Module()
    >>> model.conv1, model.conv21 = conv(3, 4), conv(4, 3)
    >>> init_weights(model, 0.1, residual=True)
    >>> model.conv21.weight.abs().max().item(), model.conv1.bias.abs().max().item()
    (0.0, 0.0)
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, a=negative_slope, nonlinearity="leaky_relu")
            nn.init.zeros_(module.bias)
    if residual:
        nn.init.zeros_(model.conv21.weight)


def down(x: torch.Tensor) -> torch.Tensor:
    """The figure's down arrow: 2x2 max-pooling (H and W even).

    The max of row pairs, then of column pairs: the same values as ``F.max_pool2d(x, 2)``, which
    on CPU also computes argmax indices and was about 4x slower on NCHW tensors here.

    Examples
    --------
    >>> down(torch.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    rows = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
    return torch.maximum(rows[..., 0::2], rows[..., 1::2])


def up(x: torch.Tensor) -> torch.Tensor:
    """The figure's up arrow: bilinear x2 resize (half-pixel centres, as Keras' UpSampling2D).

    Examples
    --------
    >>> up(torch.tensor([[[[0.0, 4.0]]]]))
    tensor([[[[0., 1., 3., 4.],
              [0., 1., 3., 4.]]]])
    """
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def cat(*xs: torch.Tensor) -> torch.Tensor:
    """The figure's circled plus: concatenation along the channel axis.

    Examples
    --------
    >>> cat(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4)).shape
    torch.Size([1, 5, 4, 4])
    """
    return torch.cat(xs, dim=1)


#: oneDNN's convolution with an activation applied as each output is written (what
#: ``torch.compile`` uses on a CPU); None where this torch build lacks it.
_CONV_POINTWISE = getattr(torch.ops.mkldnn, "_convolution_pointwise", None)


class TanhConv2d(nn.Conv2d):
    """A 3x3 conv followed by tanh: conv14, the head that predicts the RNN weights, in (-1, 1).

    The weights are computed in float32 even under autocast. A weight near 1 carries a feature
    far along a scan, and bfloat16 (what ``train --amp`` computes the convolutions in) cannot
    tell 0.999 from 1: near 1 its values are 2^-8 apart. (The shipped lite model's weights all
    stay below 0.9 in magnitude, so for it bfloat16 weights would do as well; a network that
    learns weights near 1, to carry features far, needs float32 ones.)

    When no gradient is wanted on a CPU (deblurring a photo), oneDNN applies the tanh as it writes
    the conv's output: that saves a pass over the largest tensor of the network (conv14 has 16
    times the channels of the RNN features), about 6% of the lite model's time at 720p here. The
    values are the same to rounding.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.

    Examples
    --------
    >>> head = TanhConv2d(4, 8)
    >>> x = torch.rand(1, 4, 8, 8)
    >>> torch.allclose(head(x), torch.tanh(F.conv2d(x, head.weight, head.bias, padding=1)))
    True
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     head(x).dtype
    torch.float32
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in HALF_PRECISION:
            x = x.float()
        with torch.autocast(x.device.type, enabled=False):
            if self._fuses(x):
                return _CONV_POINTWISE(
                    x, self.weight, self.bias, self.padding, self.stride, self.dilation,
                    self.groups, "tanh", [], "",
                )  # fmt: skip
            return super().forward(x).tanh_()  # tanh in place on the fresh conv output

    def _fuses(self, x: torch.Tensor) -> bool:
        """Whether the conv and tanh can run as one oneDNN op: float32 on a CPU and no gradient
        wanted (the op has no backward pass)."""
        wants_grad = torch.is_grad_enabled() and (
            x.requires_grad or self.weight.requires_grad or self.bias.requires_grad
        )
        return (
            _CONV_POINTWISE is not None
            and torch.backends.mkldnn.is_available()
            and x.device.type == "cpu"
            and x.dtype == self.weight.dtype == torch.float32
            and not wants_grad
        )


def pad_to_multiple(x: torch.Tensor, multiple: int = MULTIPLE) -> torch.Tensor:
    """Pad the bottom and right of ``x`` (B, C, H, W) so that H and W are multiples of ``multiple``.

    Reflect padding, so the border looks like image content; when the image is too small to be
    reflected (a pad as large as the side, e.g. a 1x1 or 3x3 image) it falls back to replicate
    padding. Crop the result back with ``y[..., :H, :W]``.

    Examples
    --------
    >>> pad_to_multiple(torch.zeros(1, 3, 37, 53)).shape
    torch.Size([1, 3, 40, 56])
    >>> pad_to_multiple(torch.zeros(1, 3, 1, 1)).shape
    torch.Size([1, 3, 8, 8])
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def fast_layout(x: torch.Tensor) -> torch.Tensor:
    """``x`` in the memory layout the networks run fastest in: channels-last on a CPU.

    With the channels innermost in memory, oneDNN's CPU convolutions of these networks run faster
    than on (B, C, H, W)-contiguous tensors, the narrow ones (conv21 has 3 output channels) several
    times faster, and the RNN scans read that layout in place: ``benchmarks/bench_model.py
    --layouts`` times both side by side (chapter *The multi-task UNet*). The values are the same;
    on other devices ``x`` is returned as it is.

    Examples
    --------
    >>> y = fast_layout(torch.zeros(1, 3, 4, 4))
    >>> y.shape, y.is_contiguous(memory_format=torch.channels_last)
    (torch.Size([1, 3, 4, 4]), True)
    """
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" else x


def check_image(image: torch.Tensor) -> None:
    """Refuse anything but a batch of RGB images, shape (B, 3, H, W), with a clear message.

    Examples
    --------
    >>> check_image(torch.zeros(3, 16, 16))
    Traceback (most recent call last):
    ...
    ValueError: image must have shape (B, 3, H, W), got (3, 16, 16)
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must have shape (B, 3, H, W), got {tuple(image.shape)}")
