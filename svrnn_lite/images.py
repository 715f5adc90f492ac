"""Reading and writing image files: every image the package reads or writes goes through here.

:func:`load_image` turns any common image file into RGB floats in [0, 1]: 8- and 16-bit, grey,
grey + alpha, RGBA, palette, float TIFF, EXIF-rotated JPEG (or, for the training data, 8-bit
files into their uint8 values). :func:`image_size` reads only a file's header. A file that is
not an image, or is truncated, gives one :class:`ImageError` naming the file. :func:`save_image`
writes atomically (a temporary file, then a rename), so an interrupted job leaves no
half-written image: the photos of ``svrnn-lite deblur`` and the synthetic datasets alike.

Explained in chapter *Evaluation*.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, ImageOps, UnidentifiedImageError

from svrnn_lite.atomic import atomic_path

TIFF_SUFFIXES = (".tif", ".tiff")
EXIF_ORIENTATION = 0x0112  # the EXIF tag of how the camera was held
QUANTISE_ROWS = 256  # rows converted at a time when saving


class ImageError(ValueError):
    """A file that cannot be used as an image; the message names the file and the problem."""


def load_image(path: str | os.PathLike, with_alpha: bool = False, keep_uint8: bool = False):
    """Read an image file as RGB floats in [0, 1], upright as its EXIF orientation says.

    Parameters
    ----------
    path : path
        PNG, JPEG, TIFF, BMP, WebP, ... (anything Pillow reads; TIFF also through tifffile).
    with_alpha : bool
        Also return the alpha channel (or ``None`` if the image has none).
    keep_uint8 : bool
        Give an 8-bit image's RGB values as they are stored, uint8 0 ... 255 (a quarter of the
        memory of floats: how training data is kept); other images are still float32. Only
        without ``with_alpha``.

    Returns
    -------
    rgb : ndarray, float32 (or uint8), shape (H, W, 3)
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
    >>> load_image(path, keep_uint8=True)[0, 0].tolist()
    [255, 255, 255]
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not an image file")
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            pixels, maximum = _read_tiff(path)
        else:
            with Image.open(path) as im:
                im.load()  # decode now: a truncated file fails here, not later
                pixels, maximum = _pixels(ImageOps.exif_transpose(im))
    except (ImageError, PermissionError):
        raise  # a permission problem is not a damaged file: say what it is
    except Image.DecompressionBombError as error:  # a huge image, or a file that claims to be
        raise ImageError(
            f"cannot read {path}: it has more pixels than Pillow opens by default "
            f"({Image.MAX_IMAGE_PIXELS}, a guard against decompression bombs); if you trust the "
            "file, raise PIL.Image.MAX_IMAGE_PIXELS in Python"
        ) from error
    except Exception as error:  # UnidentifiedImageError, truncated data, bad TIFF, ...
        raise ImageError(f"cannot read {path}: not an image or a damaged file ({error})") from error
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ImageError(f"cannot use {path}: unexpected pixel layout {pixels.shape}")
    channels = pixels.shape[2]
    if keep_uint8 and maximum == 255 and not with_alpha:
        rgb = pixels[..., :3] if channels >= 3 else pixels[..., :1]
        return np.ascontiguousarray(np.broadcast_to(rgb, rgb.shape[:2] + (3,)), np.uint8)
    # one float32 array per output, filled straight from the stored values: a large photo
    # costs its 12 bytes per pixel and no float64 or unclipped intermediate copies
    rgb = _unit_floats(pixels[..., :3] if channels >= 3 else pixels[..., :1], maximum, 3)
    alpha = _unit_floats(pixels[..., -1:], maximum, 1)[..., 0] if channels in (2, 4) else None
    return (rgb, alpha) if with_alpha else rgb


