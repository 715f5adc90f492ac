"""The still images the synthetic dataset is made from.

Every image here ships inside an installed package (scikit-image's ``skimage/data`` folder and
matplotlib's sample data), so nothing is ever downloaded. They are split once and for all into
training and test sources, with no image (or view of the same scene) on both sides:

- test: four colour photographs that chapters show (astronaut, chelsea the cat, coffee, rocket);
- train: everything else that loads offline and is not blurred already (scikit-image's ``clock``
  is a motion-blurred photo and stays out), colour and grey.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.cbook
import matplotlib.image
import numpy as np
from skimage import data
from skimage.util import img_as_float32

__all__ = ["TEST_SOURCES", "TRAIN_SOURCES", "load_source", "source_names"]

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

    Explained in chapter *Blur synthesis by frame averaging*.
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

    Explained in chapter *Blur synthesis by frame averaging*.
    """
    if name not in _LOADERS:
        raise ValueError(f"unknown source image {name!r}; choose one of {sorted(_LOADERS)}")
    image = img_as_float32(_LOADERS[name]())
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])
