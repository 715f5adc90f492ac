"""A spatially variant RNN set by hand: undoing a known motion blur without training a CNN.

Chapter *The first-order recursive filter* shows that one recursion with gate ``g = -a`` undoes
the 2-tap blur ``y[k] = (x[k] + a x[k-1]) / (1 + a)`` exactly (:func:`two_tap_blur`). A camera
that pans during the exposure makes a longer blur: the average of ``L`` copies of the scene
shifted by one pixel each (:func:`pan_blur`), a box of length ``L`` whose spectrum
(:func:`box_response`)::

    H(w) = sin(L w / 2) / (L sin(w / 2))

is zero at ``w = 2 pi m / L``. What the blur removed there is gone, so no filter inverts it. The
regularised (Wiener-like) inverse ``W = H / (H^2 + lam)`` (:func:`regularised_inverse`,
:func:`wiener_deblur`) trades sharpness against the noise it amplifies.

:func:`fit_handbuilt` approximates such an inverse with the only operation of a spatially variant
RNN block, first-order recursions, with gates set by hand from the motion:

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

from svrnn_lite.blur import average_frames, to_8bit_levels
from svrnn_lite.motion import Trajectory
from svrnn_lite.render import as_rgb_float, render_frames
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


# --- the 2-tap blur of chapter 2 ---------------------------------------------------------------


def two_tap_blur(x, a: float, axis: int = -1) -> np.ndarray:
    """The 2-tap blur ``y[k] = (x[k] + a x[k-1]) / (1 + a)`` along one axis, with ``x[-1] = 0``.

    Its exact inverse is one recursive filter with gate ``-a`` along the same axis
    (:func:`svrnn_lite.recursive.recursive_filter`), starting from the state 0.

    Parameters
    ----------
    x : array_like
        Signal or image, any shape.
    a : float
        Weight of the previous sample, ``0 <= a < 1`` (then the inverse is stable).
    axis : int, default -1
        The axis along which each sample is mixed with its predecessor.

    Returns
    -------
    ndarray
        ``y``, float64, same shape as ``x``.

    Examples
    --------
    >>> two_tap_blur([1.0, 0.0, 0.0], a=0.5)
    array([0.6667, 0.3333, 0.    ])
    >>> import torch
    >>> from svrnn_lite.recursive import recursive_filter
    >>> y = torch.from_numpy(two_tap_blur([0.2, 0.9, 0.4], a=0.5))
    >>> recursive_filter(y, torch.full_like(y, -0.5))
    tensor([0.2000, 0.9000, 0.4000], dtype=torch.float64)

    Explained in chapter *The first-order recursive filter*.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension, got a scalar")
    if not np.isfinite(a) or not 0.0 <= a < 1.0:
        raise ValueError(f"a must be in [0, 1), got {a}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"axis must be in [{-x.ndim}, {x.ndim - 1}] for a {x.ndim}-d x, got {axis}"
        )
    previous = np.zeros_like(x)
    shifted = [slice(None)] * x.ndim
    source = [slice(None)] * x.ndim
    shifted[axis], source[axis] = slice(1, None), slice(None, -1)
    previous[tuple(shifted)] = x[tuple(source)]
    return (x + a * previous) / (1.0 + a)


# --- a camera pan and its spectrum -------------------------------------------------------------


