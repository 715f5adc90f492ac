"""Tiled inference gives the whole-image result for local operators, with bounded tile sizes."""

import numpy as np
import pytest
import torch

from svrnn_lite.inference import deblur, tile_windows


class BoxBlur(torch.nn.Module):
    """A 5x5 mean filter: each output pixel depends on pixels at most 2 away."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 5, padding=2, groups=3, bias=False)
        torch.nn.init.constant_(self.conv.weight, 1 / 25)

    def forward(self, x):
        return self.conv(x)


class RecordSizes(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.sizes = []

    def forward(self, x):
        self.sizes.append(tuple(x.shape[-2:]))
        return x


@pytest.mark.parametrize("length", [1, 7, 64, 65, 100, 257, 1000])
@pytest.mark.parametrize(("tile", "overlap"), [(64, 16), (40, 12), (128, 0)])
def test_windows_cover_every_position_and_stay_inside(length, tile, overlap):
    tiles = tile_windows(length, tile, overlap)
    total = np.zeros(length)
    for start, stop, weights in tiles:
        assert 0 <= start < stop <= length
        assert stop - start == len(weights) == min(tile, length)
        total[start:stop] += weights
    assert (total > 0).all()


def test_neighbouring_tiles_overlap_by_at_least_the_requested_amount():
    tiles = tile_windows(1000, 128, 32)
    for (_, stop, _), (start, _, _) in zip(tiles, tiles[1:], strict=False):
        assert stop - start >= 32


def test_tiled_result_equals_whole_image_for_a_local_operator():
    rng = np.random.default_rng(0)
    image = rng.random((150, 230, 3)).astype(np.float32)
    model = BoxBlur().eval()
    whole = deblur(model, image, tile=None)
    tiled = deblur(model, image, tile=64, overlap=16)  # zero-weight margin 4 > radius 2
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_tiles_never_exceed_the_tile_size():
    model = RecordSizes()
    deblur(model, np.zeros((300, 500, 3), np.float32), tile=128, overlap=32)
    assert max(max(s) for s in model.sizes) <= 128
    assert len(model.sizes) > 1


def test_uint8_input_is_scaled_to_unit_range():
    image = np.full((20, 30, 3), 255, np.uint8)
    np.testing.assert_allclose(deblur(lambda x: x, image), 1.0)


@pytest.mark.parametrize("shape", [(10, 10), (10, 10, 4), (3, 10, 10)])
def test_non_rgb_input_is_a_clear_error(shape):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        deblur(lambda x: x, np.zeros(shape, np.float32))


def test_bad_tiling_arguments_are_a_clear_error():
    with pytest.raises(ValueError, match="overlap"):
        tile_windows(100, tile=32, overlap=16)


def test_whole_image_mode_works_for_images_smaller_than_the_overlap():
    image = np.random.default_rng(1).random((9, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(deblur(lambda x: x, image, tile=None, overlap=64), image)


def test_uint8_tiles_equal_the_float_image_tiled():
    image = np.random.default_rng(1).integers(0, 256, (150, 230, 3), dtype=np.uint8)
    model = BoxBlur().eval()
    from_uint8 = deblur(model, image, tile=64, overlap=16)
    from_float = deblur(model, image.astype(np.float32) / 255, tile=64, overlap=16)
    np.testing.assert_allclose(from_uint8, from_float, atol=1e-6)


def test_memory_beyond_the_output_stays_at_a_few_tiles():
    """NumPy reports its buffers to tracemalloc: a uint8 photo must not be copied to float whole,
    and no full-size weight image may be kept, so the peak is the float32 output plus tiles."""
    import tracemalloc

    height, width, tile = 600, 800, 64
    image = np.random.default_rng(2).integers(0, 256, (height, width, 3), dtype=np.uint8)
    tracemalloc.start()
    deblur(lambda x: x, image, tile=tile, overlap=16)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    output, one_tile = height * width * 3 * 4, tile * tile * 3 * 8
    assert peak <= output + 4 * one_tile, f"peak {peak} B, output {output} B"
