"""The networks of the book: the paper's multi-task UNet with its RNN cascade, and ablation arms.

Explained in chapter *The multi-task UNet*.

``MultiTaskSVRNN`` is Figure 2 of Anisimovskiy et al. (2023) layer by layer: one UNet-like CNN
(conv1 ... conv13) ends in two heads, conv14 (tanh) giving the per-pixel weights of four spatially
variant RNNs and conv15 (linear) giving the features they filter; each RNN is followed by a 3x3
conv (conv16 ... conv19) and two 3x3 convs (conv20, conv21) make the image. All convs are 3x3,
``down`` is a 2x2 max-pool, ``up`` a bilinear x2 resize and ``cat`` a concatenation on channels.

The two other arms of the ablation:

- ``SVRNNBaseline``: Zhang et al. (2018), where a separate shallow CNN (11x11, then 7x7 stride 2)
  makes the RNN features and the UNet only makes weights; its decoder uses 9x9 and 5x5 convs.
- ``PlainUNet``: the multi-task UNet with the RNN cascade (and conv14, which only feeds it) removed.

``width`` multiplies every channel count (1.0 is the paper); conv14 always has
4 blocks x 4 directions x conv15 channels, so the RNN weight slices always fit. ``build_model``
names the three presets ("paper", "half", "lite"), and every model carries a ``ModelConfig`` that
``save_checkpoint`` writes next to the weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from svrnn_lite.checkpoint import CheckpointError, atomic_save, safe_load
from svrnn_lite.spatial_rnn import HALF_PRECISION, SpatialRNN

NEGATIVE_SLOPE = 0.1  # LeakyReLU slope of the SVRNN code; the paper does not state its own
MULTIPLE = 8  # three 2x2 poolings: H and W are padded to a multiple of 8
N_BLOCKS = 4  # RNN blocks in the cascade
N_DIRECTIONS = 4  # left->right, right->left, top->bottom, bottom->top
PRESET_WIDTHS = {"paper": 1.0, "half": 0.5, "lite": 0.25}
ARCHS = ("multitask", "baseline", "plain")


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------


def scaled(channels: int, width: float) -> int:
    """Channel count ``channels`` of the paper scaled by ``width`` (rounded, at least 1).

    Explained in chapter *The multi-task UNet*.

    Examples
    --------
    >>> scaled(64, 1.0), scaled(64, 0.25), scaled(16, 0.01)
    (64, 16, 1)
    """
    return max(1, round(channels * width))


def conv(c_in: int, c_out: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    """A ``k x k`` convolution with "same" zero padding (the output is ``H/stride x W/stride``).

    Explained in chapter *The multi-task UNet*.
    """
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2)


def init_weights(model: nn.Module, negative_slope: float, residual: bool) -> None:
    """He (Kaiming) normal weights for convs followed by LeakyReLU, zero biases; with the global
    residual, the last conv (conv21) starts at zero so the untrained network returns its input.

    The paper does not state its initialisation (SVRNN used Xavier). On a batch of synthetic
    crops, 150 Adam steps of the residual lite model gained +4.0 dB with this, +1.4 dB with
    Xavier and +0.3 dB with PyTorch's default initialisation.

    Explained in chapter *Training*.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, a=negative_slope, nonlinearity="leaky_relu")
            nn.init.zeros_(module.bias)
    if residual:
        nn.init.zeros_(model.conv21.weight)


