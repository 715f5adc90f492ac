"""Blur synthesis by frame averaging, the way the GoPro dataset was made.

Nah et al. (2017) filmed scenes at 240 frames per second and averaged N = 7..13 consecutive sharp
frames S_1..S_N into one blurry image B; the middle frame is the sharp target. A camera stores
gamma-encoded values, so light is added after decoding with the camera response g^-1(x) = x**gamma::

    B = g( (1/N) * sum_i g^-1(S_i) )          g(y) = y**(1/gamma)          (GoPro "blur_gamma")
    B = (1/N) * sum_i S_i                     (gamma=None: encoded values, GoPro "blur")

Without a high-speed camera this module renders the N frames itself, from one still image:

- the camera shakes: frame i sees the image through a rigid motion, a translation d_i plus an
  in-plane rotation theta_i about the crop centre, that follows a smooth random walk
  (:func:`shake_trajectory`) and is zero at the middle frame, so the sharp frame is an exact crop;
- foreground objects, soft-edged cut-outs of images, slide across the scene with their own
  velocities and hide what is behind them (:func:`random_objects`);
- every frame is a crop of a larger canvas, so no empty border ever slides into view;
- each frame gets its own sensor noise and is rounded to 8 bits, as a video frame is.

:func:`make_blur_pair` does all of it and also returns the per-pixel blur length, the path (in
pixels) that the scene point seen at each pixel of the sharp frame travels during the exposure.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from skimage.transform import AffineTransform, warp
from skimage.util import img_as_float32

__all__ = [
    "BlurPair",
    "MovingObject",
    "Trajectory",
    "average_frames",
    "make_blur_pair",
    "random_objects",
    "render_frames",
    "shake_trajectory",
]


# --- the GoPro average -----------------------------------------------------------------------


def average_frames(frames: np.ndarray, gamma: float | None = 2.2) -> np.ndarray:
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

    Explained in chapter *Blur synthesis by frame averaging*.
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


# --- camera shake ----------------------------------------------------------------------------


class Trajectory(NamedTuple):
    """Camera motion over the exposure: one rigid motion per sub-frame, zero at the middle one.

    Attributes
    ----------
    dy, dx : ndarray, shape (N,)
        Translation of the camera's view in pixels (rows, columns).
    theta : ndarray, shape (N,)
        In-plane rotation about the crop centre, in radians.
    """

    dy: np.ndarray
    dx: np.ndarray
    theta: np.ndarray


def shake_trajectory(
    rng: np.random.Generator | int,
    n_frames: int,
    shake: float = 0.8,
    rotation: float = 0.1,
    jitter: float = 0.3,
) -> Trajectory:
    """Sample a hand-shake trajectory: a smooth random walk of translation and rotation.

    The camera starts with a random velocity ``v_1 ~ N(0, shake^2)`` (pixels per sub-frame, per
    axis) which changes a little at every sub-frame, ``v_{i+1} = v_i + a_i`` with
    ``a_i ~ N(0, (jitter * shake)^2)``; positions are the running sum of the velocities. The
    rotation angle follows the same walk with ``rotation`` degrees per sub-frame. Everything is
    shifted so that the middle sub-frame ``N // 2`` (for even N the later of the two central ones)
    has no motion: that frame is the sharp target.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Random generator, or a seed for one.
    n_frames : int
        Number of sub-frames N >= 1.
    shake : float
        Typical camera speed, pixels per sub-frame (standard deviation per axis).
    rotation : float
        Typical rotation speed, degrees per sub-frame (standard deviation).
    jitter : float
        How much the velocity changes from one sub-frame to the next, relative to its size;
        0 gives straight, uniform motion.

    Returns
    -------
    Trajectory
        Arrays ``dy, dx, theta`` of length N, zero at index ``N // 2``.

    Examples
    --------
    >>> t = shake_trajectory(np.random.default_rng(0), n_frames=7)
    >>> t.dx.shape, float(t.dx[3]), float(t.theta[3])
    ((7,), 0.0, 0.0)
    >>> still = shake_trajectory(0, n_frames=5, shake=0.0, rotation=0.0)
    >>> float(np.abs(np.stack(still)).max())
    0.0

    Explained in chapter *Blur synthesis by frame averaging*.
    """
    rng = np.random.default_rng(rng)
    n_frames = _check_n_frames(n_frames)
    for name, value in (("shake", shake), ("rotation", rotation), ("jitter", jitter)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    scale = np.array([shake, shake, np.deg2rad(rotation)])  # dy, dx, theta
    velocity = rng.normal(0.0, 1.0, 3) * scale
    acceleration = rng.normal(0.0, 1.0, (n_frames - 1, 3)) * scale * jitter
    velocities = velocity + np.cumsum(acceleration, axis=0)  # motion from frame i to i+1
    positions = np.concatenate([np.zeros((1, 3)), np.cumsum(velocities, axis=0)])
    positions -= positions[n_frames // 2]
    return Trajectory(*positions.T.copy())


# --- moving objects --------------------------------------------------------------------------


class MovingObject(NamedTuple):
    """A soft-edged cut-out that slides across the scene.

    Attributes
    ----------
    texture : ndarray, shape (h, w, 3)
        Colours, premultiplied by ``alpha``.
    alpha : ndarray, shape (h, w)
        Coverage in [0, 1]; 0 outside the cut-out, a one-pixel ramp at its edge.
    center : ndarray, shape (2,)
        Position (row, column) of the texture's centre at the middle frame, in output pixels.
    velocity : ndarray, shape (2,)
        Motion relative to the scene, pixels per sub-frame (rows, columns).
    """

    texture: np.ndarray
    alpha: np.ndarray
    center: np.ndarray
    velocity: np.ndarray


def random_objects(
    rng: np.random.Generator | int,
    shape: tuple[int, int],
    sources: Sequence[np.ndarray],
    n_objects: int = 2,
    speed: float = 2.0,
    size: tuple[float, float] = (0.08, 0.25),
) -> list[MovingObject]:
    """Cut random blob-shaped objects out of images and give each a velocity.

    An object's outline is a random smooth blob, radius ``r(phi) = R (1 + sum_k a_k cos(k phi +
    phi_k))`` around its centre; its edge is anti-aliased by a one-pixel ramp. The texture is a
    random window of one of ``sources`` (flipped at random). Each object gets a random direction
    and a speed ``|v| = speed * U(0.5, 1.5)`` pixels per sub-frame. Later objects are in front.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Random generator, or a seed for one.
    shape : (int, int)
        Size (H, W) of the output frames; centres are drawn uniformly inside it.
    sources : sequence of ndarray
        RGB float images in [0, 1] to cut textures from; those smaller than an object are skipped.
    n_objects : int
        Number of objects.
    speed : float
        Typical object speed in pixels per sub-frame.
    size : (float, float)
        Range of the blob radius R, as fractions of ``min(H, W)``.

    Returns
    -------
    list of MovingObject

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> objs = random_objects(rng, (64, 64), [np.full((100, 100, 3), 0.5)], n_objects=2)
    >>> len(objs), objs[0].texture.shape[:2] == objs[0].alpha.shape
    (2, True)

    Explained in chapter *Blur synthesis by frame averaging*.
    """
    rng = np.random.default_rng(rng)
    if n_objects < 0:
        raise ValueError(f"n_objects must be >= 0, got {n_objects}")
    if n_objects > 0 and len(sources) == 0:
        raise ValueError("random_objects needs at least one source image to cut objects from")
    objects = []
    for _ in range(n_objects):
        radius = rng.uniform(*size) * min(shape)
        half = int(np.ceil(radius * 1.6)) + 1  # r(phi) <= R (1 + 0.25 * (1 + 1/2 + 1/3 + 1/4))
        yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
        rho, phi = np.hypot(yy, xx), np.arctan2(yy, xx)
        outline = np.ones_like(phi)
        for k in (1, 2, 3, 4):
            outline += rng.uniform(0.0, 0.25 / k) * np.cos(k * phi + rng.uniform(0, 2 * np.pi))
        alpha = np.clip(radius * outline - rho + 0.5, 0.0, 1.0)  # one-pixel anti-aliased edge

        side = 2 * half + 1
        large_enough = [im for im in sources if min(im.shape[:2]) >= side]
        if not large_enough:
            raise ValueError(
                f"no object source image is at least {side}x{side} pixels, the size of an object "
                f"of radius {radius:.0f} (source shapes: {[im.shape[:2] for im in sources]})"
            )
        source = large_enough[rng.integers(len(large_enough))]
        top = rng.integers(source.shape[0] - side + 1)
        left = rng.integers(source.shape[1] - side + 1)
        texture = source[top : top + side, left : left + side]
        if rng.random() < 0.5:
            texture = texture[:, ::-1]
        center = rng.uniform(0, 1, 2) * np.array(shape, float)
        direction = rng.uniform(0, 2 * np.pi)
        velocity = speed * rng.uniform(0.5, 1.5) * np.array([np.sin(direction), np.cos(direction)])
        objects.append(
            MovingObject(
                texture=(texture * alpha[..., None]).astype(np.float32),
                alpha=alpha.astype(np.float32),
                center=center,
                velocity=velocity,
            )
        )
    return objects


# --- rendering -------------------------------------------------------------------------------


def _rotation(theta: float) -> np.ndarray:
    """Rotation matrix acting on (row, column) vectors."""
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def _warp(image: np.ndarray, matrix: np.ndarray, offset: np.ndarray, shape) -> np.ndarray:
    """Bilinear warp of a channel-first image: ``out[:, p] = image[:, matrix @ p + offset]``.

    ``p`` are (row, column) coordinates; pixels that fall outside ``image`` are 0.
    """
    # skimage.transform.warp takes the same map in (x, y) = (column, row) order
    (a, b), (c, d) = matrix
    inverse_map = AffineTransform(matrix=[[d, c, offset[1]], [b, a, offset[0]], [0.0, 0.0, 1.0]])
    out = np.empty((image.shape[0], *shape), image.dtype)
    for channel, result in zip(image, out, strict=True):
        result[...] = warp(
            channel, inverse_map, output_shape=shape, order=1, mode="constant", cval=0.0,
            clip=False, preserve_range=True,
        )  # fmt: skip
    return out


def render_frames(
    canvas: np.ndarray,
    origin: tuple[int, int],
    shape: tuple[int, int],
    trajectory: Trajectory,
    objects: Sequence[MovingObject] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Render the sharp sub-frames a shaking camera sees of a scene with moving objects.

    Sub-frame ``i`` (time ``tau = i - N // 2``) looks at the canvas through the camera motion
    ``q = R(theta_i) (p - c) + c + origin + d_i``, with ``p`` an output pixel and ``c`` the
    output's centre, sampled with bilinear interpolation (``skimage.transform.warp``); object ``k``
    sits at ``origin + center_k + velocity_k * tau`` in the canvas and is composited over the
    background and the objects before it ("over" operator).

    Also returns the blur length: the scene point seen at output pixel ``p`` in the middle frame
    is seen at ``p_i = R(theta_i)^T (p + w tau - c - d_i) + c`` in frame ``i`` (``w`` is the
    velocity of the object on top at ``p``, zero for the background); its path length is
    ``sum_i |p_{i+1} - p_i|``.

    Parameters
    ----------
    canvas : ndarray, shape (H, W, 3)
        The scene, floats in [0, 1], larger than the output by the trajectory's reach.
    origin : (int, int)
        Canvas position (row, column) of the output's top-left pixel in the middle frame.
    shape : (int, int)
        Output size (h, w).
    trajectory : Trajectory
        Camera motion, one entry per sub-frame.
    objects : sequence of MovingObject
        Foreground objects, back to front.

    Returns
    -------
    frames : ndarray, shape (N, h, w, 3)
        The sharp sub-frames, float32.
    motion : ndarray, shape (h, w)
        Blur length in pixels at each pixel of the middle frame, float32.

    Examples
    --------
    Without motion every frame is the crop:

    >>> canvas = np.random.default_rng(0).random((20, 20, 3)).astype(np.float32)
    >>> still = shake_trajectory(0, 3, shake=0.0, rotation=0.0)
    >>> frames, motion = render_frames(canvas, (5, 5), (10, 10), still)
    >>> bool(np.allclose(frames, canvas[5:15, 5:15], atol=1e-6)), float(motion.max())
    (True, 0.0)

    Explained in chapter *Blur synthesis by frame averaging*.
    """
    canvas = _as_rgb_float(canvas, "canvas")
    h, w = (int(s) for s in shape)
    top, left = (int(o) for o in origin)
    if (
        h < 1
        or w < 1
        or top < 0
        or left < 0
        or top + h > canvas.shape[0]
        or left + w > canvas.shape[1]
    ):
        raise ValueError(
            f"a {(h, w)} crop at {(top, left)} does not fit in a canvas of shape {canvas.shape[:2]}"
        )
    n = len(trajectory.theta)
    if n == 0 or not len(trajectory.dy) == len(trajectory.dx) == n:
        raise ValueError(f"trajectory must hold N >= 1 equally long arrays, got {trajectory}")
    mid = n // 2
    center = np.array([(h - 1) / 2, (w - 1) / 2])
    origin = np.array([top, left], float)
    canvas = _channels_first(canvas)
    textures = [_channels_first(obj.texture) for obj in objects]
    alphas = [obj.alpha[None].astype(np.float32) for obj in objects]
    frames = np.empty((n, h, w, 3), np.float32)
    top_layer = np.zeros((h, w), np.intp)  # 0 = background, k + 1 = object k, in the middle frame
    for i in range(n):
        tau = i - mid
        rot = _rotation(trajectory.theta[i])
        shift = np.array([trajectory.dy[i], trajectory.dx[i]])
        offset = center - rot @ center + origin + shift  # canvas q = rot @ p + offset
        frame = _warp(canvas, rot, offset, shape)
        for k, obj in enumerate(objects):
            oh, ow = obj.alpha.shape
            # object texture coordinates u = q - (origin + center_k + v_k tau) + texture centre
            obj_offset = (
                offset - origin - obj.center - obj.velocity * tau + [oh / 2 - 0.5, ow / 2 - 0.5]
            )
            # bounding box of the texture in output pixels p = rot^T (u - obj_offset)
            corners = np.array([[0, 0], [0, ow - 1], [oh - 1, 0], [oh - 1, ow - 1]], float)
            p = (corners - obj_offset) @ rot  # row j is rot^T @ (corner_j - obj_offset)
            r0, c0 = np.maximum(np.floor(p.min(axis=0)).astype(int) - 1, 0)
            r1, c1 = np.minimum(np.ceil(p.max(axis=0)).astype(int) + 2, (h, w))
            if r0 >= r1 or c0 >= c1:
                continue  # the object is out of view in this frame
            box_offset = obj_offset + rot @ [r0, c0]
            alpha = _warp(alphas[k], rot, box_offset, (r1 - r0, c1 - c0))
            texture = _warp(textures[k], rot, box_offset, (r1 - r0, c1 - c0))
            region = frame[:, r0:r1, c0:c1]
            region *= 1.0 - alpha  # "over": the object hides what is behind it
            region += texture  # (texture is premultiplied by alpha)
            if i == mid:
                top_layer[r0:r1, c0:c1][alpha[0] > 0.5] = k + 1
        frames[i] = frame.transpose(1, 2, 0)
    np.clip(frames, 0.0, 1.0, out=frames)

    # blur length: the scene point seen at p in the middle frame is seen at p_i in frame i,
    # p_i - c = R_i^T (p - c + w tau - d_i); c itself cancels in the steps p_{i+1} - p_i
    velocities = np.array([[0.0, 0.0]] + [obj.velocity for obj in objects], np.float32)
    wy, wx = np.moveaxis(velocities[top_layer], -1, 0)
    yy, xx = (np.mgrid[0:h, 0:w] - center[:, None, None]).astype(np.float32)  # p - c

    def seen_at(i: int) -> tuple[np.ndarray, np.ndarray]:
        y = yy + (wy * (i - mid) - np.float32(trajectory.dy[i]))
        x = xx + (wx * (i - mid) - np.float32(trajectory.dx[i]))
        cos, sin = np.float32(np.cos(trajectory.theta[i])), np.float32(np.sin(trajectory.theta[i]))
        return cos * y + sin * x, cos * x - sin * y

    motion = np.zeros((h, w), np.float32)
    previous = seen_at(0)
    for i in range(1, n):
        current = seen_at(i)
        motion += np.hypot(current[0] - previous[0], current[1] - previous[1])
        previous = current
    return frames, motion


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
    gamma: float | None = 2.2,
    noise_sigma: float = 0.005,
    quantize: bool = True,
) -> BlurPair:
    """Make a blurry/sharp pair from one still image, the GoPro way, with spatially variant blur.

    Renders ``n_frames`` sub-frames of a crop of ``image`` seen by a shaking camera
    (:func:`shake_trajectory`) with ``n_objects`` moving cut-outs in front
    (:func:`random_objects`, :func:`render_frames`), adds sensor noise of standard deviation
    ``noise_sigma`` to each frame and rounds it to 8 bits (as a video frame is), then averages
    the frames (:func:`average_frames`) and rounds the average to 8 bits too. The sharp image
    is the middle frame. The crop is ``size`` pixels, placed at random at least ``margin``
    pixels from the image border; the camera never moves further than ``margin`` pixels (a
    trajectory that would is scaled down), so no border ever comes into view.

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
        Typical camera speed, pixels per sub-frame (see :func:`shake_trajectory`).
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

    Explained in chapter *Blur synthesis by frame averaging*.
    """
    rng = np.random.default_rng(rng)
    image = _as_rgb_float(image, "image")
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
    n_frames = int(rng.integers(7, 14)) if n_frames is None else _check_n_frames(n_frames)
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
        else [_as_rgb_float(im, "object image") for im in object_images]
    )
    objects = random_objects(rng, (h, w), sources, n_objects=n_objects, speed=object_speed)

    # the camera: a random walk, scaled down if it would leave the margin
    trajectory = shake_trajectory(rng, n_frames, shake=shake, rotation=rotation)
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
        frames = _to_8bit_levels(frames)
    blurred = average_frames(frames, gamma=gamma)
    if quantize:
        blurred = _to_8bit_levels(blurred)
    return BlurPair(
        blurred=blurred,
        sharp=frames[n_frames // 2].copy(),
        motion=motion,
        n_frames=n_frames,
        frames=frames,
        trajectory=trajectory,
    )


# --- helpers ---------------------------------------------------------------------------------


def _channels_first(image: np.ndarray) -> np.ndarray:
    """(H, W, C) float image as a contiguous float32 (C, H, W) array, for per-channel warps."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(image, np.float32), -1, 0))


def _to_8bit_levels(x: np.ndarray) -> np.ndarray:
    """Round floats in [0, 1] to the 256 levels ``k / 255`` of an 8-bit image, as float32."""
    levels = np.multiply(x, 255.0, dtype=np.float32)
    np.round(levels, out=levels)
    levels /= 255.0
    return levels


def _check_n_frames(n_frames) -> int:
    if int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames}")
    return int(n_frames)


def _as_rgb_float(image, name: str) -> np.ndarray:
    """Any uint8/uint16/float image, grey or RGB, as float32 (H, W, 3) in [0, 1]."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3) or (H, W), got {image.shape}")
    if image.dtype.kind not in "uf" and image.dtype != bool:
        raise ValueError(f"{name} must be unsigned integers or floats, got dtype {image.dtype}")
    if image.dtype.kind == "f":
        lo, hi = float(image.min()), float(image.max())
        if not (0.0 <= lo and hi <= 1.0):
            raise ValueError(f"float {name} must be in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
    return img_as_float32(image)
