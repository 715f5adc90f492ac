"""The paper's Table 1 on this CPU: its peers' architectures timed next to svrnn_lite's presets.

Table 1 of Anisimovskiy et al. (2023) sets the multi-task network against other deblurring
methods by GoPro PSNR/SSIM and CPU seconds per 1280x720 image. The published PSNR/SSIM come from
trained weights we do not have (and do not download), but the run time depends only on the
architecture, so this script re-implements the peers' generators from their papers and official
code, with random weights:

- ``FPNMobileNetV2``: DeblurGAN-v2 with the FPN + MobileNet-v2 backbone (Kupyn et al., 2019);
- ``ResnetGenerator``: DeblurGAN's ResNet-9 generator (Kupyn et al., 2018);
- ``MPRNet``: MPRNet, deblurring configuration (Zamir et al., 2021);
- ``NAFNet``: NAFNet width 32, the GoPro configuration with TLC pooling (Chen et al., 2022);

and times them side by side with svrnn_lite's networks: ``build_model(preset, arch)`` for the
three width presets (paper, half, lite) of the multi-task network, the SVRNN baseline (Zhang et
al. 2018; ``svrnn`` is the paper-width one) and the plain UNet without RNN.

The protocol is that of ``bench_model.py``, whose helpers this script imports: glibc malloc tuned
(``svrnn_lite.runtime.tune_malloc``), every thread of the machine, ``torch.inference_mode``, one
warm-up run, then ``--runs`` timed runs, each paired with a run of a reference conv of the paper
model just before it (a shared CPU can double a run's time; the reference rate tells a disturbed
run from a slow model). The table gives the median and the minimum time, the median reference
rate, and the ratio of each median to the paper preset's median. Each peer pads the image as its
official test code does (DeblurGAN-v2 to a multiple of 32, DeblurGAN 4, MPRNet 8, NAFNet 16; our
models pad to 8 themselves) and crops the output back; the padding is part of the timed call.
In our networks every conv and RNN block is also timed with forward hooks (``layer_times_s``).

Memory layout: svrnn_lite's networks run their layers on channels-last tensors on a CPU (they
convert the image themselves, ``svrnn_lite.layers.fast_layout``), which makes their convs faster.
So that no peer is handicapped by a layout its code does not choose, each peer is timed twice,
as its code runs (NCHW) and with its weights and image in channels-last layout, and keeps the
faster of the two (``layout``; both medians in ``layouts``). The reference conv is channels-last.

"GMAC" is the multiply-adds of all convs at the (padded) image size, counted with forward hooks
on a small probe image and scaled by the area (every layer works at a fixed fraction of it).

``--json FILE`` stores everything: the machine (CPU model, physical cores, vector unit, threads,
torch), the date, the command, the load average before and after, and per method the published
scores, the counts, every run's time and its reference rate. The book quotes every CPU time from
one such file, ``book/chapters/data/peers.json`` (read through ``svrnn_lite.timings``); a file
from a smoke test (not 1280x720 with at least 3 runs) is marked ``"provisional": true``.

Examples::

    # the stored run of the book (about 25 minutes on 2 cores; run it on an otherwise idle machine)
    .venv/bin/python benchmarks/bench_peers.py --json book/chapters/data/peers.json
    .venv/bin/python benchmarks/bench_peers.py --quick                # 128x128, 1 run, < 1 min
    .venv/bin/python benchmarks/bench_peers.py --only nafnet-w32 paper --json peers.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from svrnn_lite.cost import flops_per_image, layer_table
from svrnn_lite.layers import MULTIPLE
from svrnn_lite.models import build_model
from svrnn_lite.runtime import tune_malloc
from svrnn_lite.spatial_rnn import SpatialRNN

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model import ReferenceConv, find_reference_conv, timed

# --------------------------------------------------------------------------------------------
# shared pieces
# --------------------------------------------------------------------------------------------


def pad_to(x: torch.Tensor, multiple: int, mode: str = "constant") -> torch.Tensor:
    """Pad H and W of ``x`` at the bottom and right up to a multiple of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph), mode=mode) if ph or pw else x


class PaddedModel(nn.Module):
    """Base of the peers: pads the image as the official test code does, crops the output back.

    Subclasses set ``multiple`` and ``pad_mode`` and implement ``restore`` on the padded image.
    """

    multiple = 1
    pad_mode = "constant"

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        return self.restore(pad_to(image, self.multiple, self.pad_mode))[..., :h, :w]


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    """``get_norm_layer("instance")`` of DeblurGAN-v2's models/networks.py (no affine params)."""
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=True)


# --------------------------------------------------------------------------------------------
# DeblurGAN-v2, FPN + MobileNet-v2 (Kupyn et al., ICCV 2019)
# --------------------------------------------------------------------------------------------

# MobileNet-v2 (Sandler et al., 2018), Table 2: expansion t, channels c, repeats n, stride s
MOBILENET_V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip


