"""What moves while the shutter is open: the camera's shake and the objects in front of it.

A hand-held camera follows a smooth random walk of translation and in-plane rotation
(:func:`shake_trajectory`); foreground objects, soft-edged cut-outs of images, slide across the
scene with their own velocities (:func:`random_objects`). :func:`svrnn_lite.render.render_frames`
turns both into the sharp sub-frames of one exposure, and :func:`svrnn_lite.blur.make_blur_pair`
averages them.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["MovingObject", "Trajectory", "random_objects", "shake_trajectory"]


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


def _check_n_frames(n_frames) -> int:
    if int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames}")
    return int(n_frames)
