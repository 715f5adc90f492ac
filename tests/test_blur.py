"""svrnn_lite.blur, .motion and .render: the GoPro frame average, camera shake, moving objects,
the rendered frames and the blur pair."""

import numpy as np
import pytest
from skimage import data

from svrnn_lite.blur import average_frames, make_blur_pair
from svrnn_lite.motion import MovingObject, Trajectory, shake_trajectory
from svrnn_lite.render import render_frames

# a small colour image keeps every test fast: 96x112 crops of it leave a 32-pixel margin
IMAGE = data.astronaut()[100:260, 150:326]  # (160, 176, 3) uint8
SIZE = (96, 112)
STILL = dict(shake=0.0, rotation=0.0, n_objects=0)
CLEAN = dict(noise_sigma=0.0, quantize=False)


def mean_abs_difference(pair):
    return float(np.abs(pair.blurred - pair.sharp).mean())


# --- average_frames ---------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [None, 1.0, 2.2])
@pytest.mark.parametrize("n", [1, 7, 13])
def test_averaging_identical_frames_returns_the_frame(gamma, n):
    frame = np.random.default_rng(n).random((5, 6, 3))
    frames = np.repeat(frame[None], n, axis=0)
    np.testing.assert_allclose(average_frames(frames, gamma=gamma), frame, atol=1e-12)


def test_gamma_average_is_the_mean_of_the_light():
    rng = np.random.default_rng(0)
    frames = rng.random((9, 4, 5, 3))
    gamma = 2.2
    # decode each frame to linear light, add the light up, encode the mean again, in float64 loops
    light = np.zeros((4, 5, 3))
    for frame in frames:
        light += np.power(frame, gamma)
    expected = np.power(light / len(frames), 1 / gamma)
    np.testing.assert_allclose(average_frames(frames, gamma=gamma), expected, rtol=1e-10)
    # the light of the blurry image is linear in the light of the frames
    np.testing.assert_allclose(
        average_frames(frames, gamma=gamma) ** gamma, np.mean(frames**gamma, axis=0), rtol=1e-10
    )


def test_gamma_none_averages_encoded_values():
    frames = np.random.default_rng(1).random((7, 3, 3, 3))
    np.testing.assert_allclose(average_frames(frames, gamma=None), frames.sum(axis=0) / 7)


def test_gamma_average_is_brighter_than_the_encoded_average():
    # power-mean inequality: for gamma > 1 the mean in linear light is never darker
    frames = np.random.default_rng(2).random((8, 6, 6, 3))
    assert np.all(average_frames(frames, 2.2) >= average_frames(frames, None) - 1e-12)
    black_white = np.stack([np.zeros((1, 1, 3)), np.ones((1, 1, 3))])
    np.testing.assert_allclose(average_frames(black_white, 2.2), 0.5 ** (1 / 2.2))


def test_average_frames_keeps_float32():
    frames = np.random.default_rng(3).random((3, 4, 4, 3)).astype(np.float32)
    assert average_frames(frames, 2.2).dtype == np.float32


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        (np.zeros((4, 4, 3)), r"shape \(N, H, W, C\)"),
        (np.zeros((0, 4, 4, 3)), "at least one frame"),
        (np.zeros((2, 4, 4, 3), np.uint8), "floats in"),
        (np.full((2, 4, 4, 3), 1.5), r"in \[0, 1\]"),
    ],
)
def test_average_frames_rejects_bad_frames(frames, match):
    with pytest.raises(ValueError, match=match):
        average_frames(frames)


# --- camera shake and rendering ---------------------------------------------------------------


