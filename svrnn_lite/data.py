"""Read deblurring datasets stored in the GoPro layout.

GoPro (Nah et al. 2017) and the synthetic dataset of :mod:`svrnn_lite.synth` share one layout::

    <root>/{train,test}/<sequence>/{blur,blur_gamma,sharp}/<frame>.png

A blurry image and its sharp target have the same file name in the same sequence.
:func:`gopro_pairs` lists the pairs, :func:`read_image` reads one image as RGB floats,
:class:`PairDataset` serves the pairs of a folder and :class:`SyntheticPairs` makes pairs on the
fly from the bundled images; :func:`random_crop_batch` cuts a training batch from either.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from svrnn_lite.images import load_image

__all__ = [
    "IMAGE_SUFFIXES",
    "MixedPairs",
    "PairDataset",
    "SyntheticPairs",
    "gopro_pairs",
    "random_crop_batch",
    "read_image",
]

#: File name endings :func:`gopro_pairs` treats as images.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def gopro_pairs(
    root: str | os.PathLike, split: str = "train", variant: str = "blur"
) -> list[tuple[Path, Path]]:
    """List the (blurry, sharp) image pairs of a dataset in the GoPro layout.

    Parameters
    ----------
    root : path
        The dataset folder, holding ``train/`` and ``test/`` (e.g. ``GOPRO_Large``).
    split : {"train", "test"}
    variant : {"blur", "blur_gamma"}
        Which blurry images: averaged encoded values (``blur``, what benchmarks use) or averaged
        in linear light (``blur_gamma``).

    Returns
    -------
    list of (Path, Path)
        ``(blurry, sharp)`` paths sorted by sequence, then frame name.

    Raises
    ------
    FileNotFoundError
        If ``root/split`` or a sequence's ``variant`` or ``sharp`` folder is missing.
    ValueError
        For an unknown split or variant, blurry and sharp file names that do not match, or a
        split without any image.

    Examples
    --------
    >>> import tempfile
    >>> from svrnn_lite.synth import write_dataset
    >>> root = tempfile.mkdtemp()
    >>> _ = write_dataset(root, n_train=0, n_test=2, test_size=(32, 48), progress=False)
    >>> [(b.parent.parent.name, b.name, s.parent.name) for b, s in gopro_pairs(root, "test")]
    [('astronaut', '000000.png', 'sharp'), ('chelsea', '000000.png', 'sharp')]

    Explained in chapter *Blur synthesis by frame averaging*.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if variant not in ("blur", "blur_gamma"):
        raise ValueError(f"variant must be 'blur' or 'blur_gamma', got {variant!r}")
    root = Path(root)
    split_dir = root / split
    if not split_dir.is_dir():
        raise FileNotFoundError(
            f"no {split!r} folder in {root}: expected {split_dir}/<sequence>/{{{variant},sharp}}/"
            "<frame>.png (the GoPro layout)"
        )
    pairs = []
    sequences = (p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for sequence in sorted(sequences):  # hidden folders (.ipynb_checkpoints) are not sequences
        blur_dir, sharp_dir = sequence / variant, sequence / "sharp"
        for folder in (blur_dir, sharp_dir):
            if not folder.is_dir():
                raise FileNotFoundError(f"sequence {sequence} has no {folder.name!r} folder")
        blurry, sharp = _image_names(blur_dir), _image_names(sharp_dir)
        if blurry != sharp:
            only_blur, only_sharp = sorted(blurry - sharp), sorted(sharp - blurry)
            raise ValueError(
                f"blurry and sharp images of {sequence} do not match: "
                f"{len(only_blur)} only in {variant}/ {only_blur[:3]}, "
                f"{len(only_sharp)} only in sharp/ {only_sharp[:3]}"
            )
        pairs += [(blur_dir / name, sharp_dir / name) for name in sorted(blurry)]
    if not pairs:
        raise ValueError(f"no image pairs in {split_dir} (expected <sequence>/{variant}/*.png)")
    return pairs


def _image_names(folder: Path) -> set[str]:
    return {
        p.name
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    }


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB floats in [0, 1] (:func:`svrnn_lite.images.load_image`).

    Grey images are copied into three channels; an alpha channel is dropped; 16-bit images are
    scaled by 1/65535, 8-bit ones by 1/255.

    Returns
    -------
    ndarray, shape (H, W, 3)
        float32 in [0, 1].

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp(), "grey.png")
    >>> Image.fromarray(np.full((2, 3), 255, np.uint8)).save(path)
    >>> image = read_image(path)
    >>> image.shape, image.dtype, float(image.max())
    ((2, 3, 3), dtype('float32'), 1.0)

    Explained in chapter *Blur synthesis by frame averaging*.
    """
    return load_image(path)


class PairDataset:
    """The (blurry, sharp) image pairs of a list of files, as float32 (H, W, 3) arrays.

    Decoded images are kept in memory as they are stored (8-bit images as uint8, a quarter of
    their float size), so that training reads each file once: by default when all of them fit
    in :data:`CACHE_BYTES`. :func:`random_crop_batch` cuts its windows from the stored arrays
    (:meth:`stored`) and converts only the windows to floats.

    Parameters
    ----------
    pairs : list of (path, path)
        As returned by :func:`gopro_pairs`.
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

    Explained in chapter *Training*.
    """

    def __init__(self, pairs: list[tuple[Path, Path]], cache: bool | None = None):
        if not pairs:
            raise ValueError("PairDataset needs at least one (blurry, sharp) pair")
        self.pairs = list(pairs)
        if cache is None:
            with Image.open(self.pairs[0][1]) as first:
                width, height = first.size
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
        with Image.open(self.pairs[index][1]) as image:
            width, height = image.size
            if image.getexif().get(0x0112) in (5, 6, 7, 8):  # stored on its side
                width, height = height, width
        return height, width

    def stored(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair ``index`` as kept in memory: uint8 for 8-bit images, float32 otherwise."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        blur_path, sharp_path = self.pairs[index]
        blurred, sharp = _read_stored(blur_path), _read_stored(sharp_path)
        if blurred.shape != sharp.shape:
            raise ValueError(
                f"blurry and sharp images differ in size: {blur_path} is "
                f"{blurred.shape[1]}x{blurred.shape[0]}, {sharp_path} is "
                f"{sharp.shape[1]}x{sharp.shape[0]}"
            )
        pair = (blurred, sharp)
        if self._cache is not None:
            self._cache[index] = pair
        return pair


#: Memory that :class:`PairDataset` may fill with decoded images by default, bytes.
CACHE_BYTES = 4e9


def _read_stored(path: Path) -> np.ndarray:
    """An 8-bit RGB or grey image file as uint8 RGB (no float copy); anything else as
    :func:`read_image` gives it."""
    try:
        with Image.open(path) as im:
            if im.mode in ("RGB", "L") and not im.getexif().get(0x0112):  # no EXIF rotation
                pixels = np.asarray(im)
                return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels
    except Exception:  # read_image below names the file and the problem
        pass
    return read_image(path)


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

    Explained in chapter *Training*.
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

    Explained in chapter *Training*.
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
        from svrnn_lite.synth import synth_pair  # synth imports this module

        _, pair, _ = synth_pair(self.split, index, self.seed, self.size)
        return pair.blurred.astype(np.float32), pair.sharp.astype(np.float32)

    def image_shape(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of pair ``index``, without synthesising it (``size`` or the
        split's default size)."""
        from svrnn_lite.synth import TEST_SIZE, TRAIN_SIZE

        height, width = self.size or (TRAIN_SIZE if self.split == "train" else TEST_SIZE)
        return height, width


