"""The networks of the book: the paper's multi-task UNet with its RNN cascade, and ablation arms.

Explained in chapter *The multi-task UNet*.

``MultiTaskSVRNN`` is Figure 2 of Anisimovskiy et al. (2023) layer by layer: one UNet-like CNN
(conv1 ... conv13) ends in two heads, conv14 (tanh) giving the per-pixel weights of four spatially
variant RNNs and conv15 (linear) giving the features they filter; each RNN is followed by a 3x3
conv (conv16 ... conv19) and two 3x3 convs (conv20, conv21) make the image. All convs are 3x3;
the figure's arrows and padding are in :mod:`svrnn_lite.layers`.

The two other arms of the ablation:

- ``SVRNNBaseline``: Zhang et al. (2018), where a separate shallow CNN (11x11, then 7x7 stride 2)
  makes the RNN features and the UNet only makes weights; its decoder uses 9x9 and 5x5 convs.
- ``PlainUNet``: the multi-task UNet with the RNN cascade (and conv14, which only feeds it) removed.

All three share ``Network``: the UNet (conv1 ... conv13, written once: ``add_unet``, ``unet``),
the LeakyReLU, the cropping and the ``ModelConfig`` they are built from (``build_model``).
``width`` multiplies every channel count (1.0 is the paper); conv14 always has 4 blocks x 4
directions x feature channels, so the RNN weight slices always fit. Checkpoints are in
:mod:`svrnn_lite.checkpoint`, parameter and FLOP counts in :mod:`svrnn_lite.cost`.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from svrnn_lite.layers import (
    NEGATIVE_SLOPE,
    TanhConv2d,
    cat,
    check_image,
    conv,
    down,
    fast_layout,
    init_weights,
    pad_to_multiple,
    scaled,
    up,
)
from svrnn_lite.model_config import ModelConfig
from svrnn_lite.spatial_rnn import SpatialRNN

N_BLOCKS = 4  # RNN blocks in the cascade
N_DIRECTIONS = 4  # left->right, right->left, top->bottom, bottom->top


class Network(nn.Module):
    """What the three networks share: config, channel counts, the UNet, activation, padding.

    A subclass sets ``arch`` (its name in ``ModelConfig``) and builds its layers in
    ``__init__`` after ``super().__init__(...)``; its ``forward`` pads the image, runs ``unet``
    and its own layers, and returns ``self.output(last, image)``.

    Parameters
    ----------
    width : float
        Multiplier of every channel count (1.0 = the paper).
    residual : bool
        Add the input image to the output (a global residual; the paper has none).
    negative_slope : float
        Slope of the LeakyReLUs.

    Attributes
    ----------
    config : ModelConfig
        Built here and only here, from ``arch`` and the arguments.
    channels : dict of int to int
        The paper's channel counts (16, 32, ..., 512) scaled by ``width``.

    Examples
    --------
    >>> conv1, conv13 = build_model("lite").unet(torch.zeros(1, 3, 32, 48))
    >>> tuple(conv1.shape), tuple(conv13.shape)
    ((1, 16, 32, 48), (1, 64, 16, 24))
    """

    arch: ClassVar[str]
    first_skip: ClassVar[str] = "conv6"  # the encoder conv the first decoder conv takes

    def __init__(
        self, width: float = 1.0, *, residual: bool = False, negative_slope: float = NEGATIVE_SLOPE
    ) -> None:
        super().__init__()
        self.config = ModelConfig(self.arch, width, residual, negative_slope)
        self.channels = {n: scaled(n, width) for n in (16, 32, 64, 128, 256, 512)}

    @property
    def residual(self) -> bool:
        """Whether the input image is added to the output (``config.residual``)."""
        return self.config.residual

    @property
    def negative_slope(self) -> float:
        """Slope of the LeakyReLUs (``config.negative_slope``)."""
        return self.config.negative_slope

    def act(self, x: torch.Tensor) -> torch.Tensor:
        """LeakyReLU, in place on a fresh conv output."""
        return F.leaky_relu(x, self.config.negative_slope, inplace=True)

    def add_unet(self) -> None:
        """Give the network conv1 ... conv13, the UNet shared by SVRNN's weight CNN and the paper.

        Encoder: conv1-2 at full resolution, conv3-4 at 1/2, conv5-7 at 1/4, conv8-10 at 1/8;
        decoder: conv11-12 at 1/4 and conv13 at 1/2, each after an upsampling and a skip
        concatenation.
        """
        c = self.channels
        widths = [
            (3, c[64]), (c[64], c[64]),  # conv1, conv2
            (c[64], c[128]), (c[128], c[128]),  # conv3, conv4
            (c[128], c[256]), (c[256], c[256]), (c[256], c[256]),  # conv5 ... conv7
            (c[256], c[512]), (c[512], c[512]), (c[512], c[256]),  # conv8 ... conv10
            (c[256] + c[256], c[128]), (c[128], c[128]),  # conv11, conv12
            (c[128] + c[128], c[256]),  # conv13
        ]  # fmt: skip
        for i, (c_in, c_out) in enumerate(widths, start=1):
            setattr(self, f"conv{i}", conv(c_in, c_out))

    def unet(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """conv1 ... conv13 on the padded image ``x``: returns conv1 and conv13.

        conv1 (full resolution) is the last skip of the image reconstruction; conv13 (half
        resolution) is what the heads read.
        """
        act = self.act
        # encoder
        conv1 = act(self.conv1(x))
        conv2 = act(self.conv2(conv1))
        conv3 = act(self.conv3(down(conv2)))
        conv4 = act(self.conv4(conv3))
        conv5 = act(self.conv5(down(conv4)))
        conv6 = act(self.conv6(conv5))
        conv7 = act(self.conv7(conv6))
        conv8 = act(self.conv8(down(conv7)))
        conv9 = act(self.conv9(conv8))
        conv10 = act(self.conv10(conv9))
        # decoder
        skip = {"conv6": conv6, "conv7": conv7}[self.first_skip]  # Figure 2: conv6
        conv11 = act(self.conv11(cat(up(conv10), skip)))
        conv12 = act(self.conv12(conv11))
        conv13 = act(self.conv13(cat(up(conv12), conv4)))
        return conv1, conv13

    def output(self, last: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """The last conv's output cropped back to the image's size, plus the image if residual;
        a contiguous tensor whatever layout the layers ran in."""
        out = last[..., : image.shape[-2], : image.shape[-1]]
        return (out + image if self.config.residual else out).contiguous()


class MultiTaskSVRNN(Network):
    """The multi-task CNN + spatially variant RNN of Anisimovskiy et al. (2023), Figure 2.

    Parameters
    ----------
    width : float
        Multiplier of every channel count (1.0 = the paper, 9 195 875 parameters).
    residual : bool
        Add the input image to the output (a global residual; the paper has none).
    negative_slope : float
        Slope of the LeakyReLUs.

    Notes
    -----
    Any H, W: the image is padded to a multiple of 8 (``pad_to_multiple``) and the output cropped
    back. Input and output are (B, 3, H, W) images in the range of the training data.

    Examples
    --------
    >>> model = MultiTaskSVRNN(width=0.25)
    >>> model.conv14.out_channels == 4 * 4 * model.conv15.out_channels
    True
    >>> model(torch.rand(1, 3, 37, 53)).shape
    torch.Size([1, 3, 37, 53])
    """

    arch = "multitask"

    def __init__(
        self, width: float = 1.0, *, residual: bool = False, negative_slope: float = NEGATIVE_SLOPE
    ) -> None:
        super().__init__(width, residual=residual, negative_slope=negative_slope)
        c = self.channels
        feat = c[32]  # channels of the RNN features (conv15) and of conv16 ... conv19
        rnn_out = N_DIRECTIONS * feat  # one RNN block concatenates its four directions
        # encoder and decoder (conv1 ... conv13), then the two heads: RNN weights (conv14) and
        # RNN features (conv15)
        self.add_unet()
        self.conv14 = TanhConv2d(c[256], N_BLOCKS * N_DIRECTIONS * feat)
        self.conv15 = conv(c[256], feat)
        # RNN cascade: four spatially variant RNNs, each followed by a 3x3 conv
        self.rnn1, self.rnn2, self.rnn3, self.rnn4 = (SpatialRNN() for _ in range(N_BLOCKS))
        self.conv16 = conv(rnn_out, feat)
        self.conv17 = conv(rnn_out, feat)
        self.conv18 = conv(rnn_out, feat)
        self.conv19 = conv(rnn_out, feat)
        # image reconstruction
        self.conv20 = conv(feat + feat, c[16])
        self.conv21 = conv(c[16] + c[64], 3)
        init_weights(self, negative_slope, residual)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        check_image(image)
        act = self.act
        # encoder and decoder (Network.unet) on the image padded to a multiple of 8, channels-last
        conv1, conv13 = self.unet(fast_layout(pad_to_multiple(image)))
        conv14 = self.conv14(conv13)  # tanh: RNN weights in (-1, 1)
        conv15 = self.conv15(conv13)  # RNN features, linear
        # RNN cascade: block k filters with its own slice of conv14 (4 directions x conv15 channels)
        g1, g2, g3, g4 = conv14.chunk(N_BLOCKS, dim=1)
        conv16 = act(self.conv16(self.rnn1(conv15, g1)))
        conv17 = act(self.conv17(self.rnn2(conv16, g2)))
        conv18 = act(self.conv18(self.rnn3(conv17, g3)))
        conv19 = act(self.conv19(self.rnn4(conv18, g4)))
        # image reconstruction
        conv20 = act(self.conv20(cat(conv19, conv15)))
        conv21 = self.conv21(cat(up(conv20), conv1))  # linear
        return self.output(conv21, image)  # cropped back to H x W (+ image if residual)


class PlainUNet(Network):
    """The multi-task UNet without the RNN cascade: the third arm of the ablation.

    Same layers as ``MultiTaskSVRNN`` minus the four RNNs and conv14 (the RNN weights); conv16 ...
    conv19 become four plain 3x3 convs on conv15's features.

    Parameters
    ----------
    width, residual, negative_slope
        As in ``MultiTaskSVRNN``.

    Examples
    --------
    >>> model = PlainUNet(width=0.25)
    >>> hasattr(model, "conv14"), model.config.arch
    (False, 'plain')
    >>> model(torch.rand(1, 3, 37, 53)).shape
    torch.Size([1, 3, 37, 53])
    """

    arch = "plain"

    def __init__(
        self, width: float = 1.0, *, residual: bool = False, negative_slope: float = NEGATIVE_SLOPE
    ) -> None:
        super().__init__(width, residual=residual, negative_slope=negative_slope)
        c = self.channels
        feat = c[32]
        self.add_unet()
        self.conv15 = conv(c[256], feat)
        self.conv16 = conv(feat, feat)
        self.conv17 = conv(feat, feat)
        self.conv18 = conv(feat, feat)
        self.conv19 = conv(feat, feat)
        self.conv20 = conv(feat + feat, c[16])
        self.conv21 = conv(c[16] + c[64], 3)
        init_weights(self, negative_slope, residual)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        check_image(image)
        act = self.act
        conv1, conv13 = self.unet(fast_layout(pad_to_multiple(image)))
        conv15 = self.conv15(conv13)  # features, linear
        conv16 = act(self.conv16(conv15))
        conv17 = act(self.conv17(conv16))
        conv18 = act(self.conv18(conv17))
        conv19 = act(self.conv19(conv18))
        conv20 = act(self.conv20(cat(conv19, conv15)))
        conv21 = self.conv21(cat(up(conv20), conv1))  # linear
        return self.output(conv21, image)


class SVRNNBaseline(Network):
    """The SVRNN deblurring network of Zhang et al. (2018), the paper's baseline.

    A shallow feature CNN (``feat1``: 11x11 -> 16 channels, LeakyReLU; ``feat2``: 7x7 stride 2 ->
    32 channels, linear) makes the RNN input; a VGG-like UNet (conv1 ... conv14, the same layers as
    the multi-task net but without conv15) makes only the RNN weights. Four RNN blocks with their
    3x3 convs (conv16 ... conv19), then a 9x9 conv to 16 channels (conv20) and a 5x5 conv to the
    image (conv21), with skips from ``feat2`` and ``feat1``. Layer names match ``MultiTaskSVRNN``
    wherever the layers do the same job.

    Parameters
    ----------
    width : float
        Multiplier of every channel count (1.0 = the original).
    residual, negative_slope
        As in ``MultiTaskSVRNN``.

    Notes
    -----
    Following the SVRNN code, the first decoder skip takes the third 256-channel conv (conv7);
    Figure 2 of the multi-task paper takes the second (conv6).

    Examples
    --------
    >>> model = SVRNNBaseline(width=0.25)
    >>> model(torch.rand(1, 3, 37, 53)).shape
    torch.Size([1, 3, 37, 53])
    """

    arch = "baseline"
    first_skip = "conv7"

    def __init__(
        self, width: float = 1.0, *, residual: bool = False, negative_slope: float = NEGATIVE_SLOPE
    ) -> None:
        super().__init__(width, residual=residual, negative_slope=negative_slope)
        c = self.channels
        feat = c[32]
        # feature CNN (shallow, separate)
        self.feat1 = conv(3, c[16], k=11)
        self.feat2 = conv(c[16], feat, k=7, stride=2)
        # weight CNN (VGG-like UNet, conv1 ... conv13)
        self.add_unet()
        self.conv14 = TanhConv2d(c[256], N_BLOCKS * N_DIRECTIONS * feat)
        # RNN cascade
        self.rnn1, self.rnn2, self.rnn3, self.rnn4 = (SpatialRNN() for _ in range(N_BLOCKS))
        self.conv16 = conv(N_DIRECTIONS * feat, feat)
        self.conv17 = conv(N_DIRECTIONS * feat, feat)
        self.conv18 = conv(N_DIRECTIONS * feat, feat)
        self.conv19 = conv(N_DIRECTIONS * feat, feat)
        # decoder
        self.conv20 = conv(feat + feat, c[16], k=9)
        self.conv21 = conv(c[16] + c[16], 3, k=5)
        init_weights(self, negative_slope, residual)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        check_image(image)
        act = self.act
        x = fast_layout(pad_to_multiple(image))
        # feature CNN
        feat1 = act(self.feat1(x))
        feat2 = self.feat2(feat1)  # RNN features at half resolution, linear
        # weight CNN
        _, conv13 = self.unet(x)
        conv14 = self.conv14(conv13)  # tanh: RNN weights in (-1, 1)
        g1, g2, g3, g4 = conv14.chunk(N_BLOCKS, dim=1)
        # RNN cascade
        conv16 = act(self.conv16(self.rnn1(feat2, g1)))
        conv17 = act(self.conv17(self.rnn2(conv16, g2)))
        conv18 = act(self.conv18(self.rnn3(conv17, g3)))
        conv19 = act(self.conv19(self.rnn4(conv18, g4)))
        # decoder
        conv20 = act(self.conv20(cat(conv19, feat2)))
        conv21 = self.conv21(cat(up(conv20), feat1))
        return self.output(conv21, image)


#: The network of each architecture of ``ModelConfig.arch``.
NETWORKS: dict[str, type[Network]] = {
    cls.arch: cls for cls in (MultiTaskSVRNN, SVRNNBaseline, PlainUNet)
}


def build_model(preset: str | ModelConfig = "lite", arch: str = "multitask", **options) -> Network:
    """Build a network by preset name ("paper", "half", "lite") and architecture, or from a config.

    Parameters
    ----------
    preset : str or ModelConfig
        "paper" (width 1.0), "half" (0.5) or "lite" (0.25, the book's CPU default); or a
        ``ModelConfig`` (as stored in a checkpoint) to rebuild exactly that model.
    arch : str
        "multitask" (the paper), "baseline" (SVRNN) or "plain" (no RNN). Not allowed with a
        config, which names its own.
    **options
        ``residual`` and ``negative_slope``, passed to the model. Not allowed with a config.

    Returns
    -------
    Network
        The model; its ``config`` equals the config it was built from.

    Raises
    ------
    ValueError
        If the preset or architecture is unknown, or ``arch``/``options`` come with a config.

    Examples
    --------
    >>> model = build_model("lite")
    >>> model.config.describe()
    "preset 'lite' (arch multitask, width 0.25)"
    >>> build_model("half", arch="baseline").config.width
    0.5
    >>> config = ModelConfig("plain", 0.3, residual=True)
    >>> build_model(config).config == config
    True
    """
    if isinstance(preset, ModelConfig):
        if arch != "multitask" or options:
            raise ValueError("build_model(config) takes no arch or options: the config has them")
        config = preset
    else:
        config = ModelConfig.from_preset(preset, arch, **options)
    return NETWORKS[config.arch](
        config.width, residual=config.residual, negative_slope=config.negative_slope
    )