def test_trajectory_is_still_at_the_middle_frame_and_deterministic():
    for n in (7, 8, 13):
        t = shake_trajectory(5, n)
        assert all(len(a) == n for a in t)
        assert t.dy[n // 2] == t.dx[n // 2] == t.theta[n // 2] == 0.0
        for a, b in zip(t, shake_trajectory(5, n), strict=True):
            np.testing.assert_array_equal(a, b)


def test_trajectory_without_jitter_is_uniform_motion():
    t = shake_trajectory(0, 9, shake=2.0, rotation=0.5, jitter=0.0)
    for a in t:
        steps = np.diff(a)
        np.testing.assert_allclose(steps, steps[0])


def test_trajectory_speed_scales_with_shake():
    slow = shake_trajectory(4, 11, shake=0.5, rotation=0.0)
    fast = shake_trajectory(4, 11, shake=2.0, rotation=0.0)
    np.testing.assert_allclose(fast.dx, 4 * slow.dx)


def test_sharp_is_the_middle_frame_and_an_exact_crop():
    pair = make_blur_pair(IMAGE, 0, size=SIZE, n_objects=0, **CLEAN)
    np.testing.assert_array_equal(pair.sharp, pair.frames[pair.n_frames // 2])
    # the middle frame is not interpolated: it appears pixel for pixel somewhere in the image
    image = IMAGE.astype(np.float32) / 255
    h, w = SIZE
    matches = [
        (top, left)
        for top in range(32, IMAGE.shape[0] - h - 32 + 1)
        for left in range(32, IMAGE.shape[1] - w - 32 + 1)
        if np.allclose(image[top : top + h, left : left + w], pair.sharp, atol=1e-6)
    ]
    assert len(matches) == 1


def test_blurred_is_the_gamma_average_of_the_frames():
    pair = make_blur_pair(IMAGE, 1, size=SIZE, gamma=2.2, quantize=False)
    np.testing.assert_allclose(pair.blurred, average_frames(pair.frames, 2.2), atol=1e-6)
    pair = make_blur_pair(IMAGE, 1, size=SIZE, gamma=None, quantize=False)
    np.testing.assert_allclose(pair.blurred, pair.frames.mean(axis=0), atol=1e-6)


def test_make_blur_pair_is_deterministic():
    a = make_blur_pair(IMAGE, np.random.default_rng(7), size=SIZE)
    b = make_blur_pair(IMAGE, np.random.default_rng(7), size=SIZE)
    c = make_blur_pair(IMAGE, np.random.default_rng(8), size=SIZE)
    for x, y in zip(a[:3], b[:3], strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.n_frames == b.n_frames
    assert not np.array_equal(a.blurred, c.blurred)


def test_n_frames_is_drawn_from_gopro_range():
    counts = {
        make_blur_pair(IMAGE, seed, size=(8, 8), **STILL, **CLEAN).n_frames for seed in range(60)
    }
    assert counts == set(range(7, 14))


def test_no_motion_gives_no_blur():
    pair = make_blur_pair(IMAGE, 2, size=SIZE, **STILL, **CLEAN)
    np.testing.assert_allclose(pair.blurred, pair.sharp, atol=1e-6)
    assert float(pair.motion.max()) == 0.0


def test_blur_grows_with_n_frames():
    seeds = range(6)
    short = [
        mean_abs_difference(make_blur_pair(IMAGE, s, 7, SIZE, n_objects=0, **CLEAN)) for s in seeds
    ]
    long = [
        mean_abs_difference(make_blur_pair(IMAGE, s, 13, SIZE, n_objects=0, **CLEAN)) for s in seeds
    ]
    assert np.mean(long) > 1.3 * np.mean(short)


def test_blur_grows_with_shake():
    def blur(shake):
        pairs = [
            make_blur_pair(IMAGE, s, 9, SIZE, shake=shake, n_objects=0, **CLEAN) for s in range(6)
        ]
        return np.mean([mean_abs_difference(p) for p in pairs]), np.mean(
            [p.motion.mean() for p in pairs]
        )

    (d1, m1), (d2, m2), (d3, m3) = blur(0.25), blur(0.5), blur(1.0)
    assert d1 < d2 < d3
    assert m1 < m2 < m3


def test_motion_map_of_camera_translation_is_the_path_length():
    pair = make_blur_pair(IMAGE, 3, size=SIZE, shake=1.5, rotation=0.0, n_objects=0, **CLEAN)
    t = pair.trajectory
    path = np.hypot(np.diff(t.dy), np.diff(t.dx)).sum()
    np.testing.assert_allclose(pair.motion, path, rtol=1e-4)


def test_motion_map_of_camera_rotation_grows_with_distance_from_centre():
    n, h, w = 5, 41, 61
    angles = np.deg2rad([-2.0, -1.0, 0.0, 1.5, 2.5])
    spin = Trajectory(np.zeros(n), np.zeros(n), angles)
    canvas = np.full((h + 40, w + 40, 3), 0.5, np.float32)
    _, motion = render_frames(canvas, (20, 20), (h, w), spin)
    # a point at distance r from the centre moves along chords of length 2 r sin(|d theta| / 2)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)
    expected = r * np.sum(2 * np.sin(np.abs(np.diff(angles)) / 2))
    np.testing.assert_allclose(motion, expected, atol=1e-3)


def test_constant_scene_shows_no_border_artefacts_under_strong_shake():
    grey = np.full((160, 176, 3), 0.4, np.float32)
    pair = make_blur_pair(
        grey, 4, n_frames=13, size=SIZE, shake=5.0, rotation=1.0, n_objects=0, **CLEAN
    )
    assert pair.motion.max() > 20  # it really moved (the shake is scaled to the margin)
    np.testing.assert_allclose(pair.blurred, 0.4, atol=1e-5)


# --- moving objects ---------------------------------------------------------------------------


def square_object(color, center, velocity, side=9):
    alpha = np.ones((side, side), np.float32)
    texture = np.ones((side, side, 3), np.float32) * np.asarray(color, np.float32)
    return MovingObject(texture, alpha, np.asarray(center, float), np.asarray(velocity, float))


def test_later_objects_hide_earlier_ones():
    canvas = np.zeros((40, 40, 3), np.float32)
    still = Trajectory(np.zeros(3), np.zeros(3), np.zeros(3))
    red = square_object((1, 0, 0), (10, 10), (0, 0))
    blue = square_object((0, 0, 1), (12, 12), (0, 0))
    frames, _ = render_frames(canvas, (10, 10), (20, 20), still, [red, blue])
    middle = frames[1]
    np.testing.assert_allclose(middle[12, 12], (0, 0, 1))  # overlap: blue is in front
    np.testing.assert_allclose(middle[7, 7], (1, 0, 0))  # red where blue is not
    np.testing.assert_allclose(middle[1, 1], (0, 0, 0))  # background elsewhere
    frames, _ = render_frames(canvas, (10, 10), (20, 20), still, [blue, red])
    np.testing.assert_allclose(frames[1][12, 12], (1, 0, 0))


def test_moving_object_blurs_only_where_it_is():
    canvas = np.zeros((60, 60, 3), np.float32)
    n = 7
    still = Trajectory(np.zeros(n), np.zeros(n), np.zeros(n))
    velocity = (0.0, 2.0)
    frames, motion = render_frames(
        canvas, (10, 10), (40, 40), still, [square_object((1, 1, 1), (20, 20), velocity)]
    )
    # the object moves 2 px per frame to the right: frame i shows it shifted by 2 (i - 3) columns
    for i in range(n):
        cols = np.flatnonzero(frames[i][20, :, 0] > 0.5)
        assert cols.min() == 16 + 2 * (i - 3)
    assert np.allclose(motion[20, 20], 2.0 * (n - 1))  # on the object: its path
    assert motion[2, 2] == 0.0  # the background did not move
    blurred = average_frames(frames, None)
    assert 0 < blurred[20, 10, 0] < 1  # the streak is partly transparent at its ends


def test_objects_make_the_blur_spatially_variant():
    pair = make_blur_pair(
        IMAGE, 5, size=SIZE, shake=0.0, rotation=0.0, n_objects=3, object_speed=3.0, **CLEAN
    )
    assert pair.motion.min() == 0.0  # still background
    assert pair.motion.max() > 10.0  # fast objects


# --- input handling ---------------------------------------------------------------------------


def test_grey_image_gives_grey_rgb_pair():
    grey = data.camera()[:160, :176]
    pair = make_blur_pair(grey, 0, size=SIZE, **CLEAN)
    assert pair.blurred.shape == pair.sharp.shape == (*SIZE, 3)
    np.testing.assert_allclose(pair.blurred[..., 0], pair.blurred[..., 2], atol=1e-6)


def test_uint16_image_gives_the_same_pair_as_its_float_version():
    image16 = IMAGE.astype(np.uint16) * 257  # 8-bit values scaled to 16 bits
    as_float = IMAGE.astype(np.float64) / 255
    a = make_blur_pair(image16, 9, size=SIZE)
    b = make_blur_pair(as_float, 9, size=SIZE)
    np.testing.assert_allclose(a.blurred, b.blurred, atol=1.5 / 255)
    np.testing.assert_allclose(a.sharp, b.sharp, atol=1.5 / 255)
    assert a.blurred.dtype == np.float32 and 0 <= a.blurred.min() and a.blurred.max() <= 1


def test_default_size_is_the_image_minus_the_margin():
    pair = make_blur_pair(IMAGE, 0, margin=20)
    assert pair.sharp.shape == (IMAGE.shape[0] - 40, IMAGE.shape[1] - 40, 3)


def test_blurred_is_quantised_to_8_bits():
    pair = make_blur_pair(IMAGE, 6, size=SIZE)
    for image in (pair.blurred, pair.sharp):
        np.testing.assert_allclose(image * 255, np.round(image * 255), atol=1e-3)


def test_noise_is_averaged_down_by_the_frames():
    flat = np.full((128, 128, 3), 0.5)
    sigma = 0.02
    pair = make_blur_pair(
        flat, 0, n_frames=9, size=(64, 64), **STILL, noise_sigma=sigma, gamma=None, quantize=False
    )
    assert pair.sharp.std() == pytest.approx(sigma, rel=0.1)
    assert pair.blurred.std() == pytest.approx(sigma / np.sqrt(9), rel=0.1)


@pytest.mark.parametrize(
    ("image", "kwargs", "match"),
    [
        (np.zeros((100, 100, 3)), dict(size=(128, 128)), "too small"),
        (np.zeros((60, 60, 3)), dict(), "no room"),
        (np.zeros((200, 200, 4), np.uint8), dict(), r"\(H, W, 3\) or \(H, W\)"),
        (np.full((200, 200, 3), 2.0), dict(), r"in \[0, 1\]"),
        (np.zeros((200, 200, 3), np.int16), dict(), "unsigned integers or floats"),
        (IMAGE, dict(n_frames=0), "n_frames"),
        (IMAGE, dict(noise_sigma=-1.0), "noise_sigma"),
    ],
)
def test_bad_input_gives_a_clear_error(image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_blur_pair(image, 0, **kwargs)


def test_render_frames_rejects_a_crop_outside_the_canvas():
    still = Trajectory(np.zeros(3), np.zeros(3), np.zeros(3))
    canvas = np.zeros((20, 20, 3), np.float32)
    with pytest.raises(ValueError, match="does not fit in a canvas of shape"):
        render_frames(canvas, (15, 0), (10, 10), still)
    with pytest.raises(ValueError, match="equally long arrays"):
        render_frames(canvas, (0, 0), (10, 10), Trajectory(np.zeros(3), np.zeros(2), np.zeros(3)))
