"""Dead-leaves images: endless sharp training content with the statistics of natural photos.

Fourteen bundled photographs are too few to train a deblurring network on: it learns their
textures instead of how blur works. The dead-leaves model (Matheron 1968; Lee, Mumford and
Huang 2001) draws as many new sharp images as we like. Opaque discs fall on the canvas one
after another, each hidden behind the ones before it (we render front to back), until the
canvas is covered. Radii follow the power law

    p(r) ∝ r^(-3),   r_min <= r <= r_max,

which makes the image look the same at every scale, as natural photos do, with sharp occlusion
edges of every orientation and length: exactly what a deblurring network must restore.
Achddou et al. (2021) showed that restoration networks trained on such images come close to
ones trained on photographs. Disc colours are pixels drawn from the bundled photographs, so the
colour statistics are natural too.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dead_leaves", "sample_radii"]


def sample_radii(
    rng: np.random.Generator, n: int, r_min: float, r_max: float, alpha: float = 3.0
) -> np.ndarray:
    """Draw ``n`` radii from ``p(r) ∝ r^(-alpha)`` on ``[r_min, r_max]`` by inverting the CDF.

    Examples
    --------
    >>> r = sample_radii(np.random.default_rng(0), 10_000, 2.0, 100.0)
    >>> bool(r.min() >= 2.0 and r.max() <= 100.0), bool(np.median(r) < 4.0)
    (True, True)
    """
    if not 0 < r_min < r_max:
        raise ValueError(f"need 0 < r_min < r_max, got r_min={r_min}, r_max={r_max}")
    u = rng.random(n)
    a, b = r_min ** (1 - alpha), r_max ** (1 - alpha)
    return (a - u * (a - b)) ** (1 / (1 - alpha))


def dead_leaves(
    size: tuple[int, int],
    rng: np.random.Generator | int,
    colors: np.ndarray | None = None,
    r_min: float = 2.0,
    r_max: float | None = None,
    supersample: int = 2,
    max_discs: int = 20_000,
) -> np.ndarray:
    """A random dead-leaves image.

    Parameters
    ----------
    size : (int, int)
        Height and width in pixels.
    rng : numpy.random.Generator or int
        Random generator, or a seed for one.
    colors : ndarray, shape (N, 3), optional
        Colours to draw the discs' colours from (e.g. pixels of photographs); uniform RGB if
        omitted.
    r_min, r_max : float
        Smallest and largest disc radius in pixels; ``r_max`` defaults to half the longer side.
    supersample : int
        Render at this many times the size and average down, so disc edges are anti-aliased as
        a camera's would be.
    max_discs : int
        Stop after this many discs; pixels still uncovered take the last disc's colour.

    Returns
    -------
    ndarray, shape (H, W, 3)
        float32 in [0, 1].

    Examples
    --------
    >>> image = dead_leaves((48, 64), rng=0)
    >>> image.shape, image.dtype, bool(0 <= image.min() and image.max() <= 1)
    ((48, 64, 3), dtype('float32'), True)
    """
    rng = np.random.default_rng(rng)
    height, width = (int(s) for s in size)
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size}")
    if colors is not None and (np.ndim(colors) != 2 or np.shape(colors)[1] != 3):
        raise ValueError(f"colors must have shape (N, 3), got {np.shape(colors)}")
    s = int(supersample)
    H, W = height * s, width * s
    r_max = max(height, width) / 2 if r_max is None else r_max
    image = np.zeros((H, W, 3), np.float32)
    covered = np.zeros((H, W), bool)
    uncovered = H * W
    batch = 256
    color = np.zeros(3, np.float32)
    drawn = 0
    while uncovered and drawn < max_discs:
        radii = sample_radii(rng, batch, r_min * s, r_max * s)
        centres = rng.uniform((-r_max * s, -r_max * s), (H + r_max * s, W + r_max * s), (batch, 2))
        if colors is None:
            palette = rng.random((batch, 3)).astype(np.float32)
        else:
            palette = np.asarray(colors, np.float32)[rng.integers(len(colors), size=batch)]
        for (cy, cx), r, color in zip(centres, radii, palette, strict=True):
            top, bottom = max(int(cy - r), 0), min(int(cy + r) + 1, H)
            left, right = max(int(cx - r), 0), min(int(cx + r) + 1, W)
            if top >= bottom or left >= right:
                continue
            yy = np.arange(top, bottom)[:, None] + 0.5 - cy
            xx = np.arange(left, right)[None, :] + 0.5 - cx
            free = (yy**2 + xx**2 <= r**2) & ~covered[top:bottom, left:right]
            if free.any():
                image[top:bottom, left:right][free] = color
                covered[top:bottom, left:right] |= free
                uncovered -= int(free.sum())
        drawn += batch
    image[~covered] = color
    image = image.reshape(height, s, width, s, 3).mean(axis=(1, 3))
    return np.clip(image, 0.0, 1.0).astype(np.float32)
