"""Deblurring whole photos of any size with bounded memory: overlapping tiles, blended.

A 24-megapixel photo does not fit through the network in one piece on a laptop, so we cut it
into overlapping tiles, deblur each tile, and blend the results as a weighted average. In each
overlap the quarter next to a cut gets weight zero, so pixels near a tile's border, where the
network saw a cut-off context, never reach the output; the middle half is a linear cross-fade.
Explained in chapter *Evaluation*.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm


def tile_windows(length: int, tile: int, overlap: int) -> list[tuple[int, int, np.ndarray]]:
    """Split ``range(length)`` into overlapping tiles with blending weights.

    Parameters
    ----------
    length : int
        Size of the axis.
    tile : int
        Tile size; the axis is one tile when ``length <= tile``.
    overlap : int
        Minimum overlap between neighbouring tiles, ``0 <= overlap < tile / 2``.

    Returns
    -------
    list of (start, stop, weights)
        ``weights`` has length ``stop - start``; it is 0 within a quarter of the overlap from a
        cut, and every position gets a positive total weight.

    Examples
    --------
    >>> tiles = tile_windows(10, tile=6, overlap=2)
    >>> [(start, stop) for start, stop, _ in tiles]
    [(0, 6), (4, 10)]
    >>> tiles[0][2].round(2).tolist()   # full weight, fade out, nothing next to the cut
    [1.0, 1.0, 1.0, 1.0, 0.75, 0.25]
    """
    if tile < 1 or not 0 <= overlap < tile / 2:
        raise ValueError(f"need tile >= 1 and 0 <= overlap < tile / 2, got {tile=}, {overlap=}")
    if length <= tile:
        return [(0, length, np.ones(length))]
    n = math.ceil((length - overlap) / (tile - overlap))
    starts = np.round(np.linspace(0, length - tile, n)).astype(int)
    windows = [np.ones(tile) for _ in starts]
    for i in range(n - 1):
        shared = starts[i] + tile - starts[i + 1]  # >= overlap by construction
        margin = shared // 4  # pixels next to a cut get no weight at all
        ramp = (np.arange(shared - 2 * margin) + 0.5) / (shared - 2 * margin)
        fade_in = np.concatenate([np.zeros(margin), ramp, np.ones(margin)])
        windows[i][tile - shared :] *= fade_in[::-1]
        windows[i + 1][:shared] *= fade_in
    return [(int(s), int(s) + tile, w) for s, w in zip(starts, windows, strict=True)]


@torch.inference_mode()
def deblur(
    model: Callable[[torch.Tensor], torch.Tensor],
    image: np.ndarray,
    tile: int | None = 512,
    overlap: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Deblur an RGB image with ``model``, tile by tile when it is larger than ``tile``.

    Parameters
    ----------
    model : callable
        Maps a (1, 3, h, w) float tensor in [0, 1] to a tensor of the same shape (any
        ``nn.Module`` of :mod:`svrnn_lite.models`; put it in ``eval()`` mode first).
    image : ndarray
        (H, W, 3) floats in [0, 1], or uint8.
    tile : int or None
        Tile size in pixels; ``None`` runs the whole image at once.
    overlap : int
        Overlap between neighbouring tiles (at least twice the blur you expect to remove).
    progress : bool
        Show a progress bar over the tiles.

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
        The model's output, not clipped.

    Examples
    --------
    >>> identity = lambda x: x
    >>> img = np.random.default_rng(0).random((300, 200, 3))
    >>> np.allclose(deblur(identity, img, tile=128, overlap=32), img)
    True
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
    if image.dtype != np.uint8 and image.dtype.kind != "f":
        raise ValueError(f"image must be floats in [0, 1] or uint8, got dtype {image.dtype}")
    scale = 1 / 255 if image.dtype == np.uint8 else 1.0  # converted tile by tile, not all at once
    height, width = image.shape[:2]
    if tile is None:  # one tile: the whole image
        rows, cols = tile_windows(height, height, 0), tile_windows(width, width, 0)
    else:
        rows, cols = tile_windows(height, tile, overlap), tile_windows(width, tile, overlap)
    device = next(iter(getattr(model, "parameters", list)()), torch.empty(0)).device

    out = np.zeros((height, width, 3), dtype=np.float32)
    bar = tqdm(total=len(rows) * len(cols), desc="tiles", disable=not progress, leave=False)
    for y0, y1, wy in rows:
        for x0, x1, wx in cols:
            patch = np.multiply(image[y0:y1, x0:x1], scale, dtype=np.float32)
            patch = torch.from_numpy(patch).permute(2, 0, 1)[None].to(device)
            restored = model(patch)[0].permute(1, 2, 0).float().cpu().numpy()
            weight = (wy[:, None] * wx[None, :]).astype(np.float32)[..., None]
            out[y0:y1, x0:x1] += weight * restored
            bar.update()
    bar.close()
    # The tile weights are products wy * wx, so their sum over the grid is (sum of wy) times
    # (sum of wx): two 1-D divisions instead of a full-size weight image.
    out /= _weight_sum(rows, height)[:, None, None]
    out /= _weight_sum(cols, width)[None, :, None]
    return out


def _weight_sum(windows: list[tuple[int, int, np.ndarray]], length: int) -> np.ndarray:
    """Total blending weight of each position along one axis (positive everywhere)."""
    total = np.zeros(length, dtype=np.float32)
    for start, stop, weights in windows:
        total[start:stop] += weights
    return total
