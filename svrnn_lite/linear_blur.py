"""Known, linear blurs and their inverses: the 2-tap blur, a camera pan, and its spectrum.

Chapter *The first-order recursive filter* shows that one recursion with gate ``g = -a`` undoes
the 2-tap blur ``y[k] = (x[k] + a x[k-1]) / (1 + a)`` exactly (:func:`two_tap_blur`). A camera
that pans during the exposure makes a longer blur: the average of ``L`` copies of the scene
shifted by one pixel each (:func:`pan_blur`), a box of length ``L`` whose spectrum
(:func:`box_response`)::

    H(w) = sin(L w / 2) / (L sin(w / 2))

is zero at ``w = 2 pi m / L``. What the blur removed there is gone, so no filter inverts it. The
regularised (Wiener-like) inverse ``W = H / (H^2 + lam)`` (:func:`regularised_inverse`,
:func:`wiener_deblur`) trades sharpness against the noise it amplifies;
:mod:`svrnn_lite.handbuilt` approximates it with recursions.

Explained in chapter *The first-order recursive filter*.
"""

from __future__ import annotations

import numpy as np

from svrnn_lite.blur import average_frames, to_8bit_levels
from svrnn_lite.motion import Trajectory
from svrnn_lite.render import as_rgb_float, render_frames

__all__ = [
    "as_image",
    "box_response",
    "check_along",
    "check_length",
    "pan_blur",
    "regularised_inverse",
    "two_tap_blur",
    "wiener_deblur",
]


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
    """
    image = as_rgb_float(image, "image")
    length = check_length(length)
    along = check_along(along)
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
    """
    length = check_length(length)
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
    """
    y = as_image(blurred, "blurred")
    along = check_along(along)
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


# --- input checks -----------------------------------------------------------------------------


def check_length(length) -> int:
    """A blur length: an odd integer >= 1.

    Examples
    --------
    >>> check_length(4)
    Traceback (most recent call last):
    ...
    ValueError: length must be an odd integer >= 1, got 4
    """
    if isinstance(length, bool) or int(length) != length or length < 1 or length % 2 == 0:
        raise ValueError(f"length must be an odd integer >= 1, got {length}")
    return int(length)


def check_along(along) -> int:
    """A motion's axis: 1 (horizontal) or 0 (vertical).

    Examples
    --------
    >>> check_along(2)
    Traceback (most recent call last):
    ...
    ValueError: along must be 1 (horizontal motion) or 0 (vertical), got 2
    """
    if isinstance(along, bool) or along not in (0, 1):
        raise ValueError(f"along must be 1 (horizontal motion) or 0 (vertical), got {along!r}")
    return int(along)


def as_image(image, name: str = "image") -> np.ndarray:
    """An (H, W, 3) float64 array; any finite values (a deblurred image may leave [0, 1]).

    Examples
    --------
    >>> as_image(np.full((2, 2, 3), 1.5)).dtype
    dtype('float64')
    >>> as_image(np.zeros((2, 2)), "blurred")
    Traceback (most recent call last):
    ...
    ValueError: blurred must have shape (H, W, 3) with H, W >= 2, got (2, 2)
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 2:
        raise ValueError(f"{name} must have shape (H, W, 3) with H, W >= 2, got {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return image
