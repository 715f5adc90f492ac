"""The still images the synthetic dataset is made from.

Every image here ships inside an installed package (scikit-image's ``skimage/data`` folder and
matplotlib's sample data), so nothing is ever downloaded. They are split once and for all into
training and test sources, with no image (or view of the same scene) on both sides:

- test: four colour photographs that chapters show (astronaut, chelsea the cat, coffee, rocket);
- train: everything else that loads offline and is not blurred already (scikit-image's ``clock``
  is a motion-blurred photo and stays out), colour and grey.

A folder of your own sharp photographs can replace them (:func:`photo_sources`): every tenth
photo, chosen by a hash of its path, is a test source.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path

import matplotlib.cbook
import matplotlib.image
import numpy as np
from skimage import data
from skimage.util import img_as_float32

__all__ = ["TEST_SOURCES", "TRAIN_SOURCES", "load_source", "photo_sources", "source_names"]

_LOADERS: dict[str, Callable[[], np.ndarray]] = {
    # train: colour
    "motorcycle_left": lambda: data.stereo_motorcycle()[0],
    "motorcycle_right": lambda: data.stereo_motorcycle()[1],
    "grace_hopper": lambda: matplotlib.image.imread(
        matplotlib.cbook.get_sample_data("grace_hopper.jpg")
    ),
    "immunohistochemistry": data.immunohistochemistry,
    "retina": data.retina,
    "hubble_deep_field": data.hubble_deep_field,
    # train: grey
    "camera": data.camera,
    "brick": data.brick,
    "grass": data.grass,
    "gravel": data.gravel,
    "coins": data.coins,
    "moon": data.moon,
    "page": data.page,
    "text": data.text,
    # test
    "astronaut": data.astronaut,
    "chelsea": data.chelsea,
    "coffee": data.coffee,
    "rocket": data.rocket,
}

#: Images the synthetic training split is made from.
TRAIN_SOURCES: tuple[str, ...] = tuple(list(_LOADERS)[:14])
#: Images the synthetic test split is made from (disjoint from :data:`TRAIN_SOURCES`).
TEST_SOURCES: tuple[str, ...] = tuple(list(_LOADERS)[14:])


def source_names(split: str) -> tuple[str, ...]:
    """Names of the source images of a split.

    Parameters
    ----------
    split : {"train", "test"}

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> source_names("test")
    ('astronaut', 'chelsea', 'coffee', 'rocket')
    >>> set(source_names("train")) & set(source_names("test"))
    set()
    """
    if split == "train":
        return TRAIN_SOURCES
    if split == "test":
        return TEST_SOURCES
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def load_source(name: str) -> np.ndarray:
    """Load one bundled source image as RGB floats.

    Parameters
    ----------
    name : str
        One of :data:`TRAIN_SOURCES` or :data:`TEST_SOURCES`.

    Returns
    -------
    ndarray, shape (H, W, 3)
        float32 in [0, 1]; grey images are copied into three channels.

    Examples
    --------
    >>> load_source("astronaut").shape
    (512, 512, 3)
    >>> load_source("camera").dtype
    dtype('float32')
    """
    if name not in _LOADERS:
        raise ValueError(f"unknown source image {name!r}; choose one of {sorted(_LOADERS)}")
    image = img_as_float32(_LOADERS[name]())
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


#: File name endings :func:`photo_sources` reads.
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
#: One photo in this many (rounded up, by a hash of its path) is a test source.
TEST_SHARE = 10


def photo_sources(folder: str | os.PathLike, split: str) -> tuple[Path, ...]:
    """The photographs of ``folder`` (searched recursively) that are sources of ``split``.

    The photos are ordered by the CRC-32 of their path relative to ``folder``; the first tenth
    (at least one photo) are test sources, the rest training sources. The split depends only on
    the names, not on the order files are listed in. Hidden files and folders are skipped.

    Returns
    -------
    tuple of Path
        Sorted by path.

    Raises
    ------
    FileNotFoundError
        If ``folder`` is not a folder.
    ValueError
        If ``split`` is unknown or the folder holds fewer than two photos.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> folder = Path(tempfile.mkdtemp())
    >>> for i in range(12):
    ...     Image.new("RGB", (8, 8)).save(folder / f"{i:02d}.png")
    >>> len(photo_sources(folder, "train")), len(photo_sources(folder, "test"))
    (10, 2)
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--photos {folder}: no such folder of photographs")
    photos = [
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in PHOTO_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    if len(photos) < 2:
        raise ValueError(
            f"--photos {folder}: found {len(photos)} photographs, need at least 2 "
            f"(files ending in {', '.join(PHOTO_SUFFIXES)})"
        )
    photos.sort(key=lambda path: (zlib.crc32(path.relative_to(folder).as_posix().encode()), path))
    n_test = -(-len(photos) // TEST_SHARE)  # ceil
    chosen = photos[:n_test] if split == "test" else photos[n_test:]
    return tuple(sorted(chosen))