def add_unet_convs(module: nn.Module, c: dict[int, int]) -> None:
    """Give ``module`` conv1 ... conv13, the UNet shared by SVRNN's weight CNN and the paper.

    ``c`` maps the paper's channel counts (64, 128, 256, 512) to the scaled ones. Encoder:
    conv1-2 at full resolution, conv3-4 at 1/2, conv5-7 at 1/4, conv8-10 at 1/8; decoder:
    conv11-12 at 1/4 and conv13 at 1/2, each after an upsampling and a skip concatenation.

    Explained in chapter *The multi-task UNet*.
    """
    widths = [
        (3, c[64]), (c[64], c[64]),  # conv1, conv2
        (c[64], c[128]), (c[128], c[128]),  # conv3, conv4
        (c[128], c[256]), (c[256], c[256]), (c[256], c[256]),  # conv5 ... conv7
        (c[256], c[512]), (c[512], c[512]), (c[512], c[256]),  # conv8 ... conv10
        (c[256] + c[256], c[128]), (c[128], c[128]),  # conv11, conv12
        (c[128] + c[128], c[256]),  # conv13
    ]  # fmt: skip
    for i, (c_in, c_out) in enumerate(widths, start=1):
        setattr(module, f"conv{i}", conv(c_in, c_out))


def down(x: torch.Tensor) -> torch.Tensor:
    """The figure's down arrow: 2x2 max-pooling (H and W even), as the max of row pairs, then of
    column pairs. Same values as ``F.max_pool2d(x, 2)``, which on CPU also computes argmax indices
    and was about 4x slower on NCHW tensors here.

    Explained in chapter *The multi-task UNet*.
    """
    rows = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
    return torch.maximum(rows[..., 0::2], rows[..., 1::2])


def up(x: torch.Tensor) -> torch.Tensor:
    """The figure's up arrow: bilinear x2 resize (half-pixel centres, as Keras' UpSampling2D).

    Explained in chapter *The multi-task UNet*.
    """
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def cat(*xs: torch.Tensor) -> torch.Tensor:
    """The figure's circled plus: concatenation along the channel axis.

    Explained in chapter *The multi-task UNet*.
    """
    return torch.cat(xs, dim=1)


def rnn_weights(head: nn.Conv2d, features: torch.Tensor) -> torch.Tensor:
    """The RNN weights ``tanh(head(features))``, in (-1, 1), in float32 even under autocast.

    A weight near 1 carries a feature far along a scan, and bfloat16 (what ``train --amp``
    computes the convolutions in) cannot tell 0.999 from 1: near 1 its values are 2^-8 apart.
    So this head runs in float32 whatever the autocast setting; without autocast it is plain
    ``head(features).tanh()``. (The shipped lite model's weights all stay below 0.9 in
    magnitude, so for it bfloat16 weights would do as well; a network that learns weights near
    1, to carry features far, needs float32 ones.)

    Examples
    --------
    >>> head = conv(4, 8)
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     rnn_weights(head, torch.rand(1, 4, 8, 8)).dtype
    torch.float32
    """
    if features.dtype in HALF_PRECISION:
        features = features.float()
    with torch.autocast(features.device.type, enabled=False):
        return head(features).tanh_()  # tanh in place on the fresh conv output


def pad_to_multiple(x: torch.Tensor, multiple: int = MULTIPLE) -> torch.Tensor:
    """Pad the bottom and right of ``x`` (B, C, H, W) so that H and W are multiples of ``multiple``.

    Reflect padding, so the border looks like image content; when the image is too small to be
    reflected (a pad as large as the side, e.g. a 1x1 or 3x3 image) it falls back to replicate
    padding. Crop the result back with ``y[..., :H, :W]``.

    Explained in chapter *The multi-task UNet*.

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


def _check_image(image: torch.Tensor) -> None:
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must have shape (B, 3, H, W), got {tuple(image.shape)}")


# --------------------------------------------------------------------------------------------
# configuration: what a model (and so a checkpoint) is
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model; saved inside every checkpoint.

    Attributes
    ----------
    name : str
        Preset name ("paper", "half", "lite") or "width=<w>" for any other width.
    arch : str
        "multitask" (the paper), "baseline" (SVRNN, Zhang et al. 2018) or "plain" (no RNN).
    width : float
        Multiplier of every channel count of the paper (1.0 = the paper).
    residual : bool
        Add the input image to the output (off in the paper).
    negative_slope : float
        Slope of the LeakyReLUs.
    """

    name: str
    arch: str = "multitask"
    width: float = 1.0
    residual: bool = False
    negative_slope: float = NEGATIVE_SLOPE

    def describe(self) -> str:
        """One line naming the preset, e.g. "preset 'lite' (arch multitask, width 0.25)"."""
        extras = ", residual" if self.residual else ""
        if self.negative_slope != NEGATIVE_SLOPE:
            extras += f", LeakyReLU slope {self.negative_slope:g}"
        return f"preset {self.name!r} (arch {self.arch}, width {self.width:g}{extras})"


