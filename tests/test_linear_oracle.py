"""The least-squares filter of benchmarks/linear_oracle.py: the ceiling the closing notes quote."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from svrnn_lite.metrics import psnr

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "linear_oracle.py"
spec = importlib.util.spec_from_file_location("linear_oracle", SCRIPT)
linear_oracle = importlib.util.module_from_spec(spec)
spec.loader.exec_module(linear_oracle)


@pytest.fixture
def sharp():
    rng = np.random.default_rng(0)
    return gaussian_filter(rng.random((64, 80, 3)), (1, 1, 0)).astype(np.float32)


def test_a_sharp_input_comes_back_unchanged(sharp):
    out = linear_oracle.oracle_filter(sharp, sharp, kernel=5, stride=1)
    np.testing.assert_allclose(out, np.clip(sharp, 0, 1), atol=1e-4)


def test_the_oracle_undoes_part_of_a_known_blur(sharp):
    blurred = gaussian_filter(sharp, (1.2, 1.2, 0)).astype(np.float32)
    out = linear_oracle.oracle_filter(blurred, sharp, kernel=9, stride=3)
    assert out.shape == sharp.shape
    assert psnr(out, sharp) > psnr(blurred, sharp) + 3


def test_even_kernels_are_refused(capsys):
    with pytest.raises(SystemExit):
        linear_oracle.main(["--kernel", "4"])
    assert "odd" in capsys.readouterr().err
