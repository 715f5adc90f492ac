"""Rendering the sharp sub-frames a shaking camera sees of a scene with moving objects.

Every sub-frame is a crop of a larger canvas seen through the camera's rigid motion
(:class:`~svrnn_lite.motion.Trajectory`), sampled with bilinear interpolation, with the moving
objects (:class:`~svrnn_lite.motion.MovingObject`) composited over it; :func:`render_frames`
also measures how far the scene point seen at each pixel travels during the exposure.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.transform import AffineTransform, warp
from skimage.util import img_as_float32

from svrnn_lite.motion import MovingObject, Trajectory

__all__ = ["as_rgb_float", "render_frames"]


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

    >>> from svrnn_lite.motion import shake_trajectory
    >>> canvas = np.random.default_rng(0).random((20, 20, 3)).astype(np.float32)
    >>> still = shake_trajectory(0, 3, shake=0.0, rotation=0.0)
    >>> frames, motion = render_frames(canvas, (5, 5), (10, 10), still)
    >>> bool(np.allclose(frames, canvas[5:15, 5:15], atol=1e-6)), float(motion.max())
    (True, 0.0)
    """
    canvas = as_rgb_float(canvas, "canvas")
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


def _channels_first(image: np.ndarray) -> np.ndarray:
    """(H, W, C) float image as a contiguous float32 (C, H, W) array, for per-channel warps."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(image, np.float32), -1, 0))


def as_rgb_float(image, name: str = "image") -> np.ndarray:
    """Any uint8/uint16/float image, grey or RGB, as float32 (H, W, 3) in [0, 1].

    Raises
    ------
    ValueError
        Naming the image ``name``: a shape that is not (H, W, 3) or (H, W), another dtype, or
        floats outside [0, 1].

    Examples
    --------
    >>> as_rgb_float(np.array([[0, 255]], np.uint8)).tolist()
    [[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]]
    >>> as_rgb_float(np.full((2, 2), 1.5), "canvas")
    Traceback (most recent call last):
    ...
    ValueError: float canvas must be in [0, 1], got values in [1.5, 1.5]
    """
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
