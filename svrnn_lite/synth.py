"""Write a synthetic deblurring dataset in the exact layout of GoPro (Nah et al. 2017).

::

    <root>/train/<sequence>/blur/000000.png          average of the encoded frames (gamma=None)
    <root>/train/<sequence>/blur_gamma/000000.png    average in linear light (gamma=2.2)
    <root>/train/<sequence>/sharp/000000.png         the middle frame
    <root>/test/...                                  the same, from other source images
    <root>/synth.json                                the settings the dataset was made with

A sequence is one source image (:mod:`svrnn_lite.sources`); its frames are pairs made by
:func:`svrnn_lite.blur.make_blur_pair` from random crops of it (train: random scale and flip),
with moving objects cut from three other images of the same split, so train and test share no
image. Pair ``i`` of a split depends only on ``(seed, split, i)``: the dataset is deterministic,
and a run that was interrupted continues where it stopped when started again with the same
settings.

The default counts and sizes, and their checks, are in :mod:`svrnn_lite.synth_config`.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np
from skimage.transform import resize
from tqdm.auto import tqdm

from svrnn_lite.atomic import atomic_path
from svrnn_lite.blur import GOPRO_GAMMA, BlurPair, average_frames, make_blur_pair
from svrnn_lite.dead_leaves import dead_leaves
from svrnn_lite.images import load_image, save_image
from svrnn_lite.sources import load_source, photo_sources, source_names
from svrnn_lite.synth_config import (
    N_TEST,
    N_TRAIN,
    PHOTO_SHAKE,
    TEST_SIZE,
    TRAIN_SIZE,
    check_settings,
)

__all__ = ["sequence_of", "synth_pair", "write_dataset"]

MARGIN = 32  # room for the camera shake around each crop, pixels
VARIANTS = ("blur", "blur_gamma", "sharp")
#: Every this many training pairs, one is a dead-leaves image (:mod:`svrnn_lite.dead_leaves`).
DEAD_LEAVES_EVERY = 2
DEAD_LEAVES = "dead_leaves"
#: Room around the crop for GoPro-scale camera paths of the photo pairs, pixels.
PHOTO_MARGIN = 64


@functools.cache
def _source(name: str) -> np.ndarray:
    image = load_source(name)
    image.setflags(write=False)
    return image


@functools.cache
def _palette() -> np.ndarray:
    """Colours for dead-leaves discs: an equal share of pixels from every training photograph."""
    pixels = [_source(name).reshape(-1, 3) for name in source_names("train")]
    rng = np.random.default_rng(0)
    return np.concatenate([p[rng.integers(len(p), size=4096)] for p in pixels])


def sequence_of(split: str, index: int) -> tuple[str, int]:
    """The sequence (source image) of pair ``index`` of a split and its frame number in it.

    In the training split every :data:`DEAD_LEAVES_EVERY`-th pair is a fresh dead-leaves image;
    the others cycle through the photographs of :func:`~svrnn_lite.sources.source_names`.

    Examples
    --------
    >>> [sequence_of("train", i) for i in range(3)]
    [('motorcycle_left', 0), ('dead_leaves', 0), ('motorcycle_right', 0)]
    >>> sequence_of("test", 5)
    ('chelsea', 1)
    """
    names = source_names(split)
    if split == "train":
        if index % DEAD_LEAVES_EVERY == DEAD_LEAVES_EVERY - 1:
            return DEAD_LEAVES, index // DEAD_LEAVES_EVERY
        index -= index // DEAD_LEAVES_EVERY
    return names[index % len(names)], index // len(names)


@functools.lru_cache(maxsize=8)
def _photo_files(photos: Path, split: str) -> tuple[Path, ...]:
    """:func:`~svrnn_lite.sources.photo_sources`, listed once per folder and split: every pair
    needs the list, and listing walks the whole folder."""
    return photo_sources(photos, split)


def _sequence(split: str, index: int, photos) -> tuple[str, int]:
    """:func:`sequence_of`, or for a folder of photos the photo's path as a folder name."""
    if photos is None:
        return sequence_of(split, index)
    files = _photo_files(Path(photos), split)
    name = files[index % len(files)].relative_to(photos).with_suffix("").as_posix()
    return name.replace("/", "_"), index // len(files)


def _train_scale(rng: np.random.Generator) -> float:
    """A random zoom factor for a training canvas, log-uniform in [1, 8/5].

    Enlarging makes the sharp image soft, as the test images are (their sources are smaller than
    the test size, so they are enlarged 1.1 to 1.6 times) and as many photos are. A network
    trained on crisp, shrunk images takes every soft image for a blurred one and over-sharpens it:
    with zooms of 1/2 to 8/5 it lost 3 dB on the barely blurred test pairs.
    """
    return float(np.exp(rng.uniform(0.0, np.log(1.6))))


@functools.lru_cache(maxsize=32)
def _photo(path: Path) -> np.ndarray:
    image = load_image(path)
    image.setflags(write=False)
    return image