def preset_name(width: float) -> str:
    """Name of the preset with this width, or "width=<w>" if none has it.

    Explained in chapter *The multi-task UNet*.

    Examples
    --------
    >>> preset_name(0.25), preset_name(0.3)
    ('lite', 'width=0.3')
    """
    for name, w in PRESET_WIDTHS.items():
        if math.isclose(w, width):
            return name
    return f"width={width:g}"


def _check_width(width: float) -> None:
    if not (isinstance(width, int | float) and width > 0):
        raise ValueError(f"width must be a positive number, got {width!r}")


# --------------------------------------------------------------------------------------------
# the paper's network (Figure 2)
# --------------------------------------------------------------------------------------------


class MultiTaskSVRNN(nn.Module):
    """The multi-task CNN + spatially variant RNN of Anisimovskiy et al. (2023), Figure 2.

    Explained in chapter *The multi-task UNet*.

    Parameters
    ----------
    width : float
        Multiplier of every channel count (1.0 = the paper, 9 195 875 parameters).
    rnn : bool
        Keep the RNN cascade. ``False`` removes the four RNNs and conv14 (only the RNN weights
        need it); conv16 ... conv19 then filter conv15's features directly (see ``PlainUNet``).
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

    def __init__(
        self,
        width: float = 1.0,
        *,
        rnn: bool = True,
        residual: bool = False,
        negative_slope: float = NEGATIVE_SLOPE,
    ) -> None:
        super().__init__()
        _check_width(width)
        self.config = ModelConfig(
            preset_name(width), "multitask" if rnn else "plain", width, residual, negative_slope
        )
        self.use_rnn, self.residual, self.negative_slope = rnn, residual, negative_slope
        c = {n: scaled(n, width) for n in (16, 32, 64, 128, 256, 512)}
        feat = c[32]  # channels of the RNN features (conv15) and of conv16 ... conv19
        rnn_out = N_DIRECTIONS * feat  # one RNN block concatenates its four directions
        # encoder and decoder (conv1 ... conv13), then the two heads: RNN weights (conv14) and
        # RNN features (conv15)
        add_unet_convs(self, c)
        if rnn:
            self.conv14 = conv(c[256], N_BLOCKS * N_DIRECTIONS * feat)
        self.conv15 = conv(c[256], feat)
        # RNN cascade: four spatially variant RNNs, each followed by a 3x3 conv
        if rnn:
            self.rnn1, self.rnn2, self.rnn3, self.rnn4 = (SpatialRNN() for _ in range(N_BLOCKS))
        self.conv16 = conv(rnn_out if rnn else feat, feat)
        self.conv17 = conv(rnn_out if rnn else feat, feat)
        self.conv18 = conv(rnn_out if rnn else feat, feat)
        self.conv19 = conv(rnn_out if rnn else feat, feat)
        # image reconstruction
        self.conv20 = conv(feat + feat, c[16])
        self.conv21 = conv(c[16] + c[64], 3)
        init_weights(self, negative_slope, residual)

    def act(self, x: torch.Tensor) -> torch.Tensor:
        """LeakyReLU, in place on a fresh conv output."""
        return F.leaky_relu(x, self.negative_slope, inplace=True)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        _check_image(image)
        h, w = image.shape[-2:]
        x = pad_to_multiple(image)
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
        conv11 = act(self.conv11(cat(up(conv10), conv6)))
        conv12 = act(self.conv12(conv11))
        conv13 = act(self.conv13(cat(up(conv12), conv4)))
        if self.use_rnn:
            conv14 = rnn_weights(self.conv14, conv13)  # tanh: RNN weights in (-1, 1)
        conv15 = self.conv15(conv13)  # RNN features, linear
        # RNN cascade: block k filters with its own slice of conv14 (4 directions x conv15 channels)
        if self.use_rnn:
            g1, g2, g3, g4 = conv14.chunk(N_BLOCKS, dim=1)
            conv16 = act(self.conv16(self.rnn1(conv15, g1)))
            conv17 = act(self.conv17(self.rnn2(conv16, g2)))
            conv18 = act(self.conv18(self.rnn3(conv17, g3)))
            conv19 = act(self.conv19(self.rnn4(conv18, g4)))
        else:
            conv16 = act(self.conv16(conv15))
            conv17 = act(self.conv17(conv16))
            conv18 = act(self.conv18(conv17))
            conv19 = act(self.conv19(conv18))
        # image reconstruction
        conv20 = act(self.conv20(cat(conv19, conv15)))
        conv21 = self.conv21(cat(up(conv20), conv1))  # linear
        out = conv21[..., :h, :w]
        return out + image if self.residual else out


class PlainUNet(MultiTaskSVRNN):
    """The multi-task UNet without the RNN cascade: the third arm of the ablation.

    Same layers as ``MultiTaskSVRNN`` minus the four RNNs and conv14 (the RNN weights); conv16 ...
    conv19 become four plain 3x3 convs on conv15's features.

    Explained in chapter *The multi-task UNet*.

    Examples
    --------
    >>> model = PlainUNet(width=0.25)
    >>> hasattr(model, "conv14"), model.config.arch
    (False, 'plain')
    """

    def __init__(
        self, width: float = 1.0, *, residual: bool = False, negative_slope: float = NEGATIVE_SLOPE
    ) -> None:
        super().__init__(width, rnn=False, residual=residual, negative_slope=negative_slope)


# --------------------------------------------------------------------------------------------
# the baseline: SVRNN of Zhang et al. (2018)
# --------------------------------------------------------------------------------------------


class SVRNNBaseline(nn.Module):
    """The SVRNN deblurring network of Zhang et al. (2018), the paper's baseline.

    A shallow feature CNN (``feat1``: 11x11 -> 16 channels, LeakyReLU; ``feat2``: 7x7 stride 2 ->
    32 channels, linear) makes the RNN input; a VGG-like UNet (conv1 ... conv14, the same layers as
    the multi-task net but without conv15) makes only the RNN weights. Four RNN blocks with their
    3x3 convs (conv16 ... conv19), then a 9x9 conv to 16 channels (conv20) and a 5x5 conv to the
    image (conv21), with skips from ``feat2`` and ``feat1``. Layer names match ``MultiTaskSVRNN``
    wherever the layers do the same job.

    Explained in chapter *The multi-task UNet*.

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

    def __init__(
        self,
        width: float = 1.0,
        *,
        residual: bool = False,
        negative_slope: float = NEGATIVE_SLOPE,
    ) -> None:
        super().__init__()
        _check_width(width)
        self.config = ModelConfig(preset_name(width), "baseline", width, residual, negative_slope)
        self.residual, self.negative_slope = residual, negative_slope
        c = {n: scaled(n, width) for n in (16, 32, 64, 128, 256, 512)}
        feat = c[32]
        # feature CNN (shallow, separate)
        self.feat1 = conv(3, c[16], k=11)
        self.feat2 = conv(c[16], feat, k=7, stride=2)
        # weight CNN (VGG-like UNet, conv1 ... conv13)
        add_unet_convs(self, c)
        self.conv14 = conv(c[256], N_BLOCKS * N_DIRECTIONS * feat)
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

    def act(self, x: torch.Tensor) -> torch.Tensor:
        """LeakyReLU, in place on a fresh conv output."""
        return F.leaky_relu(x, self.negative_slope, inplace=True)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        _check_image(image)
        h, w = image.shape[-2:]
        x = pad_to_multiple(image)
        act = self.act
        # feature CNN
        feat1 = act(self.feat1(x))
        feat2 = self.feat2(feat1)  # RNN features at half resolution, linear
        # weight CNN
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
        conv11 = act(self.conv11(cat(up(conv10), conv7)))
        conv12 = act(self.conv12(conv11))
        conv13 = act(self.conv13(cat(up(conv12), conv4)))
        conv14 = rnn_weights(self.conv14, conv13)
        g1, g2, g3, g4 = conv14.chunk(N_BLOCKS, dim=1)
        # RNN cascade
        conv16 = act(self.conv16(self.rnn1(feat2, g1)))
        conv17 = act(self.conv17(self.rnn2(conv16, g2)))
        conv18 = act(self.conv18(self.rnn3(conv17, g3)))
        conv19 = act(self.conv19(self.rnn4(conv18, g4)))
        # decoder
        conv20 = act(self.conv20(cat(conv19, feat2)))
        conv21 = self.conv21(cat(up(conv20), feat1))
        out = conv21[..., :h, :w]
        return out + image if self.residual else out


