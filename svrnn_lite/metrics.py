"""PSNR and SSIM with the conventions of the GoPro benchmark.

Published GoPro numbers are computed on the *saved 8-bit images*: the network output is clamped
to [0, 1], scaled to [0, 255] and rounded to uint8 first; PSNR is taken over the full RGB frame
with no border crop. SSIM differs between implementations, so we use the one the GoPro authors
recommend: scikit-image's ``structural_similarity`` with Gaussian weights (sigma 1.5), population
covariance and ``data_range=255``. Explained in chapter *Evaluation*.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

CONVENTION = (
    "GoPro convention: 8-bit RGB (clamped, rounded), full frame; "
    "SSIM = skimage structural_similarity(gaussian_weights=True, sigma=1.5, "
    "use_sample_covariance=False, data_range=255, channel_axis=-1)"
)


def to_uint8(image) -> np.ndarray:
    """Convert an image to the 8-bit RGB array the benchmark scores.

    Parameters
    ----------
    image : array_like or torch.Tensor
        (H, W, 3) or (3, H, W); floats in [0, 1] (values outside are clamped) or uint8.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)

    Examples
    --------
    >>> to_uint8(np.array([[[0.0, 0.5, 1.2]]]))
    array([[[  0, 128, 255]]], dtype=uint8)
    """
    if hasattr(image, "detach"):  # a torch tensor
        image = image.detach().cpu().numpy()
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] == 3 and image.shape[-1] != 3:
        image = np.moveaxis(image, 0, -1)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            f"expected an RGB image of shape (H, W, 3) or (3, H, W), got {image.shape}"
        )
    if image.dtype == np.uint8:
        return image
    if image.dtype.kind != "f":
        raise ValueError(f"expected floats in [0, 1] or uint8, got dtype {image.dtype}")
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def psnr(output, target) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(255^2 / MSE)`` on 8-bit RGB images.

    Both images are converted with :func:`to_uint8` first. Identical images give ``inf``.

    Examples
    --------
    >>> a = np.zeros((4, 4, 3))
    >>> b = np.full((4, 4, 3), 0.2)   # 51 of 255: MSE = 51**2, PSNR = 10 log10(25)
    >>> round(psnr(b, a), 2)
    13.98
    >>> psnr(a, a)
    inf
    """
    out, ref = _pair(output, target)
    mse = np.mean((out.astype(np.float64) - ref.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim(output, target) -> float:
    """Structural similarity on 8-bit RGB images with the GoPro authors' settings.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = rng.random((32, 32, 3))
    >>> ssim(img, img)
    1.0
    """
    out, ref = _pair(output, target)
    if min(out.shape[:2]) < 11:  # the Gaussian window (sigma 1.5) spans 11 pixels
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {out.shape[:2]}")
    return float(
        structural_similarity(
            out,
            ref,
            channel_axis=-1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
        )
    )


def _pair(output, target) -> tuple[np.ndarray, np.ndarray]:
    out, ref = to_uint8(output), to_uint8(target)
    if out.shape != ref.shape:
        raise ValueError(f"images differ in shape: output {out.shape}, target {ref.shape}")
    return out, ref
