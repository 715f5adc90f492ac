"""Datasets of blurry/sharp pairs, and the training batches cut from them.

:class:`PairDataset` serves the pairs of a dataset on disk (listed by
:func:`svrnn_lite.layout.gopro_pairs`), :class:`SyntheticPairs` makes pairs on the fly from the
bundled images, :class:`MixedPairs` draws from several datasets in equal shares, and
:func:`random_crop_batch` cuts a training batch from any of them. :func:`check_size` is the one
check of image sizes.

Explained in chapter *Training*.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from svrnn_lite.images import image_size, load_image
from svrnn_lite.layout import gopro_pairs  # noqa: F401  (chapters import it from here)
from svrnn_lite.metrics import psnr
from svrnn_lite.synth import synth_pair
from svrnn_lite.synth_config import TEST_SIZE, TRAIN_SIZE

__all__ = ["MixedPairs", "PairDataset", "SyntheticPairs", "check_size", "random_crop_batch"]

#: :func:`svrnn_lite.images.load_image`, by the name chapter *Blur synthesis by frame averaging*
#: imports it from here.
read_image = load_image


class PairDataset:
    """The (blurry, sharp) image pairs of a list of files, as float32 (H, W, 3) arrays.

    Decoded images are kept in memory as they are stored (8-bit images as uint8, a quarter of
    their float size), so that training reads each file once: by default when all of them fit
    in :data:`CACHE_BYTES`. :func:`random_crop_batch` cuts its windows from the stored arrays
    (:meth:`stored`) and converts only the windows to floats.

    Parameters
    ----------
    pairs : list of (path, path)
        As returned by :func:`svrnn_lite.layout.gopro_pairs`.
    cache : bool or None
        Keep decoded images in memory; by default only when all of them fit in
        :data:`CACHE_BYTES` as 8-bit images.

    Examples
    --------
    >>> import tempfile
    >>> from svrnn_lite.synth import write_dataset
    >>> root = tempfile.mkdtemp()
    >>> _ = write_dataset(root, n_train=0, n_test=1, test_size=(32, 48), progress=False)
    >>> dataset = PairDataset(gopro_pairs(root, "test"))
    >>> blurred, sharp = dataset[0]
    >>> blurred.shape, sharp.dtype, dataset.stored(0)[1].dtype
    ((32, 48, 3), dtype('float32'), dtype('uint8'))
    """

    def __init__(self, pairs: list[tuple[Path, Path]], cache: bool | None = None):
        if not pairs:
            raise ValueError("PairDataset needs at least one (blurry, sharp) pair")
        self.pairs = list(pairs)
        if cache is None:
            height, width = image_size(self.pairs[0][1], upright=False)
            cache = len(self.pairs) * 2 * height * width * 3 < CACHE_BYTES
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        blurred, sharp = self.stored(index)
        return as_float(blurred), as_float(sharp)

    def image_shape(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of pair ``index``, from its sharp image's header (no decoding).

        As :meth:`stored` will give it: an EXIF orientation that turns the image by a quarter
        turn swaps the two.
        """
        if self._cache is not None and index in self._cache:
            return self._cache[index][1].shape[:2]
        return image_size(self.pairs[index][1])

    def stored(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair ``index`` as kept in memory: uint8 for 8-bit images, float32 otherwise."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        blur_path, sharp_path = self.pairs[index]
        blurred = load_image(blur_path, keep_uint8=True)
        sharp = load_image(sharp_path, keep_uint8=True)
        check_size(blur_path, blurred.shape[:2], like=(sharp_path, sharp.shape[:2]))
        pair = (blurred, sharp)
        if self._cache is not None:
            self._cache[index] = pair
        return pair


#: Memory that :class:`PairDataset` may fill with decoded images by default, bytes.
CACHE_BYTES = 4e9


def as_float(image: np.ndarray) -> np.ndarray:
    """An image as float32 in [0, 1]: uint8 values are divided by 255, floats kept.

    Examples
    --------
    >>> as_float(np.array([0, 51, 255], np.uint8)).tolist()
    [0.0, 0.2, 1.0]
    """
    if image.dtype == np.uint8:  # the values load_image gives an 8-bit file
        return np.multiply(image, np.float32(1 / 255), dtype=np.float32)
    return image.astype(np.float32, copy=False)


class MixedPairs:
    """Several pair datasets drawn from in equal shares, whatever their sizes.

    Index ``i`` is pair ``(i // k) % len(d)`` of dataset ``d = datasets[i % k]``, and the length
    is ``k`` times the largest dataset's, so a uniformly drawn index picks each dataset with
    probability ``1 / k``.

    Examples
    --------
    >>> mixed = MixedPairs([SyntheticPairs("train", n=2, size=(8, 8)),
    ...                     SyntheticPairs("train", n=5, size=(16, 16))])
    >>> len(mixed), mixed[0][0].shape, mixed[1][0].shape
    (10, (8, 8, 3), (16, 16, 3))
    """

    def __init__(self, datasets) -> None:
        if not datasets:
            raise ValueError("MixedPairs needs at least one dataset")
        self.datasets = list(datasets)
        self.pairs = [pair for d in self.datasets for pair in getattr(d, "pairs", [])]

    def __len__(self) -> int:
        return len(self.datasets) * max(len(d) for d in self.datasets)

    def _locate(self, index: int):
        dataset = self.datasets[index % len(self.datasets)]
        return dataset, (index // len(self.datasets)) % len(dataset)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        dataset, i = self._locate(index)
        return dataset[i]

    def stored(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair ``index`` as its dataset keeps it (see :meth:`PairDataset.stored`)."""
        dataset, i = self._locate(index)
        return _stored(dataset, i)

    def image_shape(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of pair ``index``, as cheaply as its dataset can tell."""
        dataset, i = self._locate(index)
        return _image_shape(dataset, i)

    def name(self, index: int) -> str:
        """The sharp image's path of pair ``index`` (for error messages)."""
        dataset, i = self._locate(index)
        return _pair_name(dataset, i)


def _stored(pairs, index: int):
    return pairs.stored(index) if hasattr(pairs, "stored") else pairs[index]


def _image_shape(pairs, index: int) -> tuple[int, int]:
    if hasattr(pairs, "image_shape"):
        return pairs.image_shape(index)
    return _stored(pairs, index)[1].shape[:2]


def _pair_name(pairs, index: int) -> str:
    if hasattr(pairs, "name"):
        return pairs.name(index)
    listed = getattr(pairs, "pairs", None)
    return str(listed[index][1]) if listed else f"pair {index}"


class SyntheticPairs:
    """``n`` blurry/sharp pairs synthesised on demand from the bundled images (nothing on disk).

    Pair ``i`` is :func:`svrnn_lite.synth.synth_pair` ``(split, i, seed, size)``: the same
    pairs as the dataset writer makes, without writing them.

    Examples
    --------
    >>> pairs = SyntheticPairs("train", n=10, size=(32, 32))
    >>> len(pairs), pairs[3][0].shape
    (10, (32, 32, 3))
    """

    def __init__(
        self, split: str, n: int, seed: int = 0, size: tuple[int, int] | None = None
    ) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.split, self.n, self.seed, self.size = split, n, seed, size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        _, pair, _ = synth_pair(self.split, index, self.seed, self.size)
        return pair.blurred.astype(np.float32), pair.sharp.astype(np.float32)

    def image_shape(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of pair ``index``, without synthesising it (``size`` or the
        split's default size)."""
        height, width = self.size or (TRAIN_SIZE if self.split == "train" else TEST_SIZE)
        return height, width


#: How many times :func:`random_crop_batch` redraws a nearly static window before keeping one.
REDRAWS = 8


def random_crop_batch(
    pairs,
    rng: np.random.Generator,
    batch_size: int,
    crop: int,
    part: slice = slice(None),
    static_psnr: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch: random pairs, one random ``crop`` x ``crop`` window each, random flips.

    Parameters
    ----------
    pairs : PairDataset, MixedPairs or SyntheticPairs
        Anything with ``len`` and ``[i] -> (blurred, sharp)``; its ``stored(i)``, when it has
        one, gives the pair as kept in memory (uint8 or float32), and its ``image_shape(i)``
        the pair's ``(height, width)`` without reading the pixels.
    rng : numpy.random.Generator
        The only source of randomness, so a batch is fixed by the generator's seed.
    batch_size, crop : int
    part : slice
        Cut only these crops of the batch (a rank's share in data-parallel training,
        :func:`svrnn_lite.distributed.batch_share`). The other crops are drawn all the same,
        so crop ``i`` is the same whichever part asks for it.
    static_psnr : float
        Redraw a window whose blurry input is above this PSNR (dB, against its sharp window):
        a nearly static part of the scene, which teaches only to copy the input. Up to
        :data:`REDRAWS` times, then the last window is kept. 0 keeps every window. The check
        reads the pixels of every window drawn (of a pair synthesised on the fly, it makes the
        pair), the other ranks' crops included.

    Returns
    -------
    blurred, sharp : torch.Tensor
        float32, shape (number of crops in ``part``, 3, crop, crop).

    Examples
    --------
    >>> pairs = SyntheticPairs("train", n=4, size=(40, 40))
    >>> blurred, sharp = random_crop_batch(pairs, np.random.default_rng(0), 2, 32)
    >>> tuple(blurred.shape), tuple(sharp.shape)
    ((2, 3, 32, 32), (2, 3, 32, 32))
    >>> second, _ = random_crop_batch(pairs, np.random.default_rng(0), 2, 32, part=slice(1, 2))
    >>> torch.equal(second[0], blurred[1])
    True
    """
    blurred_batch, sharp_batch = [], []
    cut = range(batch_size)[part]
    for i in range(batch_size):
        looked_at = None  # the window's pixels, when the static check read them
        for _ in range(1 + (REDRAWS if static_psnr else 0)):
            index, window, flips = _draw_window(pairs, rng, crop)
            if not static_psnr:
                break
            looked_at = _cut_window(pairs, index, window)
            if psnr(*looked_at) <= static_psnr:
                break
        if i not in cut:  # another rank's crop
            continue
        blurred, sharp = looked_at or _cut_window(pairs, index, window)
        flip_horizontally, flip_vertically = flips
        if flip_horizontally:
            blurred, sharp = blurred[:, ::-1], sharp[:, ::-1]
        if flip_vertically:
            blurred, sharp = blurred[::-1], sharp[::-1]
        blurred_batch.append(as_float(blurred.transpose(2, 0, 1)))
        sharp_batch.append(as_float(sharp.transpose(2, 0, 1)))
    return torch.from_numpy(np.stack(blurred_batch)), torch.from_numpy(np.stack(sharp_batch))


def _draw_window(pairs, rng: np.random.Generator, crop: int):
    """A random pair, a ``crop`` x ``crop`` window in it, and whether to flip it (horizontally,
    vertically), from the image size alone: no pixels are read."""
    index = int(rng.integers(len(pairs)))
    height, width = _image_shape(pairs, index)
    check_size(_pair_name(pairs, index), (height, width), crop=crop)
    top, left = int(rng.integers(height - crop + 1)), int(rng.integers(width - crop + 1))
    flips = rng.random() < 0.5, rng.random() < 0.5
    return index, (slice(top, top + crop), slice(left, left + crop)), flips


def _cut_window(pairs, index: int, window) -> tuple[np.ndarray, np.ndarray]:
    """The window of pair ``index``, as stored (cut first, converted to float only later)."""
    blurred, sharp = _stored(pairs, index)
    height, width = _image_shape(pairs, index)
    check_size(
        _pair_name(pairs, index), sharp.shape[:2], like=("the size in its header", (height, width))
    )
    return blurred[window], sharp[window]


def check_size(image, size: tuple[int, int], crop: int | None = None, like=None) -> None:
    """Refuse an image too small for a ``crop`` x ``crop`` window, or of another size than
    another image: the one check of image sizes, with one wording.

    The trainer checks every training file's header before the first step, and
    :func:`random_crop_batch` and :class:`PairDataset` check every image they cut from or pair.

    Parameters
    ----------
    image : str or path
        What the message calls the image.
    size : (int, int)
        Its ``(height, width)``.
    crop : int, optional
        The side of the training crops it must hold.
    like : (str, (int, int)), optional
        The name and size of the image (or "its header") it must match.

    Raises
    ------
    ValueError
        Naming the image, its size and what was expected.

    Examples
    --------
    >>> check_size("a.png", (48, 80), crop=64)
    Traceback (most recent call last):
    ...
    ValueError: crop 64x64 is larger than image a.png (80x48): use a smaller --crop
    >>> check_size("blur/a.png", (48, 80), like=("sharp/a.png", (48, 64)))
    Traceback (most recent call last):
    ...
    ValueError: blur/a.png is 80x48 pixels but sharp/a.png is 64x48
    """
    height, width = size
    if crop is not None and min(height, width) < crop:
        raise ValueError(
            f"crop {crop}x{crop} is larger than image {image} ({width}x{height}): "
            "use a smaller --crop"
        )
    if like is not None and tuple(like[1]) != (height, width):
        other, (other_height, other_width) = like
        raise ValueError(
            f"{image} is {width}x{height} pixels but {other} is {other_width}x{other_height}"
        )