# --------------------------------------------------------------------------------------------
# presets and checkpoints
# --------------------------------------------------------------------------------------------


def build_model(preset: str | ModelConfig = "lite", arch: str = "multitask", **kwargs) -> nn.Module:
    """Build a network by preset name ("paper", "half", "lite") and architecture.

    Explained in chapter *The multi-task UNet*.

    Parameters
    ----------
    preset : str or ModelConfig
        "paper" (width 1.0), "half" (0.5) or "lite" (0.25, the book's CPU default); or a
        ``ModelConfig`` (as stored in a checkpoint) to rebuild exactly that model.
    arch : str
        "multitask" (the paper), "baseline" (SVRNN) or "plain" (no RNN). Ignored for a config.
    **kwargs
        ``residual`` and ``negative_slope``, passed to the model. Ignored for a config.

    Returns
    -------
    torch.nn.Module
        The model, with its ``config`` attribute naming the preset.

    Examples
    --------
    >>> model = build_model("lite")
    >>> model.config.describe()
    "preset 'lite' (arch multitask, width 0.25)"
    >>> build_model("half", arch="baseline").config.width
    0.5
    """
    if isinstance(preset, ModelConfig):
        config = preset
    else:
        if preset not in PRESET_WIDTHS:
            raise ValueError(f"preset must be one of {list(PRESET_WIDTHS)}, got {preset!r}")
        config = ModelConfig(preset, arch, PRESET_WIDTHS[preset], **kwargs)
    if config.arch not in ARCHS:
        raise ValueError(f"arch must be one of {list(ARCHS)}, got {config.arch!r}")
    cls = {"multitask": MultiTaskSVRNN, "baseline": SVRNNBaseline, "plain": PlainUNet}[config.arch]
    model = cls(config.width, residual=config.residual, negative_slope=config.negative_slope)
    model.config = config  # keeps the preset's name
    return model