def _canvas(
    image: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
    augment: bool,
    margin: int = MARGIN,
):
    """A window of ``image``, resized to ``size`` plus the margin (train: random scale, flip)."""
    height, width = size[0] + 2 * margin, size[1] + 2 * margin
    needed = max(height / image.shape[0], width / image.shape[1])  # > 1: must upsample
    scale = max(needed, _train_scale(rng) if augment else 1.0)
    rows = min(int(np.ceil(height / scale)), image.shape[0])
    cols = min(int(np.ceil(width / scale)), image.shape[1])
    top = rng.integers(image.shape[0] - rows + 1)
    left = rng.integers(image.shape[1] - cols + 1)
    window = image[top : top + rows, left : left + cols]
    if augment and rng.random() < 0.5:
        window = window[:, ::-1]
    if window.shape[:2] != (height, width):
        window = resize(window, (height, width), order=1, anti_aliasing=scale < 1)
    return np.clip(window, 0.0, 1.0).astype(np.float32)


def synth_pair(
    split: str,
    index: int,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    photos: str | os.PathLike | None = None,
    photo_shake: tuple[float, float] = PHOTO_SHAKE,
    **blur_kwargs,
) -> tuple[str, BlurPair, np.ndarray]:
    """Make pair ``index`` of a split of the synthetic dataset.

    Parameters
    ----------
    split : {"train", "test"}
    index : int
        Pair number within the split; :func:`sequence_of` says which sequence (source image,
        or a dead-leaves image) it belongs to and which frame of it it is. With ``photos``, pair
        ``i`` comes from photo ``i % n_photos`` of the split.
    seed : int
        Dataset seed; the pair depends only on ``(seed, split, index)``.
    size : (int, int), optional
        Output size; :data:`TRAIN_SIZE` or :data:`TEST_SIZE` by default.
    photos : path, optional
        A folder of sharp photographs to use instead of the bundled images
        (:func:`~svrnn_lite.sources.photo_sources`). Their pairs have GoPro-scale motion: the
        camera shake of each pair is drawn from :data:`PHOTO_SHAKE` with a margin of
        :data:`PHOTO_MARGIN`, and there are no dead-leaves pairs.
    photo_shake : (float, float)
        With ``photos``: the range the camera shake is drawn from, log-uniformly, in pixels per
        sub-frame (:data:`PHOTO_SHAKE` by default; a larger range makes stronger blur).
    **blur_kwargs
        Passed on to :func:`svrnn_lite.blur.make_blur_pair` (e.g. ``shake``, ``n_frames``).

    Returns
    -------
    sequence : str
        The sequence (source image) name.
    pair : BlurPair
        ``pair.blurred`` averages the encoded frames (GoPro ``blur``).
    blurred_gamma : ndarray
        The same frames averaged in linear light with gamma 2.2 (GoPro ``blur_gamma``).

    Examples
    --------
    >>> name, pair, blurred_gamma = synth_pair("test", 1, size=(64, 96))
    >>> name, pair.sharp.shape, blurred_gamma.shape
    ('chelsea', (64, 96, 3), (64, 96, 3))
    """
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    size = size or (TRAIN_SIZE if split == "train" else TEST_SIZE)
    rng = np.random.default_rng([seed, ("train", "test").index(split), index])
    if photos is not None:
        return _photo_pair(split, index, size, rng, photos, photo_shake, blur_kwargs)
    names = source_names(split)
    name, _ = sequence_of(split, index)
    if name == DEAD_LEAVES:
        canvas_size = (size[0] + 2 * MARGIN, size[1] + 2 * MARGIN)
        zoom = _train_scale(rng)  # a smaller image, enlarged: soft edges
        small = tuple(int(np.ceil(side / zoom)) for side in canvas_size)
        canvas = dead_leaves(small, rng, colors=_palette())
        if small != canvas_size:
            canvas = resize(canvas, canvas_size, order=1).astype(np.float32)
    else:
        canvas = _canvas(_source(name), size, rng, augment=split == "train")
    others = [other for other in names if other != name]
    others = [
        _source(other) for other in rng.choice(others, size=min(3, len(others)), replace=False)
    ]
    pair = make_blur_pair(
        canvas, rng, size=size, margin=MARGIN, object_images=others, gamma=None, **blur_kwargs
    )
    blurred_gamma = np.round(average_frames(pair.frames, gamma=GOPRO_GAMMA) * 255) / 255
    return name, pair, blurred_gamma.astype(np.float32)


def _photo_pair(split, index, size, rng, photos, photo_shake, blur_kwargs):
    """:func:`synth_pair` from a folder of photographs, with GoPro-scale camera shake."""
    files = _photo_files(Path(photos), split)
    path = files[index % len(files)]
    canvas = _canvas(_photo(path), size, rng, augment=split == "train", margin=PHOTO_MARGIN)
    others = [_photo(files[i]) for i in rng.choice(len(files), size=min(3, len(files)))]
    settings = {"shake": float(np.exp(rng.uniform(*np.log(photo_shake))))} | blur_kwargs
    pair = make_blur_pair(
        canvas, rng, size=size, margin=PHOTO_MARGIN, object_images=others, gamma=None, **settings
    )
    blurred_gamma = np.round(average_frames(pair.frames, gamma=GOPRO_GAMMA) * 255) / 255
    return _sequence(split, index, photos)[0], pair, blurred_gamma.astype(np.float32)


