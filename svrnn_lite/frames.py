"""Real blurry/sharp pairs from consecutive high-speed video frames: GoPro's own recipe.

Nah et al. (2017) made every GoPro pair by averaging N = 7..13 consecutive sharp frames of a
240-fps video (the gamma-encoded values: their ``blur`` variant; ``blur_gamma`` averages in
linear light) and keeping the centre frame as the target. Given such frames,
:func:`frame_windows` plans the windows of a training split and of a held-out block at the end
of the video, and :func:`average_window` makes one pair.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from svrnn_lite.blur import average_frames, to_8bit_levels
from svrnn_lite.images import load_image

__all__ = ["N_FRAMES", "average_window", "frame_windows"]

#: GoPro's range of averaged frames.
N_FRAMES = (7, 13)


def frame_windows(
    n_total: int,
    held_out: int = 60,
    test_every: int = 4,
    seed: int = 0,
    n_frames: tuple[int, int] = N_FRAMES,
) -> dict[str, list[tuple[int, int]]]:
    """The ``(first, n)`` frame windows of each split of a video of ``n_total`` frames.

    The centre (target) frame of a window is ``first + n // 2``; ``n`` is drawn from
    ``n_frames`` (GoPro's :data:`N_FRAMES` by default; longer windows make longer exposures,
    stronger blur). Training windows (one per centre) end before the last ``held_out`` frames;
    test windows (every ``test_every``-th centre) lie inside them, so no training window ever
    sees a test frame.

    Raises
    ------
    ValueError
        If ``n_frames`` is not a range of lengths >= 1, or either side has no room for a window
        of the longest length.

    Examples
    --------
    >>> w = frame_windows(40, held_out=15, test_every=5)
    >>> max(first + n for first, n in w["train"]) <= 25 <= min(first for first, _ in w["test"])
    True
    >>> len(w["train"]), len(w["test"])
    (13, 1)
    """
    shortest, longest = n_frames
    if not 1 <= shortest <= longest:
        raise ValueError(
            f"n_frames must be (shortest, longest) with 1 <= shortest <= longest, "
            f"got {tuple(n_frames)}"
        )
    if held_out < longest or n_total - held_out < longest:
        raise ValueError(
            f"{n_total} frames with {held_out} held out leave no room for a {longest}-frame "
            "window on each side: use more frames or change the held-out block"
        )
    rng = np.random.default_rng(seed)
    boundary = n_total - held_out
    plan: dict[str, list[tuple[int, int]]] = {"train": [], "test": []}
    for split, low, high, step in (
        ("train", 0, boundary, 1),
        ("test", boundary, n_total, test_every),
    ):
        for centre in range(low + longest // 2, high - longest // 2, step):
            n = int(rng.integers(shortest, longest + 1))
            plan[split].append((centre - n // 2, n))
    return plan


def average_window(
    files: Sequence[str | os.PathLike], first: int, n: int, gamma: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The GoPro pair of frames ``first .. first + n - 1``: their average and the centre frame.

    ``gamma=None`` averages the encoded values (GoPro ``blur``); ``gamma=2.2`` averages in
    linear light (GoPro ``blur_gamma``, :func:`svrnn_lite.blur.average_frames`), as a long
    exposure adds up light.

    Returns
    -------
    blurred, sharp : ndarray, float32, shape (H, W, 3)
        The average of the frames rounded to 8 bits, and frame ``first + n // 2``.
    """
    frames = np.stack([load_image(path) for path in files[first : first + n]])
    return to_8bit_levels(average_frames(frames, gamma=gamma)), frames[n // 2]