def conv_bn_relu6(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> list:
    return [
        nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU6(inplace=True),
    ]


class InvertedResidual(nn.Module):
    """MobileNet-v2 block: 1x1 expand (skipped for t = 1), 3x3 depthwise, linear 1x1 project."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = round(c_in * expand)
        layers = conv_bn_relu6(c_in, hidden, 1) if expand != 1 else []
        layers += conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden)
        layers += [nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


def mobilenet_v2_features() -> nn.Sequential:
    """The 19 ``features`` of MobileNet-v2 (width 1.0): stem, 17 inverted residuals, 1x1 to 1280.

    The same layers as DeblurGAN-v2's models/mobilenet_v2.py and torchvision's ``mobilenet_v2``
    (without the classifier, which DeblurGAN-v2 drops).
    """
    layers: list[nn.Module] = [nn.Sequential(*conv_bn_relu6(3, 32, 3, 2))]
    c_in = 32
    for t, c, n, s in MOBILENET_V2_STAGES:
        for i in range(n):
            layers.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
            c_in = c
    layers.append(nn.Sequential(*conv_bn_relu6(c_in, 1280, 1)))
    return nn.Sequential(*layers)


def conv_in_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), instance_norm(c_out), nn.ReLU())


class FPNHead(nn.Module):
    """Two bias-free 3x3 convs with ReLU, applied to each FPN level before fusion."""

    def __init__(self, c_in: int, c_mid: int, c_out: int) -> None:
        super().__init__()
        self.block0 = nn.Conv2d(c_in, c_mid, 3, padding=1, bias=False)
        self.block1 = nn.Conv2d(c_mid, c_out, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.block1(F.relu(self.block0(x))))


class FPNMobileNetV2(PaddedModel):
    """DeblurGAN-v2 generator with the FPN + MobileNet-v2 backbone ("fpn_mobilenet").

    Source: Kupyn, Martyniuk, Wu & Wang, "DeblurGAN-v2: Deblurring (Orders-of-Magnitude) Faster
    and Better", ICCV 2019, Sec. 3.1; github.com/VITA-Group/DeblurGANv2, models/fpn_mobilenet.py
    (``FPNMobileNet(norm_layer=instance, num_filters=64, num_filters_fpn=128)``, built by
    models/networks.py ``get_generator`` for ``g_name: fpn_mobilenet``) and
    models/mobilenet_v2.py.

    Bottom-up: MobileNet-v2 ``features[0:2]`` (1/2, 16 ch), ``[2:4]`` (1/4, 24), ``[4:7]`` (1/8,
    32), ``[7:11]`` (1/16, 64), ``[11:16]`` (1/32, 160); 1x1 laterals to 128 channels (64 at
    1/2), top-down path with nearest x2 upsampling and a 3x3 conv + instance norm + ReLU after
    each sum; four ``FPNHead`` s to 64 channels, upsampled to 1/4 and concatenated, then 3x3
    "smooth" convs at 1/4 and (after adding the 1/2 lateral) at 1/2, a final 3x3 conv at full
    size, ``tanh`` + the input, clamped to [-1, 1]. The official test pads to a multiple of 32.

    Parameters: the paper gives 43.75 GFLOPs for this model (its GoPro table) but no parameter
    count, nor does the README. The count stated in ``PEERS`` (3,312,707) is added up by hand
    from the layer list of the official files (see tests/test_bench_peers.py). As in the
    official ``FPN``, all 19 backbone ``features`` are registered (they are in the released
    checkpoint), although ``features[16:19]`` (1,206,080 parameters) are never run.
    """

    multiple = 32

    def __init__(self, num_filters: int = 64, num_filters_fpn: int = 128) -> None:
        super().__init__()
        nf, fpn = num_filters, num_filters_fpn
        self.features = mobilenet_v2_features()
        f = self.features
        self.enc = nn.ModuleList(
            [f[0:2], f[2:4], f[4:7], f[7:11], f[11:16]]  # slices share f's modules
        )
        self.laterals = nn.ModuleList(
            [
                nn.Conv2d(c, fpn if c != 16 else fpn // 2, 1, bias=False)
                for c in (16, 24, 32, 64, 160)
            ]
        )
        self.td = nn.ModuleList([conv_in_relu(fpn, fpn) for _ in range(3)])  # 1/16, 1/8, 1/4
        self.heads = nn.ModuleList([FPNHead(fpn, nf, nf) for _ in range(4)])  # 1/4 ... 1/32
        self.smooth = conv_in_relu(4 * nf, nf)
        self.smooth2 = conv_in_relu(nf, nf // 2)
        self.final = nn.Conv2d(nf // 2, 3, 3, padding=1)

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        encs = []
        y = x
        for enc in self.enc:
            y = enc(y)
            encs.append(y)
        lat = [conv(e) for conv, e in zip(self.laterals, encs, strict=True)]
        maps = [lat[4]]  # top-down, from 1/32 to 1/4
        for td, lateral in zip(self.td, (lat[3], lat[2], lat[1]), strict=True):
            maps.append(td(lateral + F.interpolate(maps[-1], scale_factor=2, mode="nearest")))
        # maps = [1/32, 1/16, 1/8, 1/4]; heads[i] belongs to level 1/4 * 2^-i
        fused = [
            F.interpolate(head(m), scale_factor=2**i, mode="nearest") if i else head(m)
            for i, (head, m) in enumerate(zip(self.heads, maps[::-1], strict=True))
        ]
        smoothed = self.smooth(torch.cat(fused[::-1], dim=1))
        smoothed = F.interpolate(smoothed, scale_factor=2, mode="nearest")
        smoothed = self.smooth2(smoothed + lat[0])
        smoothed = F.interpolate(smoothed, scale_factor=2, mode="nearest")
        return torch.clamp(torch.tanh(self.final(smoothed)) + x, -1, 1)


# --------------------------------------------------------------------------------------------
# DeblurGAN, ResNet-9 generator (Kupyn et al., CVPR 2018)
# --------------------------------------------------------------------------------------------


class ResnetBlock(nn.Module):
    """Reflection pad, 3x3 conv, instance norm, ReLU, dropout 0.5, pad, 3x3 conv, norm; + x."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            nn.InstanceNorm2d(dim),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            nn.InstanceNorm2d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(PaddedModel):
    """DeblurGAN's generator: 7x7 conv, two stride-2 convs, 9 ResBlocks, two transposed convs.

    Source: Kupyn, Budzan, Mykhailych, Mishkin & Matas, "DeblurGAN: Blind Motion Deblurring Using
    Conditional Adversarial Networks", CVPR 2018, Sec. 3.1 and Fig. 3;
    github.com/KupynOrest/DeblurGAN, models/networks.py (``ResnetGenerator`` via ``define_G``
    with the options/base_options.py defaults: ``resnet_9blocks``, ngf 64, instance norm without
    affine parameters, so every conv has a bias; dropout in the blocks; ``--learn_residual``).
    The transposed convs have ``output_padding=1`` as in the later revisions of networks.py,
    without which a 720x1280 image comes back 717x1277 and the residual cannot be added.

    Parameters: neither the paper nor the README states a count; the paper of DeblurGAN-v2 gives
    678.29 GFLOPs. The count in ``PEERS`` (11,378,179) is added up by hand from the layer list.
    """

    multiple = 4

    def __init__(self, ngf: int = 64, n_blocks: int = 9) -> None:
        super().__init__()

        def down(c_in: int, c_out: int) -> list:
            return [nn.Conv2d(c_in, c_out, 3, 2, 1), nn.InstanceNorm2d(c_out), nn.ReLU(True)]

        def up(c_in: int, c_out: int) -> list:
            convt = nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1)
            return [convt, nn.InstanceNorm2d(c_out), nn.ReLU(True)]

        layers = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, ngf, 7),
            nn.InstanceNorm2d(ngf),
            nn.ReLU(True),
        ]
        layers += down(ngf, 2 * ngf) + down(2 * ngf, 4 * ngf)
        layers += [ResnetBlock(4 * ngf) for _ in range(n_blocks)]
        layers += up(4 * ngf, 2 * ngf) + up(2 * ngf, ngf)
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x + self.model(x), -1, 1)