def pan_blur(
    image, length: int, along: int = 1, quantize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Blur an image the way a camera panning at one pixel per sub-frame does: a box blur.

    The GoPro recipe of :mod:`svrnn_lite.blur` with a straight, uniform camera motion:
    :func:`~svrnn_lite.render.render_frames` renders ``length`` sub-frames shifted by
    ``-length // 2 .. length // 2`` pixels along ``along`` and
    :func:`~svrnn_lite.blur.average_frames` averages them (encoded values, like GoPro's ``blur``
    folders). Every output pixel is the mean of the ``length`` pixels centred on it, all taken
    from the image (the output is the image shrunk by ``length // 2`` on both sides along
    ``along``), so no border effect enters.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3) or (H, W)
        uint8, uint16 or floats in [0, 1]; a grey image is copied into three channels.
    length : int
        Blur length L in pixels, odd, so that the blur is centred on the sharp frame.
    along : {1, 0}
        1 for a horizontal motion (along rows), 0 for a vertical one (along columns).
    quantize : bool, default True
        Round the blurry image to 8-bit levels, as a camera stores it.

    Returns
    -------
    blurred, sharp : ndarray, shape (h, w, 3)
        float32 in [0, 1]; ``sharp`` is the middle sub-frame (the image, cropped).

    Examples
    --------
    >>> image = np.zeros((5, 9))
    >>> image[:, 4] = 1.0                              # one bright column
    >>> blurred, sharp = pan_blur(image, length=3, quantize=False)
    >>> blurred.shape, sharp.shape
    ((5, 7, 3), (5, 7, 3))
    >>> blurred[0, :, 0].round(3)                      # spread over three columns
    array([0.   , 0.   , 0.333, 0.333, 0.333, 0.   , 0.   ], dtype=float32)

    Explained in chapter *The first-order recursive filter*.
    """
    image = as_rgb_float(image, "image")
    length = _check_length(length)
    along = _check_along(along)
    half = length // 2
    if image.shape[along] <= 2 * half:
        raise ValueError(
            f"an image {image.shape[along]} pixels long along axis {along} leaves nothing of a "
            f"blur of length {length}: it must be longer than {2 * half} pixels"
        )
    steps = np.arange(length, dtype=np.float64) - half
    still = np.zeros(length)
    trajectory = Trajectory(steps if along == 0 else still, steps if along == 1 else still, still)
    origin = (half, 0) if along == 0 else (0, half)
    shape = list(image.shape[:2])
    shape[along] -= 2 * half
    frames, _ = render_frames(image, origin, tuple(shape), trajectory)
    blurred = average_frames(frames, gamma=None)
    if quantize:
        blurred = to_8bit_levels(blurred)
    return blurred, frames[half].copy()


def box_response(length: int, omega) -> np.ndarray:
    """Frequency response ``H(w) = sin(L w / 2) / (L sin(w / 2))`` of a centred box of length L.

    Real (the box is symmetric), 1 at ``w = 0`` and zero at ``w = 2 pi m / L``, ``m = 1, 2, ...``
    below ``2 pi``. Its sign alternates from one lobe to the next.

    Parameters
    ----------
    length : int
        Odd box length L >= 1.
    omega : array_like
        Angular frequencies in radians per pixel, usually in [0, pi].

    Returns
    -------
    ndarray of float64, shape of ``omega``

    Examples
    --------
    >>> box_response(9, [0.0, 2 * np.pi / 9, np.pi]).round(4)
    array([1.    , 0.    , 0.1111])
    >>> box_response(1, [0.5, 2.0])                  # length 1: no blur
    array([1., 1.])

    Explained in chapter *The first-order recursive filter*.
    """
    length = _check_length(length)
    omega = np.asarray(omega, dtype=np.float64)
    # the Dirichlet kernel as a sum of cosines: exact at w = 0 and free of 0 / 0
    n = np.arange(length) - length // 2
    return np.cos(np.multiply.outer(omega, n)).sum(axis=-1) / length


def regularised_inverse(length: int, omega, lam: float) -> np.ndarray:
    """The regularised (Wiener-like) inverse ``W = H / (H^2 + lam)`` of a centred box blur.

    For white noise of variance ``sigma^2`` on a signal of (flat) power ``S``, ``lam =
    sigma^2 / S`` and ``W`` minimises the mean squared error ``|W H - 1|^2 S + |W|^2 sigma^2`` at
    each frequency. Where ``H^2 >> lam`` it is the inverse ``1 / H``; near the zeros of ``H`` it
    falls to 0 instead of growing without bound.

    Parameters
    ----------
    length : int
        Odd box length L.
    omega : array_like
        Angular frequencies in radians per pixel.
    lam : float
        Regularisation, > 0.

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> regularised_inverse(9, [0.0, 2 * np.pi / 9], lam=1e-3).round(4)
    array([0.999, 0.   ])

    Explained in chapter *The first-order recursive filter*.
    """
    if not np.isfinite(lam) or lam <= 0:
        raise ValueError(f"lam must be a finite number > 0, got {lam}")
    h = box_response(length, omega)
    return h / (h**2 + lam)


def wiener_deblur(blurred, length: int, along: int = 1, lam: float = 3e-3) -> np.ndarray:
    """Apply :func:`regularised_inverse` along one axis with the FFT: the reference to beat.

    Not an RNN: every output pixel depends on the whole row (or column), computed in the Fourier
    domain on the image followed by its mirror image (mirrored borders, no jump at the ends).

    Parameters
    ----------
    blurred : ndarray, shape (H, W, 3)
        Image blurred by a centred box of length ``length`` along ``along``.
    length : int
        Odd blur length L.
    along : {1, 0}
        1 for a horizontal motion, 0 for a vertical one.
    lam : float
        Regularisation of :func:`regularised_inverse`.

    Returns
    -------
    ndarray of float64, shape (H, W, 3)
        The estimate of the sharp image, not clipped (clip to [0, 1] to show it).

    Examples
    --------
    >>> from svrnn_lite.metrics import psnr
    >>> from svrnn_lite.sources import load_source
    >>> blurred, sharp = pan_blur(load_source("astronaut")[:128, :160], length=5)
    >>> restored = wiener_deblur(blurred, length=5)
    >>> bool(psnr(restored, sharp) > psnr(blurred, sharp) + 1.0)     # at least 1 dB better
    True

    Explained in chapter *The first-order recursive filter*.
    """
    y = _as_image(blurred, "blurred")
    along = _check_along(along)
    # the image followed by its mirror image: a periodic signal without jumps, so the FFT sees
    # no edge (filtering it is the same as filtering the image with mirrored borders)
    mirrored = np.concatenate([y, np.flip(y, axis=along)], axis=along)
    n = mirrored.shape[along]
    omega = 2 * np.pi * np.fft.rfftfreq(n)
    shape = [1, 1, 1]
    shape[along] = len(omega)
    filt = regularised_inverse(length, omega, lam).reshape(shape)
    out = np.fft.irfft(np.fft.rfft(mirrored, axis=along) * filt, n=n, axis=along)
    return np.take(out, np.arange(y.shape[along]), axis=along)


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
        y = _as_image(blurred, "blurred")
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
        y = _as_image(blurred, "blurred")
        sums = self.scan_sums(y, along)
        return self.weights[0] * y + np.tensordot(self.weights[1:], sums, axes=1)

    def response(self, omega) -> np.ndarray:
        """Frequency response of the block along the motion, ``C(w)``.

        ``C(w) = w_0 + sum_k w_k ((3 - g_k) + (1 + g_k) P_k(w))`` with the response of the
        symmetric kernel ``P_k(w) = (1 - g_k)^2 / (1 - 2 g_k cos w + g_k^2)``. Compare it with
        :func:`regularised_inverse`; ``C(w) H(w)`` is what the blur followed by the block does
        to frequency ``w``.

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
    central ``size`` x ``size`` crop (plus the blur's reach) and blurred by :func:`pan_blur`,
    the first one horizontally, the second vertically, and so on in turn, with Gaussian noise of
    standard deviation ``noise`` (fixed seed) added before the 8-bit rounding; the weights ``w``
    minimise ``sum (w_0 y + sum_k w_k s_k - x)^2`` over every pixel and colour of the pairs, a
    linear least-squares problem solved in closed form.

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

    Explained in chapters *The first-order recursive filter* and *The four-direction spatially
    variant RNN*.
    """
    from svrnn_lite.sources import load_source

    length = _check_length(length)
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


# --- input checks ------------------------------------------------------------------------------


def _check_length(length) -> int:
    if isinstance(length, bool) or int(length) != length or length < 1 or length % 2 == 0:
        raise ValueError(f"length must be an odd integer >= 1, got {length}")
    return int(length)


def _check_along(along) -> int:
    if isinstance(along, bool) or along not in (0, 1):
        raise ValueError(f"along must be 1 (horizontal motion) or 0 (vertical), got {along!r}")
    return int(along)


def _along_map(along, shape: tuple[int, int]) -> np.ndarray:
    """``along`` (0, 1 or an array of them) as an (H, W) int array."""
    if np.ndim(along) == 0:
        return np.full(shape, _check_along(along), dtype=np.int64)
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


def _as_image(image, name: str) -> np.ndarray:
    """An (H, W, 3) float64 array; any finite values (a deblurred image may leave [0, 1])."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 2:
        raise ValueError(f"{name} must have shape (H, W, 3) with H, W >= 2, got {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return image
