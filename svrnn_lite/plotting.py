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


def compare_images(
    reference: np.ndarray,
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    crop: tuple[slice, slice] | None = None,
    signed: bool = False,
    error_max: float = 0.1,
    error_label: str | None = None,
    size: float = 2.2,
) -> plt.Figure:
    """Show images next to a reference, enlarged on a crop, and where they differ from it.

    Columns: the reference, then each image. The top row shows the images, or only the region
    ``crop`` of each, enlarged. The bottom row shows, under each image, its difference from the
    reference on the whole image: ``|image - reference|`` (averaged over colours) from 0 to
    ``error_max``, or with ``signed=True`` the signed difference from ``-error_max`` (blue) to
    ``+error_max`` (red), with a colour bar; under the reference, the whole reference image with
    the crop outlined in yellow (or, without a crop, what the bottom row shows).

    Parameters
    ----------
    reference : ndarray
        (H, W) or (H, W, 3) floats, usually the sharp image.
    images : sequence of ndarray
        Same shape as ``reference``; floats are clipped to [0, 1] for display.
    titles : sequence of str
        One title for the reference and one per image (put the PSNR in them).
    crop : (slice, slice), optional
        Rows and columns of the region to enlarge.
    signed : bool
        Show signed differences instead of absolute ones.
    error_max : float
        End of the colour scale of the difference maps.
    error_label : str, optional
        Label of the colour bar; ``|image - reference|`` or ``image - reference`` by default.
    size : float
        Width of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> sharp = np.zeros((8, 8))
    >>> crop = (slice(2, 6), slice(2, 6))
    >>> fig = compare_images(sharp, [sharp + 0.1], ["sharp", "brighter"], crop)
    >>> len(fig.axes)                                   # 2 rows x 2 columns and a colour bar
    5
    >>> plt.close(fig)
    """
    reference = np.asarray(reference, dtype=np.float64)
    images = [np.asarray(image, dtype=np.float64) for image in images]
    if not images:
        raise ValueError("compare_images needs at least one image besides the reference")
    if len(titles) != len(images) + 1:
        raise ValueError(f"got {len(images)} images and a reference but {len(titles)} titles")
    for image in images:
        if image.shape != reference.shape:
            raise ValueError(f"image of shape {image.shape} differs from {reference.shape}")
    h, w = reference.shape[:2]
    crop = (slice(None), slice(None)) if crop is None else crop
    rows, cols = range(h)[crop[0]], range(w)[crop[1]]
    if not rows or not cols:
        raise ValueError(f"the crop {crop} is empty for an image of shape {(h, w)}")
    heights = [len(rows) / len(cols), h / w]
    columns = [reference, *images]
    fig, axes = plt.subplots(
        2,
        len(columns),
        figsize=(size * len(columns) + 0.8, 0.9 * size * sum(heights) + 0.7),
        height_ratios=heights,
        squeeze=False,
        layout="constrained",
    )
    cmap = "gray" if reference.ndim == 2 else None
    for ax, image, title in zip(axes[0], columns, titles, strict=True):
        ax.imshow(np.clip(image[crop], 0, 1), cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
    whole = (len(rows), len(cols)) == (h, w)
    if not whole:
        axes[0, 0].set_ylabel("yellow box, enlarged", fontsize=8)
    shown = None
    for ax, image in zip(axes[1, 1:], images, strict=True):
        diff = image - reference
        if diff.ndim == 3:
            diff = diff.mean(axis=-1) if signed else np.abs(diff).mean(axis=-1)
        elif not signed:
            diff = np.abs(diff)
        limits = (-error_max, error_max) if signed else (0.0, error_max)
        shown = ax.imshow(
            diff, cmap="RdBu_r" if signed else "inferno", vmin=limits[0], vmax=limits[1]
        )
    label = error_label or ("image - reference" if signed else "|image - reference|")
    if whole:
        axes[1, 0].axis("off")
        axes[1, 0].text(
            0.5, 0.5, f"below each image:\n{label}", ha="center", va="center", fontsize=9,
            transform=axes[1, 0].transAxes,
        )  # fmt: skip
    else:
        axes[1, 0].imshow(np.clip(reference, 0, 1), cmap=cmap, vmin=0, vmax=1)
        axes[1, 0].set_xlabel("the whole image", fontsize=8)
        for ax in axes[1]:
            ax.add_patch(
                mpl.patches.Rectangle(
                    (cols[0] - 0.5, rows[0] - 0.5), len(cols), len(rows), fill=False,
                    edgecolor="yellow", linewidth=1.0,
                )
            )  # fmt: skip
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    bar = fig.colorbar(shown, ax=list(axes[1]), shrink=0.9, location="right")
    bar.set_label(label, fontsize=8)
    return fig