def save_checkpoint(model: nn.Module, path: str | Path, extra: dict | None = None) -> None:
    """Save ``model``'s weights together with its ``ModelConfig`` (and optional ``extra`` data).

    Explained in chapter *The multi-task UNet*.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "lite.pt")
    >>> save_checkpoint(build_model("lite"), path, extra={"epoch": 3})
    >>> load_checkpoint(path).config.name
    'lite'
    """
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise TypeError(f"model must carry a ModelConfig in .config, got {type(config).__name__}")
    checkpoint = {"config": asdict(config), "state_dict": model.state_dict(), "extra": extra or {}}
    atomic_save(checkpoint, path)


def load_checkpoint(path: str | Path, model: nn.Module | None = None) -> nn.Module:
    """Load a checkpoint of ``save_checkpoint``; into ``model`` if given, else into a new model.

    Explained in chapter *The multi-task UNet*.

    Parameters
    ----------
    path : str or Path
        File written by ``save_checkpoint`` (read with ``torch.load(weights_only=True)``).
    model : torch.nn.Module, optional
        Model to load into; it must be the same preset and architecture as the checkpoint.

    Returns
    -------
    torch.nn.Module
        The model with the checkpoint's weights: for a training checkpoint that keeps a moving
        average of the weights (``train --ema``), the average, which is what validation
        scored. The checkpoint's ``extra`` dict is ``torch.load(path, weights_only=True)["extra"]``.

    Raises
    ------
    ValueError
        If ``model`` is not the preset the checkpoint was saved from.
    """
    checkpoint = safe_load(path, required=("config", "state_dict"))
    try:
        saved = ModelConfig(**checkpoint["config"])
    except TypeError as error:
        raise CheckpointError(f"{path} holds an unknown model configuration: {error}") from error
    if model is None:
        model = build_model(saved)
    else:
        config = getattr(model, "config", None)
        if config is None or asdict(config) | {"name": ""} != asdict(saved) | {"name": ""}:
            got = config.describe() if config is not None else type(model).__name__
            raise ValueError(
                f"checkpoint {str(path)!r} holds {saved.describe()} but the model is {got}; "
                f"build the matching model with build_model({saved.name!r}, arch={saved.arch!r}) "
                "or call load_checkpoint(path) without a model"
            )
    try:
        model.load_state_dict(checkpoint.get("ema_state_dict", checkpoint["state_dict"]))
    except RuntimeError as error:  # missing, unexpected or mis-shaped weights
        # torch's message: a header line, then one line per kind of problem; show the first
        details = [line.strip() for line in str(error).strip().splitlines()[1:] if line.strip()]
        detail = details[0] if details else str(error).strip()
        raise CheckpointError(f"{path} does not fit {saved.describe()}: {detail[:200]}") from error
    return model


