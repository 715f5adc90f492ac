"""A spatially variant RNN set by hand: undoing a known motion blur without training a CNN.

A camera pan blurs with a box that no filter inverts; its regularised inverse
(:mod:`svrnn_lite.linear_blur`) is the best a linear filter can do. :func:`fit_handbuilt`
approximates it with the only operation of a spatially variant RNN block, first-order
recursions, with gates set by hand from the motion:

- a bank of ``K`` gates ``g_1 .. g_K`` (:data:`GATE_BANK`); channel ``k`` of one
  :class:`~svrnn_lite.spatial_rnn.SpatialRNN` block scans a copy of the blurry image ``y`` with
  gate ``g_k`` in the two directions *along* the motion and gate 0 in the two directions across
  it (a scan with gate 0 returns its input unchanged);
- the sum of the four scans of channel ``k`` is ``s_k = (3 - g_k) y + (1 + g_k) P_k y``, with
  ``P_k`` the symmetric kernel ``(1 - g_k) / (1 + g_k) * g_k**|n|`` along the motion;
- the output mixes them linearly, ``x_hat = w_0 y + sum_k w_k s_k`` (a 1x1 convolution after the
  block, plus a skip connection), with weights fitted by least squares on training photos blurred
  by the same motion.

The motion's direction decides only which scans get the gates, so one set of weights serves a
horizontal and a vertical motion, and the gates may pick the direction pixel by pixel
(:meth:`HandBuiltDeblur.gates`). The block's frequency response along the motion is
:meth:`HandBuiltDeblur.response`.

Explained in chapters *The first-order recursive filter* and *The four-direction spatially
variant RNN*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from svrnn_lite.blur import to_8bit_levels

# box_response, regularised_inverse, two_tap_blur, wiener_deblur: the chapters import them here
from svrnn_lite.linear_blur import (
    as_image,
    box_response,
    check_along,
    check_length,
    pan_blur,
    regularised_inverse,
    two_tap_blur,
    wiener_deblur,
)
from svrnn_lite.spatial_rnn import SpatialRNN

__all__ = [
    "FIT_SOURCES",
    "GATE_BANK",
    "HandBuiltDeblur",
    "box_response",
    "fit_handbuilt",
    "pan_blur",
    "regularised_inverse",
    "two_tap_blur",
    "wiener_deblur",
]

#: The gates of the hand-built block, one per channel: from sharpening (negative) to long memory.
GATE_BANK: tuple[float, ...] = tuple(float(g) for g in np.round(np.linspace(-0.8, 0.97, 12), 3))
#: Bundled training photos (never test photos) that :func:`fit_handbuilt` fits the weights on.
FIT_SOURCES: tuple[str, ...] = ("grace_hopper", "motorcycle_left")
#: Reflected border added before the scans and removed after, so that the zero initial state of
#: each scan fades out before it reaches the image (0.97**64 is about 0.14, and the reflected
#: border looks like the image, so what is left of the start-up is small).
PAD = 64


# --- the hand-built block ----------------------------------------------------------------------


class HandBuiltDeblur(NamedTuple):
    """One SpatialRNN block with hand-set gates and a fitted 1x1 mix: ``x = w_0 y + sum w_k s_k``.

    Made by :func:`fit_handbuilt`. Call it on a blurry (H, W, 3) image with the motion's axis
    (1: horizontal, 0: vertical), or an (H, W) map of axes, one per pixel.

    Attributes
    ----------
    length : int
        The blur length the weights were fitted for.
    gate_bank : tuple of float
        The gate ``g_k`` of each channel, used along the motion (gate 0 across it).
    weights : ndarray, shape (K + 1,)
        ``w_0`` (the skip connection) and ``w_1 .. w_K`` (one per channel).

    Examples
    --------
    With ``w_0 = 1`` and every other weight 0 only the skip connection is left:

    >>> block = HandBuiltDeblur(9, (0.5,), np.array([1.0, 0.0]))
    >>> image = np.random.default_rng(0).random((4, 5, 3))
    >>> bool(np.allclose(block(image), image))
    True
    """

    length: int
    gate_bank: tuple[float, ...]
    weights: np.ndarray

    def gates(self, along, shape: tuple[int, int]) -> torch.Tensor:
        """The block's gate tensor for an image of ``shape`` (H, W) and motion axes ``along``.

        Returns a (K, 12, H, W) float64 tensor: batch item ``k`` is channel ``k`` of the block
        for the three colours, its 12 gate maps are the four directions (left->right,
        right->left, top->bottom, bottom->top) times three colours, as
        :class:`~svrnn_lite.spatial_rnn.SpatialRNN` orders them. ``g_k`` where the scan runs
        along the motion at that pixel, 0 elsewhere.

        Examples
        --------
        >>> block = HandBuiltDeblur(9, (0.5, -0.5), np.array([1.0, 0.0, 0.0]))
        >>> g = block.gates(1, (2, 3))                  # a horizontal motion
        >>> g.shape, g[0, :6].unique().tolist(), g[0, 6:].unique().tolist()
        (torch.Size([2, 12, 2, 3]), [0.5], [0.0])
        """
        bank = torch.tensor(self.gate_bank, dtype=torch.float64)[:, None, None, None]
        return (bank * _direction_masks(along, shape)).contiguous()

    def scan_sums(self, blurred, along=1) -> np.ndarray:
        """The block's channels: ``s_k``, the sum of the four scans of ``y`` with gates ``g_k``.

        Returns an array of shape (K, H, W, 3). The image gets a reflected border of
        :data:`PAD` pixels on every side before the scans, removed afterwards.
        """
        y = as_image(blurred, "blurred")
        h, w = y.shape[:2]
        pad = min(PAD, h - 1, w - 1)
        widths = ((pad, pad), (pad, pad))
        padded = np.pad(y, (*widths, (0, 0)), mode="reflect")
        along_padded = np.pad(_along_map(along, (h, w)), widths, mode="edge")
        x = torch.from_numpy(np.ascontiguousarray(padded.transpose(2, 0, 1)))[None]
        masks = _direction_masks(along_padded, padded.shape[:2])[None]
        rnn = SpatialRNN()
        sums = np.empty((len(self.gate_bank), h, w, 3))
        for k, gate in enumerate(self.gate_bank):  # one channel at a time keeps memory small
            out = rnn(x, gate * masks)  # (1, 12, H, W): 4 directions x 3 colours
            total = out[0].view(4, 3, *padded.shape[:2]).sum(0).numpy()
            sums[k] = total.transpose(1, 2, 0)[pad : pad + h, pad : pad + w]
        return sums

    def __call__(self, blurred, along=1) -> np.ndarray:
        """Deblur ``blurred`` (H, W, 3): ``w_0 y + sum_k w_k s_k``; float64, not clipped.

        ``along`` is the motion's axis, 1 (horizontal) or 0 (vertical), for the whole image or
        as an (H, W) array, one axis per pixel.
        """
        y = as_image(blurred, "blurred")
        sums = self.scan_sums(y, along)
        return self.weights[0] * y + np.tensordot(self.weights[1:], sums, axes=1)

    def response(self, omega) -> np.ndarray:
        """Frequency response of the block along the motion, ``C(w)``.

        ``C(w) = w_0 + sum_k w_k ((3 - g_k) + (1 + g_k) P_k(w))`` with the response of the
        symmetric kernel ``P_k(w) = (1 - g_k)^2 / (1 - 2 g_k cos w + g_k^2)``. Compare it with
        :func:`~svrnn_lite.linear_blur.regularised_inverse`; ``C(w) H(w)`` is what the blur
        followed by the block does to frequency ``w``.

        Examples
        --------
        >>> block = HandBuiltDeblur(9, (0.5,), np.array([-3.0, 1.0]))   # 3 - 0.5 + 1.5 P
        >>> block.response([0.0, np.pi]).round(4)                       # P(0) = 1, P(pi) = 1/9
        array([ 1.    , -0.3333])
        """
        omega = np.asarray(omega, dtype=np.float64)
        out = np.full(omega.shape, float(self.weights[0]))
        for g, w in zip(self.gate_bank, self.weights[1:], strict=True):
            symmetric = (1 - g) ** 2 / (1 - 2 * g * np.cos(omega) + g**2)
            out += w * ((3 - g) + (1 + g) * symmetric)
        return out


def fit_handbuilt(
    length: int,
    gate_bank: Sequence[float] = GATE_BANK,
    sources: Sequence[str] = FIT_SOURCES,
    size: int = 192,
    noise: float = 0.0,
) -> HandBuiltDeblur:
    """Fit the mix of a hand-built block to undo a pan blur of ``length`` pixels.

    Each of ``sources`` (bundled photos, :func:`svrnn_lite.sources.load_source`) is cut to its
    central ``size`` x ``size`` crop (plus the blur's reach) and blurred by
    :func:`~svrnn_lite.linear_blur.pan_blur`, the first one horizontally, the second vertically,
    and so on in turn, with Gaussian noise of standard deviation ``noise`` (fixed seed) added
    before the 8-bit rounding; the weights ``w`` minimise ``sum (w_0 y + sum_k w_k s_k - x)^2``
    over every pixel and colour of the pairs, a linear least-squares problem solved in closed
    form.

    Parameters
    ----------
    length : int
        Odd blur length L >= 1.
    gate_bank : sequence of float
        The channels' gates, each in (-1, 1).
    sources : sequence of str
        Names of bundled photos to fit on; keep the photos you test on out of this list.
    size : int
        Side of the crop of each source, in pixels.
    noise : float, default 0
        Standard deviation of the noise on the blurry training images (0: 8-bit rounding only).
        Weights fitted with noise boost high frequencies less.

    Returns
    -------
    HandBuiltDeblur

    Examples
    --------
    >>> block = fit_handbuilt(5, size=64)
    >>> len(block.weights), round(float(block.response([0.0])[0]), 2)   # a flat area stays flat
    (13, 1.0)

    """
    from svrnn_lite.sources import load_source

    length = check_length(length)
    bank = tuple(float(g) for g in gate_bank)
    if not bank or not all(np.isfinite(g) and -1 < g < 1 for g in bank):
        raise ValueError(f"gate_bank must hold gates in (-1, 1), got {gate_bank}")
    if not sources:
        raise ValueError("sources must name at least one bundled photo")
    size = int(size)
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    rng = np.random.default_rng(0)
    block = HandBuiltDeblur(length, bank, np.zeros(len(bank) + 1))
    gram = np.zeros((len(bank) + 1,) * 2)
    rhs = np.zeros(len(bank) + 1)
    for i, name in enumerate(sources):
        along = 1 - i % 2
        image = load_source(name)
        reach = [size, size]
        reach[along] += 2 * (length // 2)
        top, left = ((s - r) // 2 for s, r in zip(image.shape[:2], reach, strict=True))
        if top < 0 or left < 0:
            raise ValueError(f"source {name!r} of shape {image.shape[:2]} is smaller than {reach}")
        region = image[top : top + reach[0], left : left + reach[1]]
        blurred, sharp = pan_blur(region, length, along, quantize=False)
        if noise > 0:
            blurred = np.clip(blurred + rng.normal(0.0, noise, blurred.shape), 0.0, 1.0)
        blurred = to_8bit_levels(blurred)
        columns = np.concatenate([blurred[None], block.scan_sums(blurred, along)])
        columns = columns.reshape(len(columns), -1)
        gram += columns @ columns.T
        rhs += columns @ sharp.reshape(-1).astype(np.float64)
    # a tiny ridge keeps the solve well-posed when two channels are almost alike
    ridge = 1e-10 * np.trace(gram) / len(gram)
    weights = np.linalg.solve(gram + ridge * np.eye(len(gram)), rhs)
    return block._replace(weights=weights)


def _along_map(along, shape: tuple[int, int]) -> np.ndarray:
    """``along`` (0, 1 or an array of them) as an (H, W) int array."""
    if np.ndim(along) == 0:
        return np.full(shape, check_along(along), dtype=np.int64)
    along = np.asarray(along)
    if along.shape != tuple(shape) or not np.isin(along, (0, 1)).all():
        raise ValueError(
            f"along must be 0, 1 or an array of 0s and 1s of shape {tuple(shape)}, "
            f"got shape {along.shape}"
        )
    return along.astype(np.int64)


def _direction_masks(along, shape: tuple[int, int]) -> torch.Tensor:
    """(12, H, W) float64: 1 where direction d (of 4, times 3 colours) scans along the motion."""
    horizontal = torch.from_numpy(_along_map(along, shape) == 1).double()
    per_direction = torch.stack([horizontal, horizontal, 1 - horizontal, 1 - horizontal])
    return per_direction.repeat_interleave(3, dim=0)
