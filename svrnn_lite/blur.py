"""Blur synthesis by frame averaging, the way the GoPro dataset was made.

Nah et al. (2017) filmed scenes at 240 frames per second and averaged N = 7..13 consecutive sharp
frames S_1..S_N into one blurry image B; the middle frame is the sharp target. A camera stores
gamma-encoded values, so light is added after decoding with the camera response g^-1(x) = x**gamma::

    B = g( (1/N) * sum_i g^-1(S_i) )          g(y) = y**(1/gamma)          (GoPro "blur_gamma")
    B = (1/N) * sum_i S_i                     (gamma=None: encoded values, GoPro "blur")

Without a high-speed camera we render the N frames ourselves, from one still image:

- the camera shakes and foreground objects slide across the scene (:mod:`svrnn_lite.motion`:
  :func:`~svrnn_lite.motion.shake_trajectory`, :func:`~svrnn_lite.motion.random_objects`); the
  motion is zero at the middle frame, so the sharp frame is an exact crop;
- every frame is a crop of a larger canvas seen through that motion, so no empty border ever
  slides into view (:func:`svrnn_lite.render.render_frames`);
- each frame gets its own sensor noise and is rounded to 8 bits, as a video frame is.

:func:`make_blur_pair` does all of it and averages the frames (:func:`average_frames`); it also
returns the per-pixel blur length, the path (in pixels) that the scene point seen at each pixel
of the sharp frame travels during the exposure.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from svrnn_lite.motion import Trajectory, random_objects, shake_trajectory
from svrnn_lite.render import as_rgb_float, render_frames

__all__ = ["GOPRO_GAMMA", "BlurPair", "average_frames", "make_blur_pair", "to_8bit_levels"]


# --- the GoPro average -----------------------------------------------------------------------

#: The camera response GoPro's ``blur_gamma`` folders decode the frames with before averaging.
GOPRO_GAMMA = 2.2


def average_frames(frames: np.ndarray, gamma: float | None = GOPRO_GAMMA) -> np.ndarray:
    """Average sharp frames into one blurry image, as the GoPro dataset does.

    ``B = ((1/N) * sum_i S_i**gamma) ** (1/gamma)``: each frame is decoded to linear light with the
    camera response ``x**gamma``, the light is averaged (a long exposure adds up photons) and the
    mean is encoded again. ``gamma=None`` averages the encoded values directly, as the ``blur``
    folders of GoPro do; ``gamma=2.2`` gives its ``blur_gamma`` folders.

    Parameters
    ----------
    frames : ndarray, shape (N, H, W, C)
        N >= 1 frames, floats in [0, 1].
    gamma : float or None
        Exponent of the camera response; ``None`` averages the encoded values.

    Returns
    -------
    ndarray, shape (H, W, C)
        The blurry image, floats in [0, 1], same dtype as ``frames``.

    Examples
    --------
    A black and a white frame average to mid grey in encoded values, but to half the *light*
    with a gamma curve, which the eye sees (and the camera encodes) as much brighter:

    >>> frames = np.stack([np.zeros((1, 1, 3)), np.ones((1, 1, 3))])
    >>> float(average_frames(frames, gamma=None)[0, 0, 0])
    0.5
    >>> round(float(average_frames(frames, gamma=2.2)[0, 0, 0]), 3)
    0.73
    """
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames must have shape (N, H, W, C), got {frames.shape}")
    if frames.shape[0] == 0:
        raise ValueError("frames must hold at least one frame, got N = 0")
    if frames.dtype.kind != "f":
        raise ValueError(
            f"frames must be floats in [0, 1], got dtype {frames.dtype} "
            "(convert with skimage.util.img_as_float)"
        )
    lo, hi = float(frames.min()), float(frames.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"frames must be in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
    if gamma is None:
        return frames.mean(axis=0)
    if gamma <= 0:
        raise ValueError(f"gamma must be positive or None, got {gamma}")
    linear_light = frames**gamma
    return (linear_light.mean(axis=0) ** (1.0 / gamma)).astype(frames.dtype, copy=False)


# --- the blur pair ---------------------------------------------------------------------------


class BlurPair(NamedTuple):
    """A synthetic blurry/sharp pair and how it was made.

    Attributes
    ----------
    blurred : ndarray, shape (h, w, 3)
        The average of the frames, float32 in [0, 1].
    sharp : ndarray, shape (h, w, 3)
        The middle frame, float32 in [0, 1].
    motion : ndarray, shape (h, w)
        Blur length in pixels (path of the scene point seen at each pixel of ``sharp``).
    n_frames : int
        Number of averaged sub-frames N.
    frames : ndarray, shape (N, h, w, 3)
        The sub-frames, after noise and quantisation; ``sharp`` is ``frames[N // 2]``.
    trajectory : Trajectory
        The camera motion.
    """

    blurred: np.ndarray
    sharp: np.ndarray
    motion: np.ndarray
    n_frames: int
    frames: np.ndarray
    trajectory: Trajectory


def make_blur_pair(
    image: np.ndarray,
    rng: np.random.Generator | int,
    n_frames: int | None = None,
    size: tuple[int, int] | None = None,
    margin: int = 32,
    shake: float = 0.8,
    rotation: float = 0.1,
    n_objects: int | None = None,
    object_speed: float = 2.0,
    object_images: Sequence[np.ndarray] | None = None,
    gamma: float | None = GOPRO_GAMMA,
    noise_sigma: float = 0.005,
    quantize: bool = True,
) -> BlurPair:
    """Make a blurry/sharp pair from one still image, the GoPro way, with spatially variant blur.

    Renders ``n_frames`` sub-frames of a crop of ``image`` seen by a shaking camera
    (:func:`~svrnn_lite.motion.shake_trajectory`) with ``n_objects`` moving cut-outs in front
    (:func:`~svrnn_lite.motion.random_objects`, :func:`~svrnn_lite.render.render_frames`), adds
    sensor noise of standard deviation ``noise_sigma`` to each frame and rounds it to 8 bits (as
    a video frame is), then averages the frames (:func:`average_frames`) and rounds the average
    to 8 bits too. The sharp image is the middle frame. The crop is ``size`` pixels, placed at
    random at least ``margin`` pixels from the image border; the camera never moves further than
    ``margin`` pixels (a trajectory that would is scaled down), so no border ever comes into
    view.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3) or (H, W)
        RGB image, uint8, uint16 or float in [0, 1]; a grey image is copied into three channels.
    rng : numpy.random.Generator or int
        Random generator, or a seed for one; the pair is a deterministic function of it.
    n_frames : int, optional
        Number of averaged sub-frames; drawn from 7..13 (GoPro's range) by default.
    size : (int, int), optional
        Output size (h, w); by default the image shrunk by ``margin`` on every side.
    margin : int
        Room around the crop, in pixels: the image must be at least ``size + 2 * margin``.
    shake : float
        Typical camera speed, pixels per sub-frame
        (see :func:`~svrnn_lite.motion.shake_trajectory`).
    rotation : float
        Typical camera rotation speed, degrees per sub-frame.
    n_objects : int, optional
        Number of moving objects; drawn from 0..3 by default.
    object_speed : float
        Typical object speed, pixels per sub-frame, relative to the scene.
    object_images : sequence of ndarray, optional
        Images to cut the objects from (same input rules as ``image``); ``image`` itself by default.
    gamma : float or None
        Camera response used when averaging; ``None`` averages encoded values (GoPro ``blur``),
        2.2 linearises first (GoPro ``blur_gamma``).
    noise_sigma : float
        Standard deviation of the Gaussian sensor noise added to each frame; 0 for none.
    quantize : bool
        Round every frame and the blurry image to 8-bit levels ``k / 255``.

    Returns
    -------
    BlurPair
        ``blurred`` and ``sharp`` (h, w, 3) float32 in [0, 1], the blur length map ``motion``
        (h, w) in pixels, ``n_frames``, the sub-frames ``frames`` and the camera ``trajectory``.

    Examples
    --------
    >>> from skimage import data
    >>> pair = make_blur_pair(data.astronaut(), rng=0, size=(96, 128))
    >>> pair.blurred.shape, pair.sharp.shape, pair.motion.shape
    ((96, 128, 3), (96, 128, 3), (96, 128))
    >>> 7 <= pair.n_frames <= 13, bool(np.array_equal(pair.sharp, pair.frames[pair.n_frames // 2]))
    (True, True)
    """
    rng = np.random.default_rng(rng)
    image = as_rgb_float(image, "image")
    margin = int(margin)
    if margin < 1:
        raise ValueError(f"margin must be at least 1 pixel, got {margin}")
    height, width = image.shape[:2]
    if size is None:
        if min(height, width) <= 2 * margin:
            raise ValueError(
                f"image of shape {(height, width)} leaves no room for a {margin}-pixel margin: "
                "pass a larger image or a smaller margin"
            )
        size = (height - 2 * margin, width - 2 * margin)
    h, w = (int(s) for s in size)
    if h < 1 or w < 1:
        raise ValueError(f"size must be two positive integers (h, w), got {size}")
    if height < h + 2 * margin or width < w + 2 * margin:
        raise ValueError(
            f"image of shape {(height, width)} is too small for a {(h, w)} crop with a "
            f"{margin}-pixel margin: it must be at least {(h + 2 * margin, w + 2 * margin)}"
        )
    if n_frames is None:
        n_frames = int(rng.integers(7, 14))
    if n_objects is None:
        n_objects = int(rng.integers(0, 4))
    if noise_sigma < 0:
        raise ValueError(f"noise_sigma must be >= 0, got {noise_sigma}")

    # where the crop sits and what moves in front of it (drawn before the camera motion, so a
    # change of n_frames or shake keeps the same scene and objects)
    origin = (
        int(rng.integers(margin, height - h - margin + 1)),
        int(rng.integers(margin, width - w - margin + 1)),
    )
    sources = (
        [image]
        if object_images is None
        else [as_rgb_float(im, "object image") for im in object_images]
    )
    objects = random_objects(rng, (h, w), sources, n_objects=n_objects, speed=object_speed)

    # the camera: a random walk, scaled down if it would leave the margin
    trajectory = shake_trajectory(rng, n_frames, shake=shake, rotation=rotation)  # checks N
    n_frames = len(trajectory.dy)
    corner_radius = np.hypot(h, w) / 2
    reach = (
        np.abs([trajectory.dy, trajectory.dx]).max(axis=1)
        + corner_radius * np.abs(trajectory.theta).max()
    )
    if reach.max() > margin - 1:
        trajectory = Trajectory(*(np.stack(trajectory) * (margin - 1) / reach.max()))
    frames, motion = render_frames(image, origin, (h, w), trajectory, objects)

    if noise_sigma > 0:
        noise = rng.standard_normal(frames.shape, dtype=np.float32)
        noise *= noise_sigma
        frames += noise
        np.clip(frames, 0.0, 1.0, out=frames)
    if quantize:
        frames = to_8bit_levels(frames)
    blurred = average_frames(frames, gamma=gamma)
    if quantize:
        blurred = to_8bit_levels(blurred)
    return BlurPair(
        blurred=blurred,
        sharp=frames[n_frames // 2].copy(),
        motion=motion,
        n_frames=n_frames,
        frames=frames,
        trajectory=trajectory,
    )


def to_8bit_levels(x: np.ndarray) -> np.ndarray:
    """Round floats in [0, 1] to the 256 levels ``k / 255`` of an 8-bit image, as float32.

    Examples
    --------
    >>> (to_8bit_levels(np.array([0.0, 0.1, 1.0])) * 255).round(3).tolist()
    [0.0, 26.0, 255.0]
    """
    levels = np.multiply(x, 255.0, dtype=np.float32)
    np.round(levels, out=levels)
    levels /= 255.0
    return levels