def random_crop_batch(
    pairs, rng: np.random.Generator, batch_size: int, crop: int, part: slice = slice(None)
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
        without reading their pixels, so crop ``i`` is the same whichever part asks for it.

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

    Explained in chapter *Training*.
    """
    blurred_batch, sharp_batch = [], []
    cut = range(batch_size)[part]
    for i in range(batch_size):
        index = int(rng.integers(len(pairs)))
        height, width = _image_shape(pairs, index)
        if height < crop or width < crop:
            raise crop_too_large(crop, _pair_name(pairs, index), width, height)
        top, left = int(rng.integers(height - crop + 1)), int(rng.integers(width - crop + 1))
        flip_horizontally, flip_vertically = rng.random() < 0.5, rng.random() < 0.5
        if i not in cut:  # another rank's crop
            continue
        blurred, sharp = _stored(pairs, index)  # cut first, convert only the window
        if sharp.shape[:2] != (height, width):
            raise ValueError(
                f"{_pair_name(pairs, index)} is {sharp.shape[1]}x{sharp.shape[0]} pixels, "
                f"though its header says {width}x{height}"
            )
        window = (slice(top, top + crop), slice(left, left + crop))
        blurred, sharp = blurred[window], sharp[window]
        if flip_horizontally:
            blurred, sharp = blurred[:, ::-1], sharp[:, ::-1]
        if flip_vertically:
            blurred, sharp = blurred[::-1], sharp[::-1]
        blurred_batch.append(as_float(blurred.transpose(2, 0, 1)))
        sharp_batch.append(as_float(sharp.transpose(2, 0, 1)))
    return torch.from_numpy(np.stack(blurred_batch)), torch.from_numpy(np.stack(sharp_batch))


def crop_too_large(crop: int, image, width: int, height: int) -> ValueError:
    """The error for a training crop that does not fit in an image (one wording everywhere)."""
    return ValueError(
        f"crop {crop}x{crop} is larger than image {image} ({width}x{height}): use a smaller --crop"
    )
