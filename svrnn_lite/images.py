"""Reading and writing the photos a user hands to the command line, whatever they are.

:func:`load_image` turns any common image file into RGB floats in [0, 1]: 8- and 16-bit, grey,
grey + alpha, RGBA, palette, float TIFF, EXIF-rotated JPEG. A file that is not an image, or is
truncated, gives one :class:`ImageError` naming the file. :func:`save_image` writes atomically
(a temporary file, then a rename), so an interrupted job leaves no half-written image.
Explained in chapter *Evaluation*.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, ImageOps

TIFF_SUFFIXES = (".tif", ".tiff")


class ImageError(ValueError):
    """A file that cannot be used as an image; the message names the file and the problem."""


def load_image(path: str | os.PathLike, with_alpha: bool = False):
    """Read an image file as RGB floats in [0, 1], upright as its EXIF orientation says.

    Parameters
    ----------
    path : path
        PNG, JPEG, TIFF, BMP, WebP, ... (anything Pillow reads; TIFF also through tifffile).
    with_alpha : bool
        Also return the alpha channel (or ``None`` if the image has none).

    Returns
    -------
    rgb : ndarray, float32, shape (H, W, 3)
        Grey images are repeated into three channels; integer images are divided by their
        maximum value (255 or 65535); float images are clipped to [0, 1].
    alpha : ndarray, float32, shape (H, W), or None
        Only with ``with_alpha=True``.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ImageError
        If the file is not an image or is truncated.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp(), "grey alpha.png")
    >>> Image.fromarray(np.full((2, 3, 2), 255, np.uint8), "LA").save(path)
    >>> rgb, alpha = load_image(path, with_alpha=True)
    >>> rgb.shape, rgb.dtype, alpha.shape
    ((2, 3, 3), dtype('float32'), (2, 3))
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            pixels = _read_tiff(path)
        else:
            with Image.open(path) as im:
                im.load()  # decode now: a truncated file fails here, not later
                pixels = _pixels(ImageOps.exif_transpose(im))
    except (ImageError, PermissionError):
        raise  # a permission problem is not a damaged file: say what it is
    except Exception as error:  # UnidentifiedImageError, truncated data, bad TIFF, ...
        raise ImageError(f"cannot read {path}: not an image or a damaged file ({error})") from error
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ImageError(f"cannot use {path}: unexpected pixel layout {pixels.shape}")
    channels = pixels.shape[2]
    rgb = pixels[..., :3] if channels >= 3 else np.repeat(pixels[..., :1], 3, axis=2)
    alpha = pixels[..., channels - 1] if channels in (2, 4) else None
    rgb = np.clip(rgb, 0.0, 1.0).astype(np.float32)
    return (rgb, alpha) if with_alpha else rgb


def _pixels(im: Image.Image) -> np.ndarray:
    """Pixel values of a Pillow image as floats in [0, 1] (any mode)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return np.asarray(im, dtype=np.float64) / 65535.0
    if im.mode == "F":
        return np.asarray(im, dtype=np.float32)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode not in ("L", "LA", "RGB", "RGBA"):  # 1, CMYK, YCbCr, LAB, HSV, ...
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.float32) / 255.0


def _read_tiff(path: Path) -> np.ndarray:
    data = tifffile.imread(path)
    if data.ndim == 3 and data.shape[0] in (1, 2, 3, 4) and data.shape[2] > 4:
        data = np.moveaxis(data, 0, -1)  # planar (C, H, W) storage
    if data.dtype.kind == "f":
        return data.astype(np.float32)
    if data.dtype.kind in "ui":
        return data.astype(np.float64) / np.iinfo(data.dtype).max
    if data.dtype == bool:
        return data.astype(np.float32)
    raise ImageError(f"cannot use {path}: unsupported TIFF sample type {data.dtype}")


def save_image(path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None = None) -> None:
    """Write RGB floats in [0, 1] (plus optional alpha) atomically; the suffix picks the format.

    PNG and TIFF keep an alpha channel; TIFF is written with 16 bits per channel, PNG and JPEG
    with 8. The file appears complete or not at all.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp(), "out.png")
    >>> save_image(path, np.full((2, 2, 3), 0.5))
    >>> np.asarray(Image.open(path))[0, 0].tolist()
    [128, 128, 128]
    """
    path = Path(path)
    suffix = path.suffix.lower()
    rgb = np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    if alpha is not None and suffix in (".jpg", ".jpeg"):
        alpha = None  # JPEG has no alpha channel
    pixels = rgb if alpha is None else np.concatenate([rgb, np.clip(alpha, 0, 1)[..., None]], 2)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        if suffix in TIFF_SUFFIXES:
            tifffile.imwrite(tmp, np.round(pixels * 65535).astype(np.uint16), photometric="rgb")
        else:
            mode = "RGB" if alpha is None else "RGBA"
            image = Image.fromarray(np.round(pixels * 255).astype(np.uint8), mode)
            image.save(tmp, format=Image.registered_extensions().get(suffix, "PNG"), quality=95)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
