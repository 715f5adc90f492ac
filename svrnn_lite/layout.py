"""The GoPro folder layout of a deblurring dataset, and the list of its pairs.

GoPro (Nah et al. 2017) and the synthetic dataset of :mod:`svrnn_lite.synth` share one layout::

    <root>/{train,test}/<sequence>/{blur,blur_gamma,sharp}/<frame>.png

A blurry image and its sharp target have the same file name in the same sequence;
:func:`gopro_pairs` lists the pairs, and :class:`svrnn_lite.data.PairDataset` serves them.

Explained in chapter *Blur synthesis by frame averaging*.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "gopro_pairs"]

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