def image_size(path: str | os.PathLike, upright: bool = True) -> tuple[int, int]:
    """``(height, width)`` of an image file, from its header: the pixels are not decoded.

    Parameters
    ----------
    path : path
    upright : bool
        The size :func:`load_image` gives: height and width swapped when the EXIF orientation
        turns the image by a quarter turn. Pillow finds a PNG's EXIF only by decoding it, so
        pass ``False`` where the orientation does not matter.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ImageError
        If the file is not an image.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp(), "wide.png")
    >>> Image.new("RGB", (30, 20)).save(path)
    >>> image_size(path)
    (20, 30)
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            if upright and image.getexif().get(EXIF_ORIENTATION) in (5, 6, 7, 8):  # on its side
                width, height = height, width
    except UnidentifiedImageError as error:
        raise ImageError(f"cannot read {path}: not an image") from error
    return height, width


def _unit_floats(values: np.ndarray, maximum: int | None, channels: int) -> np.ndarray:
    """``values / maximum`` (or float ``values`` clipped to [0, 1]) as float32, the last axis
    broadcast to ``channels`` (a grey channel repeated into RGB)."""
    out = np.empty(values.shape[:2] + (channels,), np.float32)
    if maximum is None:
        out[...] = values
        np.clip(out, 0.0, 1.0, out=out)
    else:
        np.multiply(values, np.float32(1 / maximum), out=out, dtype=np.float32)
    return out


def _pixels(im: Image.Image) -> tuple[np.ndarray, int | None]:
    """Stored pixel values of a Pillow image (any mode) and their maximum (None: floats)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return np.asarray(im), 65535
    if im.mode == "F":
        return np.asarray(im), None
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode not in ("L", "LA", "RGB", "RGBA"):  # 1, CMYK, YCbCr, LAB, HSV, ...
        im = im.convert("RGB")
    return np.asarray(im), 255


def _read_tiff(path: Path) -> tuple[np.ndarray, int | None]:
    data = tifffile.imread(path)
    if data.ndim == 3 and data.shape[0] in (1, 2, 3, 4) and data.shape[2] > 4:
        data = np.moveaxis(data, 0, -1)  # planar (C, H, W) storage
    if data.dtype.kind == "f":
        return data, None
    if data.dtype.kind in "ui":
        return data, int(np.iinfo(data.dtype).max)
    if data.dtype == bool:
        return data, 1
    raise ImageError(f"cannot use {path}: unsupported TIFF sample type {data.dtype}")


def save_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    compress_level: int = 6,
) -> None:
    """Write RGB floats in [0, 1] (plus optional alpha) atomically; the suffix picks the format.

    PNG and TIFF keep an alpha channel; TIFF is written with 16 bits per channel, PNG and JPEG
    with 8. The file appears complete or not at all: an interrupted or failed save leaves
    neither a partial ``path`` nor the temporary file.

    Parameters
    ----------
    path : path
    rgb : ndarray, shape (H, W, 3)
        Floats in [0, 1]; values outside are clipped.
    alpha : ndarray, shape (H, W), optional
    compress_level : int
        PNG only: zlib level from 0 (fastest, largest files) to 9 (slowest, smallest); the
        synthetic dataset is written with 1, for speed.

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
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    if alpha is not None and suffix in (".jpg", ".jpeg"):
        alpha = None  # JPEG has no alpha channel
    tiff = suffix in TIFF_SUFFIXES
    pixels = _quantise(rgb, alpha, 65535 if tiff else 255, np.uint16 if tiff else np.uint8)
    with atomic_path(path) as tmp:
        if tiff:
            tifffile.imwrite(tmp, pixels, photometric="rgb")
        else:
            mode = "RGB" if alpha is None else "RGBA"
            image = Image.fromarray(pixels, mode)
            image_format = Image.registered_extensions().get(suffix, "PNG")
            image.save(tmp, format=image_format, quality=95, compress_level=compress_level)


def _quantise(rgb: np.ndarray, alpha: np.ndarray | None, levels: int, dtype) -> np.ndarray:
    """RGB (and alpha) in [0, 1] as integers 0 ... ``levels``, clipped and rounded.

    Works through bands of rows, so a large image costs only its integer copy."""
    height, width = rgb.shape[:2]
    pixels = np.empty((height, width, 3 if alpha is None else 4), dtype)
    channels = [rgb] if alpha is None else [rgb, np.asarray(alpha)[..., None]]
    for top in range(0, height, QUANTISE_ROWS):
        rows = slice(top, top + QUANTISE_ROWS)
        band = [array[rows] for array in channels]
        band = np.concatenate(band, axis=2, dtype=np.float64)
        np.clip(band, 0.0, 1.0, out=band)
        band *= levels
        pixels[rows] = np.round(band, out=band)
    return pixels
