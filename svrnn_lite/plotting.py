"""Figure helpers shared by every chapter of the book.

Figures in the book have white backgrounds so they stay readable when the reader switches the
site to dark mode, and image grids all look alike. Only plotting lives here; the maths of each
chapter lives in its own module.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

BOOK_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "font.size": 10,
    "axes.titlesize": 10,
    "image.interpolation": "nearest",
}


def use_book_style() -> None:
    """Set matplotlib defaults for the book: white backgrounds, small fonts, crisp pixels.

    Every chapter calls this once in its first (hidden) cell.

    Examples
    --------
    >>> use_book_style()
    >>> import matplotlib as mpl
    >>> mpl.rcParams["figure.facecolor"]
    'white'
    """
    mpl.rcParams.update(BOOK_STYLE)


def show_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 3.0,
    cmap: str = "gray",
    **imshow_kwargs,
) -> plt.Figure:
    """Show images side by side in one figure, without axes.

    Parameters
    ----------
    images : sequence of ndarray
        Each (H, W) or (H, W, 3); float images are clipped to [0, 1] for display.
    titles : sequence of str, optional
        One title per image.
    ncols : int, optional
        Number of columns; all images in one row by default.
    size : float
        Width of one panel in inches.
    cmap : str
        Colour map for single-channel images.
    **imshow_kwargs
        Passed to :func:`matplotlib.axes.Axes.imshow` (e.g. ``vmin``, ``vmax``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = show_images([np.zeros((4, 4)), np.ones((4, 4, 3))], titles=["black", "white"])
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    h, w = np.asarray(images[0]).shape[:2]
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows * h / w + 0.4 * nrows), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.flat, images, strict=False)):
        img = np.asarray(img)
        if img.dtype.kind == "f" and "vmin" not in imshow_kwargs:
            img = np.clip(img, 0.0, 1.0)
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None, **imshow_kwargs)
        if titles is not None:
            ax.set_title(titles[i])
    fig.tight_layout()
    return fig
