"""Every kind of image file a user may hand over is read upright as RGB in [0, 1], or refused
with one clear error naming the file."""

import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from svrnn_lite.images import ImageError, image_size, load_image, save_image

RNG = np.random.default_rng(0)


def rgb8(h=7, w=13):
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def write_png16(path, pixels):
    """A 16-bit RGB PNG written by hand (Pillow cannot write one)."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )  # fmt: skip


def test_8_bit_rgb(tmp_path):
    pixels = rgb8()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert image.dtype == np.float32 and image.shape == (7, 13, 3)
    np.testing.assert_allclose(image, pixels / 255, atol=1e-7)


@pytest.mark.parametrize("mode", ["L", "1"])
def test_grey_is_repeated_into_three_channels(tmp_path, mode):
    grey = Image.fromarray(rgb8()[..., 0]).convert(mode)
    grey.save(tmp_path / "g.png")
    image = load_image(tmp_path / "g.png")
    assert image.shape == (7, 13, 3)
    assert np.array_equal(image[..., 0], image[..., 2])


def test_grey_with_alpha(tmp_path):
    la = np.stack([rgb8()[..., 0], np.full((7, 13), 128, np.uint8)], axis=-1)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    rgb, alpha = load_image(tmp_path / "la.png", with_alpha=True)
    np.testing.assert_allclose(rgb[..., 1], la[..., 0] / 255, atol=1e-7)
    np.testing.assert_allclose(alpha, 128 / 255, atol=1e-7)


def test_rgba_keeps_colour_and_returns_alpha(tmp_path):
    rgba = np.concatenate([rgb8(), np.full((7, 13, 1), 10, np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    rgb, alpha = load_image(tmp_path / "rgba.png", with_alpha=True)
    np.testing.assert_allclose(rgb, rgba[..., :3] / 255, atol=1e-7)
    assert load_image(tmp_path / "rgba.png").shape == (7, 13, 3)
    np.testing.assert_allclose(alpha, 10 / 255, atol=1e-7)


def test_palette_image(tmp_path):
    pixels = rgb8()
    Image.fromarray(pixels).quantize(16).save(tmp_path / "p.png")
    expected = np.asarray(Image.open(tmp_path / "p.png").convert("RGB")) / 255
    np.testing.assert_allclose(load_image(tmp_path / "p.png"), expected, atol=1e-7)


def test_16_bit_grey_png_keeps_its_precision(tmp_path):
    grey = RNG.integers(0, 65536, (7, 13), dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    np.testing.assert_allclose(load_image(tmp_path / "g16.png")[..., 0], grey / 65535, atol=1e-6)


def test_16_bit_rgb_png_is_read(tmp_path):
    pixels = RNG.integers(0, 65536, (7, 13, 3), dtype=np.uint16)
    write_png16(tmp_path / "rgb16.png", pixels)
    # Pillow decodes 16-bit RGB PNGs to 8 bits: within one 8-bit step of the truth
    np.testing.assert_allclose(load_image(tmp_path / "rgb16.png"), pixels / 65535, atol=1 / 255)


def test_float_tiff(tmp_path):
    pixels = RNG.random((7, 13, 3)).astype(np.float32) * 1.2 - 0.1
    tifffile.imwrite(tmp_path / "f.tif", pixels, photometric="rgb")
    np.testing.assert_allclose(load_image(tmp_path / "f.tif"), np.clip(pixels, 0, 1))


def test_16_bit_tiff(tmp_path):
    pixels = RNG.integers(0, 65536, (7, 13, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "i.tiff", pixels, photometric="rgb")
    np.testing.assert_allclose(load_image(tmp_path / "i.tiff"), pixels / 65535, atol=1e-6)


@pytest.mark.parametrize(
    ("pixels", "dtype"),
    [
        (np.full((3, 5), 51, np.uint8), np.uint8),  # grey, repeated into RGB
        (np.full((3, 5, 4), 51, np.uint8), np.uint8),  # RGBA: alpha dropped
        (np.full((3, 5), 13107, np.uint16), np.float32),  # 16-bit: no 8-bit values to keep
    ],
)
def test_keep_uint8_gives_8_bit_files_as_stored_and_the_rest_as_floats(tmp_path, pixels, dtype):
    Image.fromarray(pixels).save(tmp_path / "image.png")
    image = load_image(tmp_path / "image.png", keep_uint8=True)
    assert image.shape == (3, 5, 3) and image.dtype == dtype
    floats = image / 255 if dtype == np.uint8 else image
    np.testing.assert_allclose(floats, load_image(tmp_path / "image.png"), atol=1e-7)


def test_image_size_reads_the_header_upright_or_as_stored(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(rgb8(10, 30)).save(tmp_path / "r.jpg", exif=exif)
    assert image_size(tmp_path / "r.jpg") == load_image(tmp_path / "r.jpg").shape[:2] == (30, 10)
    assert image_size(tmp_path / "r.jpg", upright=False) == (10, 30)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match=r"cannot read .*notes\.png: not an image"):
        image_size(tmp_path / "notes.png")


def test_one_pixel_image(tmp_path):
    Image.fromarray(rgb8(1, 1)).save(tmp_path / "1.png")
    assert load_image(tmp_path / "1.png").shape == (1, 1, 3)


def test_exif_rotated_jpeg_is_read_upright(tmp_path):
    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, :5] = 255  # a white stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(wide).save(tmp_path / "r.jpg", exif=exif, quality=100)
    image = load_image(tmp_path / "r.jpg")
    assert image.shape == (30, 10, 3)  # upright: tall
    assert image[:5].mean() > 0.9 and image[-5:].mean() < 0.1  # stripe now on top


@pytest.mark.parametrize("name", ["with spaces.png", "размытие ü.png"])
def test_paths_with_spaces_and_non_ascii_characters(tmp_path, name):
    Image.fromarray(rgb8()).save(tmp_path / name)
    assert load_image(tmp_path / name).shape == (7, 13, 3)


def test_truncated_file_is_a_clear_error(tmp_path):
    Image.fromarray(rgb8(64, 64)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cannot read .*t\.png"):
        load_image(tmp_path / "t.png")


def test_a_text_file_is_a_clear_error(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match=r"notes\.png: not an image"):
        load_image(tmp_path / "notes.png")


def test_an_unreadable_file_is_a_permission_error_not_a_damaged_image(tmp_path, monkeypatch):
    path = tmp_path / "locked.png"
    Image.fromarray(rgb8()).save(path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", denied)  # tests run as root, who may read anything
    with pytest.raises(PermissionError, match="Permission denied"):
        load_image(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image file"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_save_and_load_round_trip(tmp_path, suffix):
    ramp = np.linspace(0, 1, 16 * 24).reshape(16, 24)  # smooth, so JPEG keeps it closely
    pixels = np.stack([ramp, ramp[::-1], np.full_like(ramp, 0.5)], axis=-1)
    save_image(tmp_path / f"out{suffix}", pixels)
    tolerance = {".png": 0.5 / 255, ".jpg": 0.05, ".tif": 0.5 / 65535}[suffix]
    np.testing.assert_allclose(load_image(tmp_path / f"out{suffix}"), pixels, atol=tolerance)
    assert [p.name for p in tmp_path.iterdir()] == [f"out{suffix}"]


def test_save_keeps_alpha_in_png(tmp_path):
    alpha = np.linspace(0, 1, 7 * 13).reshape(7, 13)
    save_image(tmp_path / "a.png", RNG.random((7, 13, 3)), alpha=alpha)
    _, loaded = load_image(tmp_path / "a.png", with_alpha=True)
    np.testing.assert_allclose(loaded, alpha, atol=0.5 / 255)


def test_failed_save_leaves_nothing_behind(tmp_path):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        save_image(tmp_path / "bad.png", np.zeros((4, 4)))
    assert list(tmp_path.iterdir()) == []


def traced_peak(function, *args, **kwargs) -> int:
    """Peak bytes of Python and NumPy allocations while ``function`` runs (tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        function(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_a_large_8bit_file_costs_its_float_image_and_one_byte_copy(tmp_path):
    height, width = 1000, 1200
    path = tmp_path / "large.png"
    Image.fromarray(rgb8(height, width)).save(path, compress_level=0)
    floats, copy = height * width * 3 * 4, height * width * 3
    assert traced_peak(load_image, path) <= 1.1 * (floats + copy)


@pytest.mark.parametrize(("suffix", "bytes_per_sample"), [(".png", 1), (".tif", 2)])
def test_writing_a_large_image_costs_only_its_integer_copy(tmp_path, suffix, bytes_per_sample):
    height, width = 1000, 1200
    rgb = RNG.random((height, width, 3), dtype=np.float32)
    alpha = RNG.random((height, width), dtype=np.float32)
    peak = traced_peak(save_image, tmp_path / f"out{suffix}", rgb, alpha)
    integers = height * width * 4 * bytes_per_sample  # and Pillow's copy of them
    band = 256 * width * 4 * 8  # float64 rows being converted
    assert peak <= 2 * integers + 2 * band


def test_band_wise_writing_equals_rounding_the_whole_image(tmp_path):
    rgb = RNG.random((600, 40, 3)).astype(np.float32) * 1.2 - 0.1  # out of range too
    save_image(tmp_path / "out.png", rgb)
    expected = np.round(np.clip(rgb.astype(np.float64), 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), expected)


def test_an_image_beyond_pillows_pixel_limit_says_so(tmp_path, monkeypatch):
    path = tmp_path / "panorama.png"
    Image.fromarray(rgb8(40, 60)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 2400 > 2 x 500: Pillow refuses
    with pytest.raises(ImageError, match="more pixels than Pillow opens by default") as info:
        load_image(path)
    assert "panorama.png" in str(info.value) and "damaged" not in str(info.value)