def write_dataset(
    root: str | os.PathLike,
    n_train: int = N_TRAIN,
    n_test: int = N_TEST,
    seed: int = 0,
    train_size: tuple[int, int] = TRAIN_SIZE,
    test_size: tuple[int, int] = TEST_SIZE,
    progress: bool = True,
    photos: str | os.PathLike | None = None,
    photo_shake: tuple[float, float] | None = None,
) -> dict[str, int]:
    """Write the synthetic dataset in the GoPro layout under ``root``.

    The settings are saved in ``root/synth.json``. Writing again into the same folder with the
    same settings skips the pairs already complete (so an interrupted run resumes); other settings
    or a non-empty folder without ``synth.json`` are refused, so datasets never mix. Every PNG is
    written to a temporary file and renamed, so no half-written image is ever left behind.

    Parameters
    ----------
    root : path
        Output folder (created if missing).
    n_train, n_test : int
        Number of pairs per split.
    seed : int
        Dataset seed; the same seed gives the same files, byte for byte.
    train_size, test_size : (int, int)
        Size (H, W) of the pairs of each split.
    progress : bool
        Show a tqdm progress bar.
    photos : path, optional
        Synthesise from this folder of sharp photographs instead of the bundled images, with
        GoPro-scale motion (:func:`synth_pair`).
    photo_shake : (float, float), optional
        With ``photos``: the range of camera shake in pixels per sub-frame, instead of
        :data:`PHOTO_SHAKE` (e.g. ``(1.0, 4.0)`` for a dataset of strong blur).

    Returns
    -------
    dict
        Pairs written per split, ``{"train": ..., "test": ...}``, skipped ones not counted.

    Raises
    ------
    ValueError
        If a setting is out of range (the message names its command-line option, ``--n-train``
        for ``n_train``), checked before anything is written; or if ``root`` holds other data.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> write_dataset(root, n_train=2, n_test=1, train_size=(32, 32), test_size=(32, 48),
    ...               progress=False)
    {'train': 2, 'test': 1}
    >>> sorted(p.name for p in Path(root, "test", "astronaut").iterdir())
    ['blur', 'blur_gamma', 'sharp']
    """
    root = Path(root)
    check_settings(n_train, n_test, seed, train_size, test_size)  # before writing anything
    settings = {
        "format": "svrnn-lite synthetic GoPro layout, version 4",
        "seed": int(seed),
        "n_train": int(n_train),
        "n_test": int(n_test),
        "train_size": [int(s) for s in train_size],
        "test_size": [int(s) for s in test_size],
    }
    if photos is not None:
        settings["photos"] = str(Path(photos).resolve())
        for split in ("train", "test"):
            photo_sources(photos, split)  # the folder exists and both splits have photos
    if photo_shake is not None:
        low, high = (float(v) for v in photo_shake)
        if photos is None or not 0 < low <= high:
            raise ValueError(
                "--shake needs --photos and a range 0 < LOW <= HIGH (pixels per sub-frame), "
                f"got {tuple(photo_shake)}" + ("" if photos else " without --photos")
            )
        settings["photo_shake"] = [low, high]
    manifest = root / "synth.json"
    if manifest.exists():
        previous = json.loads(manifest.read_text())
        if previous != settings:
            raise ValueError(
                f"{root} holds a synthetic dataset made with other settings ({previous}); "
                "write to another folder or delete this one"
            )
    elif root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} is not empty and holds no synth.json: choose an empty folder")
    root.mkdir(parents=True, exist_ok=True)
    with atomic_path(manifest) as tmp:
        tmp.write_text(json.dumps(settings, indent=2) + "\n")

    jobs = [("train", i, tuple(train_size)) for i in range(n_train)]
    jobs += [("test", i, tuple(test_size)) for i in range(n_test)]
    written = {"train": 0, "test": 0}
    for split, index, size in tqdm(jobs, desc="synthesising", unit="pair", disable=not progress):
        sequence, number = _sequence(split, index, photos)
        frame = f"{number:06d}.png"
        paths = {v: root / split / sequence / v / frame for v in VARIANTS}
        if all(path.exists() for path in paths.values()):
            continue  # done by an earlier, interrupted run
        _, pair, blurred_gamma = synth_pair(
            split, index, seed, size, photos=photos, photo_shake=photo_shake or PHOTO_SHAKE
        )
        for variant, image in zip(VARIANTS, (pair.blurred, blurred_gamma, pair.sharp), strict=True):
            paths[variant].parent.mkdir(parents=True, exist_ok=True)
            save_image(paths[variant], image, compress_level=1)  # fast; 8-bit PNG
        written[split] += 1
    return written