# --------------------------------------------------------------------------------------------
# MPRNet, deblurring configuration (Zamir et al., CVPR 2021)
# --------------------------------------------------------------------------------------------


def conv(c_in: int, c_out: int, k: int = 3, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias)


class ChannelAttention(nn.Module):
    """Global average pool, 1x1 conv down by ``reduction``, ReLU, 1x1 conv up, sigmoid; x * it."""

    def __init__(self, c: int, reduction: int) -> None:
        super().__init__()
        self.conv_du = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            conv(c, c // reduction, 1),
            nn.ReLU(inplace=True),
            conv(c // reduction, c, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv_du(x)


class CAB(nn.Module):
    """Channel attention block: conv, act, conv, channel attention; + x."""

    def __init__(self, c: int, reduction: int, act: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(c, c), act, conv(c, c))
        self.ca = ChannelAttention(c, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ca(self.body(x)) + x


class SAM(nn.Module):
    """Supervised attention module (1x1 convs): the stage's image and attention-gated features."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.conv2, self.conv3 = conv(c, c, 1), conv(c, 3, 1), conv(3, c, 1)

    def forward(self, x: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        restored = self.conv2(x) + image
        return self.conv1(x) * torch.sigmoid(self.conv3(restored)) + x, restored


class Resample(nn.Module):
    """Bilinear resize by ``scale`` followed by a bias-free 1x1 conv."""

    def __init__(self, c_in: int, c_out: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.conv = conv(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return self.conv(x)


def cabs(c: int, n: int, reduction: int, act: nn.Module) -> nn.Sequential:
    return nn.Sequential(*[CAB(c, reduction, act) for _ in range(n)])


class MPREncoder(nn.Module):
    """Three levels of 2 CABs (n, n + s, n + 2s channels); with ``csff`` the cross-stage 1x1s."""

    def __init__(self, n: int, s: int, reduction: int, act: nn.Module, csff: bool) -> None:
        super().__init__()
        chans = (n, n + s, n + 2 * s)
        self.levels = nn.ModuleList([cabs(c, 2, reduction, act) for c in chans])
        self.downs = nn.ModuleList([Resample(c, c + s, 0.5) for c in chans[:2]])
        self.csff_enc = nn.ModuleList([conv(c, c, 1) for c in chans]) if csff else None
        self.csff_dec = nn.ModuleList([conv(c, c, 1) for c in chans]) if csff else None

    def forward(self, x, encoder_outs=None, decoder_outs=None) -> list[torch.Tensor]:
        outs = []
        for i, level in enumerate(self.levels):
            if i:
                x = self.downs[i - 1](x)
            x = level(x)
            if encoder_outs is not None:
                x = x + self.csff_enc[i](encoder_outs[i]) + self.csff_dec[i](decoder_outs[i])
            outs.append(x)
        return outs


class MPRDecoder(nn.Module):
    """Three levels of 2 CABs from the bottom up; skips through a CAB, bilinear up + 1x1."""

    def __init__(self, n: int, s: int, reduction: int, act: nn.Module) -> None:
        super().__init__()
        chans = (n, n + s, n + 2 * s)
        self.levels = nn.ModuleList([cabs(c, 2, reduction, act) for c in chans])
        self.skip_attn = nn.ModuleList([CAB(c, reduction, act) for c in chans[:2]])
        self.ups = nn.ModuleList([Resample(c + s, c, 2) for c in chans[:2]])

    def forward(self, outs: list[torch.Tensor]) -> list[torch.Tensor]:
        dec3 = self.levels[2](outs[2])
        dec2 = self.levels[1](self.ups[1](dec3) + self.skip_attn[1](outs[1]))
        dec1 = self.levels[0](self.ups[0](dec2) + self.skip_attn[0](outs[0]))
        return [dec1, dec2, dec3]


class ORB(nn.Module):
    """Original-resolution block: ``num_cab`` CABs and a 3x3 conv; + x."""

    def __init__(self, c: int, reduction: int, act: nn.Module, num_cab: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*cabs(c, num_cab, reduction, act), conv(c, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


class ORSNet(nn.Module):
    """Stage 3: three ORBs at full resolution, each followed by the stage-2 features of a level."""

    def __init__(self, n, s_ors, s_unet, reduction, act, num_cab) -> None:
        super().__init__()
        c = n + s_ors
        self.orbs = nn.ModuleList([ORB(c, reduction, act, num_cab) for _ in range(3)])

        def upsampler(level: int) -> nn.Module:  # bilinear x2 + 1x1 per level, down to n ch
            ups = [
                Resample(n + (i + 1) * s_unet, n + i * s_unet, 2) for i in reversed(range(level))
            ]
            return nn.Sequential(*ups) if ups else nn.Identity()

        self.up_enc = nn.ModuleList([upsampler(level) for level in range(3)])
        self.up_dec = nn.ModuleList([upsampler(level) for level in range(3)])
        self.conv_enc = nn.ModuleList([conv(n, c, 1) for _ in range(3)])
        self.conv_dec = nn.ModuleList([conv(n, c, 1) for _ in range(3)])

    def forward(self, x, encoder_outs, decoder_outs) -> torch.Tensor:
        for i, orb in enumerate(self.orbs):
            x = orb(x)
            x = x + self.conv_enc[i](self.up_enc[i](encoder_outs[i]))
            x = x + self.conv_dec[i](self.up_dec[i](decoder_outs[i]))
        return x


class MPRNet(PaddedModel):
    """MPRNet for deblurring: two encoder-decoder stages on 4 and 2 patches, then ORSNet.

    Source: Zamir, Arora, Khan, Hayat, Khan, Yang & Shao, "Multi-Stage Progressive Image
    Restoration", CVPR 2021, Sec. 3 and Fig. 2; github.com/swz30/MPRNet, Deblurring/MPRNet.py
    (``MPRNet(n_feat=96, scale_unetfeats=48, scale_orsnetfeats=32, num_cab=8, kernel_size=3,
    reduction=4, bias=False)``; one PReLU shared by every CAB; Deblurring/test.py pads the image
    to a multiple of 8 by reflection). Returns the stage-3 image only.

    Parameters: 20.1M, the figure later papers' GoPro tables give for MPRNet (e.g. MIMO-UNet, Cho
    et al., ICCV 2021); the MPRNet README gives none. Counted here: 20,127,073.
    """

    multiple = 8
    pad_mode = "reflect"

    def __init__(self, n=96, s_unet=48, s_ors=32, num_cab=8, reduction=4) -> None:
        super().__init__()
        act = nn.PReLU()  # one PReLU (one weight) shared, as in the official code
        self.shallow = nn.ModuleList(
            [nn.Sequential(conv(3, n), CAB(n, reduction, act)) for _ in range(3)]
        )
        self.stage1_encoder = MPREncoder(n, s_unet, reduction, act, csff=False)
        self.stage1_decoder = MPRDecoder(n, s_unet, reduction, act)
        self.stage2_encoder = MPREncoder(n, s_unet, reduction, act, csff=True)
        self.stage2_decoder = MPRDecoder(n, s_unet, reduction, act)
        self.stage3_orsnet = ORSNet(n, s_ors, s_unet, reduction, act, num_cab)
        self.sam12, self.sam23 = SAM(n), SAM(n)
        self.concat12 = conv(2 * n, n)
        self.concat23 = conv(2 * n, n + s_ors)
        self.tail = conv(n + s_ors, 3)

    def restore(self, x3: torch.Tensor) -> torch.Tensor:
        h, w = x3.shape[-2:]
        h2, w2 = h // 2, w // 2
        x2 = [x3[..., :h2, :], x3[..., h2:, :]]  # top, bottom
        x1 = [half[..., :w2] for half in x2] + [half[..., w2:] for half in x2]  # lt, lb, rt, rb
        # stage 1: the four quarters through encoder; left and right joined along W
        feats1 = [self.stage1_encoder(self.shallow[0](patch)) for patch in x1]
        feat1 = [
            [
                torch.cat((left, right), 3)
                for left, right in zip(feats1[i], feats1[i + 2], strict=True)
            ]
            for i in (0, 1)
        ]
        res1 = [self.stage1_decoder(f) for f in feat1]
        sam1 = [self.sam12(res1[i][0], x2[i])[0] for i in (0, 1)]
        # stage 2: the two halves, with the stage-1 features; top and bottom joined along H
        feat2 = [
            self.stage2_encoder(
                self.concat12(torch.cat([self.shallow[1](x2[i]), sam1[i]], 1)), feat1[i], res1[i]
            )
            for i in (0, 1)
        ]
        feat2 = [torch.cat((top, bottom), 2) for top, bottom in zip(*feat2, strict=True)]
        res2 = self.stage2_decoder(feat2)
        sam2, _ = self.sam23(res2[0], x3)
        # stage 3: full resolution
        x3_cat = self.concat23(torch.cat([self.shallow[2](x3), sam2], 1))
        return self.tail(self.stage3_orsnet(x3_cat, feat2, res2)) + x3


# --------------------------------------------------------------------------------------------
# NAFNet, width 32, GoPro (Chen et al., ECCV 2022)
# --------------------------------------------------------------------------------------------


class LayerNorm2d(nn.Module):
    """Layer norm over the channels of every pixel, with a per-channel scale and shift."""

    def __init__(self, c: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class LocalAvgPool(nn.Module):
    """TLC pooling (Chu et al., 2022): the mean over a ``kernel`` box around each pixel.

    NAFNet's GoPro test (``NAFNetLocal``) replaces every global average pool by this, with the
    box 1.5 times the feature map of a 256x256 training crop; where the box covers the whole
    map it is the global pool. An integral image gives each box sum; the valid part is padded
    back to the map's size by replication.
    """

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if self.kernel >= h and self.kernel >= w:
            return x.mean((2, 3), keepdim=True)
        k1, k2 = min(h, self.kernel), min(w, self.kernel)
        s = F.pad(x.cumsum(-1).cumsum(-2), (1, 0, 1, 0))
        out = (s[..., k1:, k2:] + s[..., :-k1, :-k2] - s[..., :-k1, k2:] - s[..., k1:, :-k2]) / (
            k1 * k2
        )
        dh, dw = h - out.shape[-2], w - out.shape[-1]
        return F.pad(out, (dw // 2, (dw + 1) // 2, dh // 2, (dh + 1) // 2), mode="replicate")


class NAFBlock(nn.Module):
    """LN, 1x1 (x2 channels), 3x3 depthwise, SimpleGate, SCA, 1x1; LN, 1x1 (x2), SimpleGate, 1x1.

    Both halves are residual with learnt per-channel scales (``beta``, ``gamma``, zero at init).
    """

    def __init__(self, c: int, pool: nn.Module) -> None:
        super().__init__()
        self.norm1, self.norm2 = LayerNorm2d(c), LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.conv2 = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.sca = nn.Sequential(pool, nn.Conv2d(c, c, 1))  # simplified channel attention
        self.conv3 = nn.Conv2d(c, c, 1)
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    @staticmethod
    def simple_gate(x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.simple_gate(self.conv2(self.conv1(self.norm1(inp))))
        y = inp + self.conv3(x * self.sca(x)) * self.beta
        x = self.conv5(self.simple_gate(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFNet(PaddedModel):
    """NAFNet: a 4-level UNet of NAFBlocks (stride-2 2x2 conv down, 1x1 + pixel shuffle up).

    Source: Chen, Chu, Zhang & Sun, "Simple Baselines for Image Restoration", ECCV 2022, Sec. 3
    and Fig. 3; github.com/megvii-research/NAFNet, basicsr/models/archs/NAFNet_arch.py and
    options/test/GoPro/NAFNet-width32.yml (``NAFNetLocal``, width 32, enc_blk_nums [1, 1, 1, 28],
    middle_blk_num 1, dec_blk_nums [1, 1, 1, 1]; ``local_arch.py`` turns the pools into TLC
    pools sized for a 256x256 training crop, see ``LocalAvgPool``; ``local=False`` keeps the
    global pools of plain ``NAFNet``). Pads to a multiple of 16 with zeros.

    Parameters: the paper gives MACs, not parameters, and the README none; the count in
    ``PEERS`` (17,111,907) is added up by hand from the layer list.
    """

    multiple = 16

    def __init__(
        self,
        width: int = 32,
        enc_blk_nums: tuple[int, ...] = (1, 1, 1, 28),
        middle_blk_num: int = 1,
        dec_blk_nums: tuple[int, ...] = (1, 1, 1, 1),
        local: bool = True,
        train_size: int = 256,
    ) -> None:
        super().__init__()
        self.multiple = 2 ** len(enc_blk_nums)

        def pool(level: int) -> nn.Module:
            kernel = int(train_size / 2**level * 1.5)
            return LocalAvgPool(kernel) if local else nn.AdaptiveAvgPool2d(1)

        def blocks(c: int, n: int, level: int) -> nn.Sequential:
            return nn.Sequential(*[NAFBlock(c, pool(level)) for _ in range(n)])

        self.intro = nn.Conv2d(3, width, 3, padding=1)
        self.ending = nn.Conv2d(width, 3, 3, padding=1)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        c = width
        for level, n in enumerate(enc_blk_nums):
            self.encoders.append(blocks(c, n, level))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, 2))
            c *= 2
        self.middle_blks = blocks(c, middle_blk_num, len(enc_blk_nums))
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        for i, n in enumerate(dec_blk_nums):
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(blocks(c, n, len(enc_blk_nums) - 1 - i))

    def restore(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1], strict=True):
            x = decoder(up(x) + skip)
        return self.ending(x) + inp


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------


class Method(NamedTuple):
    """One row of Table 1: how to build it and what was published about it."""

    build: object  # () -> nn.Module
    psnr: float | None  # published GoPro PSNR (dB)
    ssim: float | None  # published GoPro SSIM
    cpu_s: float | None  # published CPU seconds per 1280x720 image (the paper's Table 1)
    params: int | None  # stated parameter count
    params_source: str  # where that count comes from (for ours: what the network is)
    preset: str | None = None  # ours: the width preset of build_model
    arch: str | None = None  # ours: the architecture of build_model


BY_HAND = "none published; added up by hand from the layer list of "

PEERS: dict[str, Method] = {
    "deblurgan-v2-mobilenet": Method(
        FPNMobileNetV2, 28.17, 0.925, 3.2, 3_312_707,
        BY_HAND + "VITA-Group/DeblurGANv2 models/fpn_mobilenet.py + mobilenet_v2.py",
    ),
    "deblurgan": Method(
        ResnetGenerator, 28.70, 0.927, 7.8, 11_378_179,
        BY_HAND + "KupynOrest/DeblurGAN models/networks.py (resnet_9blocks)",
    ),
    "mprnet": Method(
        MPRNet, 32.66, 0.959, 219.4, 20_100_000,
        "20.1M (rounded): the figure later papers tabulate for MPRNet (e.g. MIMO-UNet, Cho et "
        "al. 2021); the MPRNet README gives none; not checked against the MPRNet paper here",
    ),
    "nafnet-w32": Method(
        NAFNet, 32.87, 0.960, None, 17_111_907,
        BY_HAND + "megvii-research/NAFNet NAFNet_arch.py, options/test/GoPro/NAFNet-width32.yml",
    ),
}  # fmt: skip
"""Peers of Table 1: name -> (constructor, published GoPro PSNR, SSIM, CPU s, stated parameter
count, its source). PSNR/SSIM/CPU s of the DeblurGANs and MPRNet are the paper's Table 1; NAFNet
is not in it (PSNR/SSIM from the NAFNet paper and README: 32.87 / 0.9606)."""


def ours(preset: str, arch: str, scores=(None, None, None), what: str = "") -> Method:
    """One of svrnn_lite's networks, ``build_model(preset, arch)``."""
    width = {"paper": "width 1", "half": "width 0.5", "lite": "width 0.25"}[preset]
    what = what or {"multitask": "multi-task", "baseline": "SVRNN", "plain": "plain UNet"}[arch]
    return Method(
        lambda: build_model(preset, arch=arch), *scores, None, f"{what}, {width}", preset, arch
    )


OURS: dict[str, Method] = {
    "paper": ours("paper", "multitask", (29.56, 0.943, 4.0), "multi-task, batch 32"),
    "half": ours("half", "multitask"),
    "lite": ours("lite", "multitask"),
    "svrnn": ours("paper", "baseline", (29.19, 0.931, 4.0), "SVRNN baseline"),
    "half-svrnn": ours("half", "baseline"),
    "lite-svrnn": ours("lite", "baseline"),
    "paper-plain": ours("paper", "plain"),
    "half-plain": ours("half", "plain"),
    "lite-plain": ours("lite", "plain"),
}
"""svrnn_lite's networks: the three width presets of the multi-task network, the SVRNN baseline
and the plain UNet (no RNN) at each width, with the paper's Table 1 values for the multi-task net
(batch 32) and the SVRNN baseline. Chapter *The multi-task UNet* tabulates all nine from the
stored run, chapter *Evaluation* the paper-width ones and the multi-task presets."""

METHODS = {**PEERS, **OURS}
PAPER = "paper"  # the row the ratios refer to


def count_params(model: nn.Module) -> int:
    """All parameters (each shared one once), trainable or not."""
    return sum(p.numel() for p in model.parameters())


def conv_macs(model: nn.Module, height: int, width: int, probe: int = 128) -> int:
    """Multiply-adds of all convs (and transposed convs) for one ``height x width`` image.

    The model runs on a ``probe x probe`` image; every conv's count is scaled by the ratio of the
    padded image's area to the probe's (each layer works at a fixed fraction of the padded
    input, so this is exact where ``probe`` and the padded size divide alike).
    """
    multiple = getattr(model, "multiple", MULTIPLE)
    area = math.ceil(height / multiple) * multiple * math.ceil(width / multiple) * multiple
    total = 0

    def hook(module, inputs, output) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        if isinstance(module, nn.ConvTranspose2d):  # each input element meets every tap
            elements, c_per = inputs[0].numel(), module.out_channels // module.groups
        else:
            elements, c_per = output.numel(), module.in_channels // module.groups
        total += elements * c_per * kh * kw

    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    handles = [m.register_forward_hook(hook) for m in convs]
    try:
        with torch.inference_mode():
            model(torch.rand(1, 3, probe, probe))
    finally:
        for handle in handles:
            handle.remove()
    return round(total * area / probe**2)


def pick_reference(size: tuple[int, int], fmt) -> tuple[ReferenceConv, float]:
    """``bench_model``'s reference conv; for a small image (no conv that large) the paper
    model's largest conv at this size."""
    reference, rate = find_reference_conv(size, fmt)
    if reference is None:
        width, height = size
        row = max(layer_table(build_model("paper"), height, width), key=lambda r: r.flops)
        reference = ReferenceConv(row, fmt)
        reference.rate()  # warm-up
        rate = max(reference.rate(), reference.rate())
    return reference, rate


#: The memory layouts a peer is timed in (ours choose their own: ``fast_layout``).
LAYOUTS = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}


def time_method(
    model: nn.Module, size, runs: int, reference: ReferenceConv, layers=(), layout="nchw"
):
    """One warm-up run, then ``runs`` pairs (reference conv rate in GFLOP/s, model time in s).

    The model's weights and the image are in the memory ``layout`` (a key of :data:`LAYOUTS`).
    Every module of one of the types ``layers`` is also timed with forward hooks (its wall time,
    pre-hook to hook): the second value returned maps its name to its time in each timed run.
    """
    width, height = size
    model = model.to(memory_format=LAYOUTS[layout])
    image = torch.rand(1, 3, height, width).contiguous(memory_format=LAYOUTS[layout])
    names = {m: n for n, m in model.named_modules() if layers and isinstance(m, layers)}
    layer_times: dict[str, list[float]] = {name: [] for name in names.values()}
    started: dict[nn.Module, float] = {}

    def pre(module, args) -> None:
        started[module] = time.perf_counter()

    def post(module, args, output) -> None:
        layer_times[names[module]].append(time.perf_counter() - started[module])

    handles = [m.register_forward_pre_hook(pre) for m in names]
    handles += [m.register_forward_hook(post) for m in names]

    def run() -> None:
        with torch.inference_mode():
            model(image)

    try:
        run()  # warm-up
        for times in layer_times.values():
            times.clear()
        pairs = [(reference.rate(), timed(run)) for _ in range(runs)]
    finally:
        for handle in handles:
            handle.remove()
    return pairs, layer_times


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_info() -> tuple[int | None, str | None]:
    """Physical cores (distinct physical id / core id pairs) and the widest x86 vector unit
    named in /proc/cpuinfo; ``None`` where it does not say (not Linux, not x86)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, None
    cores, flags, physical = set(), set(), "0"
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "physical id":
            physical = value
        elif key == "core id":
            cores.add((physical, value))
        elif key == "flags" and not flags:
            flags = set(value.split())
    simd = next(
        (name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"))
         if flag in flags),
        None,
    )  # fmt: skip
    return len(cores) or None, simd


def machine() -> dict:
    """What the timings were measured on."""
    cores, simd = cpu_info()
    return {
        "processor": cpu_name(),
        "physical_cores": cores,
        "simd": simd,
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def fmt_num(value, spec: str, width: int) -> str:
    return f"{'-':>{width}s}" if value is None else f"{value:{width}{spec}}"


def fmt_params(n: int | None) -> str:
    return f"{'-':>8s}" if n is None else f"{n / 1e6:7.2f}M"


def print_table(results: list[dict]) -> None:
    paper = next((r for r in results if r["name"] == PAPER), None)
    print(
        f"\n{'method':23s} {'params':>8s} {'stated':>9s} {'PSNR':>6s} {'SSIM':>6s} "
        f"{'paper s':>7s} {'GMAC':>7s} {'median s':>9s} {'min s':>7s} {'ref GF/s':>8s} "
        f"{'x paper':>7s} {'layout':>6s}"
    )
    print("-" * 113)
    for r in results:
        ratio = r["median_s"] / paper["median_s"] if paper else None
        stated = fmt_params(r["stated_params"])
        mark = "*" if r["stated_params"] and r["params_source"].startswith(BY_HAND) else " "
        print(
            f"{r['name']:23s} {fmt_params(r['params'])} {stated}{mark} "
            f"{fmt_num(r['psnr'], '.2f', 6)} {fmt_num(r['ssim'], '.3f', 6)} "
            f"{fmt_num(r['published_cpu_s'], '.1f', 7)} {r['gmac']:7.1f} {r['median_s']:9.3f} "
            f"{r['min_s']:7.3f} {r['reference_gflops']:8.0f} {fmt_num(ratio, '.2f', 7)} "
            f"{'NHWC' if r['layout'] == 'channels_last' else 'NCHW':>6s}"
        )
    print(
        "\nparams: counted here; stated: published (* none published: added up by hand from the "
        "official layer list).\nPSNR/SSIM/paper s: GoPro, the paper's Table 1 (NAFNet: its own "
        "paper; not in Table 1). GMAC: conv multiply-adds\nat the timed size. ref GF/s: median "
        "rate of the reference conv timed just before each run. x paper: median time\nover the "
        "paper preset's median time. Weights are random: the PSNR/SSIM are the published ones.\n"
        "layout: the memory layout of the timed runs (a peer: the faster of NCHW and NHWC, "
        "channels-last)."
    )


def provisional(height: int, width: int, runs: int) -> bool:
    """Whether a run is only a smoke test: Table 1 is one 1280x720 image, timed 3 times or more.
    The chapters mark the tables of a provisional stored run as such."""
    return (height, width) != (720, 1280) or runs < 3


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per model (after warm-up)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=list(METHODS),
                        help=f"methods to time, of: {' '.join(METHODS)}")  # fmt: skip
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="default: all")
    parser.add_argument("--quick", action="store_true", help="128x128, 1 run (a smoke test)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="store the results here")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    command = " ".join(["benchmarks/bench_peers.py", *(argv if argv is not None else sys.argv[1:])])
    if args.quick:
        args.height, args.width, args.runs = 128, 128, 1
    if args.runs < 1 or args.height < 1 or args.width < 1:
        parser.error("--runs, --height and --width must be positive")
    size = (args.width, args.height)
    torch.set_num_threads(args.threads)
    tuned = tune_malloc()
    t_start = time.perf_counter()
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()[0]
    print(
        f"{cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads, image "
        f"{args.width}x{args.height}, malloc {'tuned' if tuned else 'default'}, {args.runs} "
        f"timed run(s) each, load average at start {load_start:.1f}"
    )
    reference, rate = pick_reference(size, torch.channels_last)
    print(f"reference conv: {reference.label}, {rate:.0f} GFLOP/s in the sweep")

    results = []
    for name in args.only or list(METHODS):
        method = METHODS[name]
        print(f"timing {name} ...", flush=True)
        torch.manual_seed(0)
        model = method.build().eval()
        # ours: every conv and RNN block timed too (the layer breakdown of chapter 4), in the
        # layout they choose; a peer in both layouts, keeping the faster
        layers = (nn.Conv2d, SpatialRNN) if method.preset else ()
        timings = {
            layout: time_method(model, size, args.runs, reference, layers, layout)
            for layout in (["nchw"] if method.preset else LAYOUTS)
        }
        medians = {k: statistics.median(t for _, t in pairs) for k, (pairs, _) in timings.items()}
        layout = "channels_last" if method.preset else min(medians, key=medians.get)
        pairs, layer_times = timings["nchw" if method.preset else layout]
        times = [t for _, t in pairs]
        gmac = conv_macs(model, args.height, args.width) / 1e9
        flops = flops_per_image(model, args.height, args.width) if method.preset else 2e9 * gmac
        results.append(
            {
                "name": name,
                "preset": method.preset,
                "arch": method.arch,
                "params": count_params(model),
                "stated_params": method.params,
                "params_source": method.params_source,
                "psnr": method.psnr,
                "ssim": method.ssim,
                "published_cpu_s": method.cpu_s,
                "gmac": gmac,
                "gflop": flops / 1e9,
                "times_s": times,
                "reference_gflops_per_run": [r for r, _ in pairs],
                "median_s": statistics.median(times),
                "min_s": min(times),
                "reference_gflops": statistics.median(r for r, _ in pairs),
                "layer_times_s": layer_times,
                "layout": layout,
                "layouts": None if method.preset else medians,
            }
        )
        del model
    print_table(results)
    total = time.perf_counter() - t_start
    load_end = os.getloadavg()[0]
    print(f"load average at end {load_end:.1f}; total benchmark time {total:.0f} s")
    if args.json:
        report = {
            "provisional": provisional(args.height, args.width, args.runs),
            "command": command,
            "date": started.isoformat(timespec="seconds"),
            "machine": machine(),
            "image": {"height": args.height, "width": args.width},
            "runs": args.runs,
            "malloc_tuned": tuned,
            "reference_conv": reference.label,
            "reference_gflops_sweep": rate,
            "load_average": {"start": load_start, "end": load_end},
            "total_s": total,
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
        print(f"results written to {args.json}")
    return results


if __name__ == "__main__":
    main()
