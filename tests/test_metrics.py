"""Metrics follow the GoPro conventions and agree with scikit-image's reference functions."""

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from svrnn_lite.metrics import psnr, ssim, to_uint8


@pytest.fixture
def pair():
    rng = np.random.default_rng(1)
    sharp = rng.random((40, 48, 3))
    noisy = np.clip(sharp + rng.normal(0, 0.05, sharp.shape), 0, 1)
    return noisy, sharp


def test_psnr_matches_scikit_image_on_the_rounded_images(pair):
    out, ref = pair
    expected = peak_signal_noise_ratio(to_uint8(ref), to_uint8(out), data_range=255)
    assert psnr(out, ref) == pytest.approx(expected, abs=1e-10)


def test_ssim_matches_scikit_image_with_the_gopro_arguments(pair):
    out, ref = pair
    expected = structural_similarity(
        to_uint8(out),
        to_uint8(ref),
        channel_axis=-1,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert ssim(out, ref) == pytest.approx(expected, abs=1e-12)


def test_rounding_to_8_bit_happens_before_scoring():
    ref = np.full((16, 16, 3), 0.5)
    tiny_shift = ref + 0.3 / 255  # rounds to the same 8-bit value
    assert psnr(tiny_shift, ref) == math.inf
    assert ssim(tiny_shift, ref) == 1.0


def test_identical_images_give_infinite_psnr_and_unit_ssim(pair):
    _, ref = pair
    assert psnr(ref, ref) == math.inf
    assert ssim(ref, ref) == pytest.approx(1.0)


def test_out_of_range_outputs_are_clamped():
    ref = np.ones((8, 8, 3))
    assert psnr(ref * 1.7, ref) == math.inf


def test_torch_chw_tensors_are_accepted(pair):
    out, ref = pair
    as_tensor = torch.from_numpy(out).permute(2, 0, 1)
    assert psnr(as_tensor, ref) == psnr(out, ref)


def test_shape_mismatch_is_a_clear_error(pair):
    out, ref = pair
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(out[:-1], ref)


def test_grey_image_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        psnr(np.zeros((8, 8)), np.zeros((8, 8)))


def test_integer_images_other_than_uint8_are_refused():
    with pytest.raises(ValueError, match="uint8"):
        to_uint8(np.zeros((8, 8, 3), dtype=np.uint16))


def test_ssim_on_too_small_images_is_a_clear_error():
    with pytest.raises(ValueError, match="11x11"):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
