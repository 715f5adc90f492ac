"""Tests of svrnn_lite.linear_blur and svrnn_lite.handbuilt: the 2-tap blur and its recursion, the
pan blur and its spectrum, the regularised inverse, and the hand-built SpatialRNN block that
undoes a known pan."""

import numpy as np
import pytest
import torch

from svrnn_lite.handbuilt import FIT_SOURCES, GATE_BANK, HandBuiltDeblur, fit_handbuilt
from svrnn_lite.linear_blur import (
    box_response,
    pan_blur,
    regularised_inverse,
    two_tap_blur,
    wiener_deblur,
)
from svrnn_lite.metrics import psnr
from svrnn_lite.recursive import recursive_filter
from svrnn_lite.sources import TEST_SOURCES, load_source

LENGTH = 9


@pytest.fixture(scope="module")
def block() -> HandBuiltDeblur:
    return fit_handbuilt(LENGTH, size=128)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A test photo (never one the weights are fitted on), cropped to keep the tests quick."""
    assert "astronaut" in TEST_SOURCES and "astronaut" not in FIT_SOURCES
    return load_source("astronaut")[40:200, 180:340]


# --- the 2-tap blur ----------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_two_tap_blur_is_undone_exactly_by_one_recursion(axis):
    x = np.random.default_rng(0).random((6, 7, 3))
    a = 0.7
    y = two_tap_blur(x, a, axis=axis)
    assert not np.allclose(y, x)
    yt = torch.from_numpy(y)
    restored = recursive_filter(yt, torch.full_like(yt, -a), dim=axis).numpy()
    np.testing.assert_allclose(restored, x, atol=1e-12)


def test_two_tap_blur_matches_its_formula():
    x = np.array([0.3, 0.9, 0.1, 0.5])
    expected = (x + 0.4 * np.concatenate([[0.0], x[:-1]])) / 1.4
    np.testing.assert_allclose(two_tap_blur(x, 0.4), expected)


@pytest.mark.parametrize(
    ("x", "a", "axis"), [(1.0, 0.5, -1), ([1.0, 2.0], 1.0, -1), ([1.0], -0.1, -1), ([1.0], 0.5, 1)]
)
def test_two_tap_blur_checks_its_inputs(x, a, axis):
    with pytest.raises(ValueError):
        two_tap_blur(x, a, axis=axis)


# --- the pan blur and its spectrum -------------------------------------------------------------


@pytest.mark.parametrize("along", [1, 0])
def test_pan_blur_is_the_centred_box_mean(along):
    image = np.random.default_rng(1).random((20, 24, 3)).astype(np.float32)
    blurred, sharp = pan_blur(image, 5, along=along, quantize=False)
    moved = np.moveaxis(image, along, 0)
    box = np.stack([moved[k : k + len(moved) - 4] for k in range(5)]).mean(axis=0)
    np.testing.assert_allclose(blurred, np.moveaxis(box, 0, along), atol=1e-6)
    np.testing.assert_array_equal(sharp, np.moveaxis(moved[2:-2], 0, along))


def test_pan_blur_rounds_to_8_bits_by_default():
    blurred, _ = pan_blur(np.random.default_rng(2).random((8, 12)), 3)
    np.testing.assert_allclose(blurred * 255, np.round(blurred * 255), atol=1e-4)


@pytest.mark.parametrize(("length", "along"), [(4, 1), (0, 1), (3, 2), (9, 1)])
def test_pan_blur_checks_its_inputs(length, along):
    with pytest.raises(ValueError):  # even, zero, no such axis, longer than the image
        pan_blur(np.zeros((8, 8)), length, along)


@pytest.mark.parametrize("length", [3, 9, 15])
def test_box_response_is_the_spectrum_of_the_box_with_zeros_at_2_pi_m_over_l(length):
    omega = 2 * np.pi * np.fft.rfftfreq(256)
    kernel = np.zeros(256)
    kernel[np.arange(length) - length // 2] = 1.0 / length  # centred: indices wrap around
    np.testing.assert_allclose(box_response(length, omega), np.fft.rfft(kernel).real, atol=1e-12)
    zeros = 2 * np.pi * np.arange(1, (length + 1) // 2) / length
    np.testing.assert_allclose(box_response(length, zeros), 0.0, atol=1e-12)
    assert box_response(length, 0.0) == pytest.approx(1.0)


def test_regularised_inverse_is_the_inverse_where_the_blur_is_strong_and_zero_at_its_zeros():
    omega = np.linspace(0, 0.3, 7)
    h = box_response(LENGTH, omega)
    np.testing.assert_allclose(regularised_inverse(LENGTH, omega, 1e-8), 1 / h, rtol=1e-6)
    assert regularised_inverse(LENGTH, 2 * np.pi / LENGTH, 1e-3) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError):
        regularised_inverse(LENGTH, omega, 0.0)


def test_wiener_deblur_improves_a_pan_blur_by_more_than_a_db(photo):
    blurred, sharp = pan_blur(photo, LENGTH)
    assert psnr(wiener_deblur(blurred, LENGTH), sharp) > psnr(blurred, sharp) + 1.0


# --- the hand-built block ----------------------------------------------------------------------


def test_gates_go_to_the_scans_along_the_motion_pixel_by_pixel():
    block = HandBuiltDeblur(LENGTH, (0.5, -0.25), np.zeros(3))
    along = np.array([[1, 0, 1]])
    gates = block.gates(along, (1, 3))
    assert gates.shape == (2, 12, 1, 3)
    horizontal, vertical = gates[:, :6], gates[:, 6:]  # left<->right, top<->bottom (x 3 colours)
    for k, g in enumerate(block.gate_bank):
        assert torch.equal(horizontal[k], g * torch.tensor([1.0, 0, 1]).expand(6, 1, 3))
        assert torch.equal(vertical[k], g * torch.tensor([0.0, 1, 0]).expand(6, 1, 3))


def test_the_block_multiplies_a_wave_by_its_frequency_response():
    """Along the motion, the block is the filter C(w) of HandBuiltDeblur.response."""
    block = HandBuiltDeblur(LENGTH, (0.6, -0.4, 0.9), np.array([0.3, -0.5, 0.2, 0.4]))
    for omega in [0.3, 1.1, 2.5]:
        wave = np.cos(omega * np.arange(400))
        image = np.repeat(np.tile(wave, (6, 1))[..., None], 3, axis=-1)
        out = block(image, along=1)
        middle = slice(150, 250)  # far from the ends, whose mirrored kink fades like 0.9**150
        expected = block.response(omega) * wave[middle]
        np.testing.assert_allclose(
            out[:, middle], np.tile(expected[None, :, None], (6, 1, 3)), atol=1e-6
        )
        vertical = block(np.swapaxes(image, 0, 1), along=0)
        np.testing.assert_allclose(vertical, np.swapaxes(out, 0, 1), atol=1e-12)


def test_a_fitted_block_keeps_flat_areas_flat(block):
    assert block.response(0.0) == pytest.approx(1.0, abs=0.01)
    assert len(block.weights) == len(GATE_BANK) + 1


@pytest.mark.parametrize("along", [1, 0])
def test_a_fitted_block_gains_more_than_a_db_on_a_test_photo(block, photo, along):
    """Measured: about +3.5 dB (L = 9) on crops of the test photos; 1 dB leaves room."""
    blurred, sharp = pan_blur(photo, LENGTH, along)
    before, after = psnr(blurred, sharp), psnr(block(blurred, along), sharp)
    assert after > before + 1.0, f"{before:.2f} dB -> {after:.2f} dB"


def test_gates_across_the_motion_make_it_worse_and_per_pixel_gates_fix_it(block, photo):
    """Left half panned horizontally, right half vertically: gates must follow, pixel by pixel."""
    region = photo[4:-4, 4:-4]
    horizontal, _ = pan_blur(photo[4:-4], LENGTH, 1)
    vertical, _ = pan_blur(photo[:, 4:-4], LENGTH, 0)
    along = np.zeros(region.shape[:2], dtype=int)
    along[:, : along.shape[1] // 2] = 1
    blurred = np.where(along[..., None] == 1, horizontal, vertical)
    scores = {
        name: psnr(block(blurred, a), region)
        for name, a in [("horizontal", 1), ("vertical", 0), ("per pixel", along)]
    }
    assert scores["per pixel"] > max(scores["horizontal"], scores["vertical"]) + 1.0, scores
    assert scores["per pixel"] > psnr(blurred, region) + 1.0, scores


def test_noise_aware_weights_boost_high_frequencies_less():
    clean, noisy = fit_handbuilt(LENGTH, size=64), fit_handbuilt(LENGTH, size=64, noise=0.01)
    assert abs(noisy.response(np.pi)) < abs(clean.response(np.pi))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"length": 4},
        {"length": 9, "gate_bank": (0.5, 1.0)},
        {"length": 9, "gate_bank": ()},
        {"length": 9, "sources": ()},
        {"length": 9, "size": 4},
        {"length": 9, "noise": -0.1},
        {"length": 9, "sources": ("no such photo",)},
    ],
)
def test_fit_handbuilt_checks_its_inputs(kwargs):
    with pytest.raises(ValueError):
        fit_handbuilt(**kwargs)


@pytest.mark.parametrize(
    ("image", "along"),
    [
        (np.zeros((8, 8)), 1),  # not RGB
        (np.full((8, 8, 3), np.nan), 1),
        (np.zeros((8, 8, 3)), 2),
        (np.zeros((8, 8, 3)), np.ones((4, 4), dtype=int)),
        (np.zeros((8, 8, 3)), np.full((8, 8), 2)),
    ],
)
def test_the_block_checks_its_inputs(image, along):
    with pytest.raises(ValueError):
        HandBuiltDeblur(LENGTH, (0.5,), np.zeros(2))(image, along)
