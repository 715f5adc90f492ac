"""The gate probe of chapter Evaluation: straight motion blur and the gates read from a model."""

import numpy as np
import pytest
import torch

from svrnn_lite.gates import gate_response, linear_motion_blur, linear_trajectory, record_gates
from svrnn_lite.models import build_model


def test_linear_trajectory_covers_the_length_along_the_angle():
    t = linear_trajectory(9, length=12.0, angle=90.0)
    steps = np.hypot(np.diff(t.dy), np.diff(t.dx))
    assert steps.sum() == pytest.approx(12.0)
    assert np.allclose(t.dx, 0.0, atol=1e-9) and t.dy[-1] > 0  # 90 degrees: down the rows
    assert t.dy[4] == t.dx[4] == 0.0  # the middle frame is the sharp one


def test_motion_blur_smears_only_along_its_direction():
    """Vertical stripes are constant down the rows: a vertical motion leaves them sharp."""
    stripes = np.zeros((96, 96, 3), np.float32)
    stripes[:, ::6] = 1.0
    along, sharp = linear_motion_blur(stripes, length=10, angle=90, size=48)
    across, _ = linear_motion_blur(stripes, length=10, angle=0, size=48)
    assert np.abs(along - sharp).max() < 1e-4
    assert np.abs(across - sharp).mean() > 0.05


def test_motion_blur_refuses_an_image_too_small_for_the_motion():
    with pytest.raises(ValueError, match="needs an image of at least"):
        linear_motion_blur(np.zeros((40, 40, 3), np.float32), length=20, angle=0, size=32)


def _model_with_constant_gates(per_direction):
    """A lite model whose conv14 outputs the same pre-tanh value per direction everywhere."""
    model = build_model("lite")
    c = model.conv15.out_channels
    with torch.no_grad():
        model.conv14.weight.zero_()
        bias = torch.tensor(per_direction, dtype=torch.float32).repeat_interleave(c).repeat(4)
        model.conv14.bias.copy_(torch.atanh(bias))
    return model


def test_record_gates_reads_each_block_and_direction():
    model = _model_with_constant_gates([0.1, 0.2, 0.3, 0.4])
    gates = record_gates(model, np.zeros((32, 40, 3), np.float32))
    assert gates.shape[:2] == (4, 4)
    for d, value in enumerate([0.1, 0.2, 0.3, 0.4]):
        assert np.allclose(gates[:, d], value, atol=1e-6)
    assert not any(m._forward_hooks for m in model.modules())  # the probe leaves no hooks


def test_gate_response_averages_the_scans_of_each_axis():
    model = _model_with_constant_gates([0.3, 0.5, -0.2, -0.4])
    image = np.random.default_rng(1).random((80, 80, 3)).astype(np.float32)
    rows = gate_response(model, image, lengths=(0, 6), angles=(0, 90), size=32)
    assert [(r["length"], r["angle"]) for r in rows[::4]] == [(0, 0), (6, 0), (6, 90)]
    assert all(r["horizontal"] == pytest.approx(0.4, abs=1e-5) for r in rows)
    assert all(r["vertical"] == pytest.approx(-0.3, abs=1e-5) for r in rows)
    assert all(r["vertical_abs"] == pytest.approx(0.3, abs=1e-5) for r in rows)


def test_record_gates_needs_a_model_with_rnn_blocks():
    with pytest.raises(ValueError, match="no RNN blocks"):
        record_gates(build_model("lite", arch="plain"), np.zeros((16, 16, 3), np.float32))