# --------------------------------------------------------------------------------------------
# counting parameters and FLOPs
# --------------------------------------------------------------------------------------------

SCAN_FLOPS_PER_ELEMENT = 4  # h = (1 - g) * x + g * h_prev: two multiply-adds per output element
PROBE_SIZE = 32  # side of the small zero image the layer table is measured on


@dataclass(frozen=True)
class LayerStats:
    """One row of ``layer_table``: a conv or an RNN block of a model at a given image size."""

    name: str
    kind: str  # "conv" or "rnn"
    in_shape: tuple[int, int, int]  # (C, H, W) of the (first) input
    out_shape: tuple[int, int, int]  # (C, H, W) of the output
    params: int
    flops: int  # 2 x multiply-adds (conv bias adds not counted)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``.

    Explained in chapter *The multi-task UNet*.

    Examples
    --------
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

    Explained in chapter *The multi-task UNet*.

    Examples
    --------
    >>> rows = layer_table(build_model("paper"), 720, 1280)
    >>> rows[13].name, rows[13].out_shape
    ('conv14', (512, 360, 640))
    >>> round(rows[13].flops / 1e9, 1)
    543.6
    """
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


def conv_flops(model: nn.Module, height: int = 720, width: int = 1280) -> int:
    """FLOPs of one ``height x width`` image: 2 x MACs of all convs plus the RNN scans.

    Explained in chapter *The multi-task UNet*.

    Examples
    --------
    >>> round(conv_flops(build_model("paper"), 720, 1280) / 1e9)
    1490
    """
    return sum(row.flops for row in layer_table(model, height, width))
