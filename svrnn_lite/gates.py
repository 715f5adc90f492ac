"""What the trained gates learned: the RNN weights of conv14 against a blur of known direction.

The paper's idea is that conv14 predicts, at every pixel, how far each of the four scans should
carry information: a large gate ``g`` along the direction of the motion, a small one across it.
To test that, blur an image with straight camera motion of known length ``L`` and angle, run the
network, and compare the gates of the horizontal scans (left->right, right->left) with those of
the vertical ones (top->bottom, bottom->top). If the gates followed the blur, the horizontal
gates would grow with ``L`` for a horizontal motion and the vertical ones for a vertical motion.

Explained in chapter *Evaluation*.
"""

from __future__ import annotations

import numpy as np
import torch

from svrnn_lite.blur import average_frames
from svrnn_lite.motion import Trajectory
from svrnn_lite.render import render_frames
from svrnn_lite.spatial_rnn import DIRECTIONS

__all__ = ["linear_trajectory", "linear_motion_blur", "record_gates", "gate_response"]


def linear_trajectory(n_frames: int, length: float, angle: float) -> Trajectory:
    """Straight, uniform camera motion: ``length`` pixels in all at ``angle`` degrees.

    The angle is measured from the image's x axis towards its y axis (rows grow downwards, so
    90 degrees is a vertical motion); the middle sub-frame has no motion, as in
    :func:`svrnn_lite.motion.shake_trajectory`.

    Examples
    --------
    >>> t = linear_trajectory(5, length=8.0, angle=0.0)
    >>> t.dx.tolist(), t.dy.tolist()
    ([-4.0, -2.0, 0.0, 2.0, 4.0], [0.0, 0.0, 0.0, 0.0, 0.0])
    """
    if int(n_frames) < 2:
        raise ValueError(f"n_frames must be at least 2 for a motion, got {n_frames}")
    if not np.isfinite(length) or length < 0:
        raise ValueError(f"length must be a finite number of pixels >= 0, got {length}")
    n = int(n_frames)
    tau = np.arange(n, dtype=float) - n // 2
    step = length / (n - 1)
    theta = np.deg2rad(angle)
    return Trajectory(step * np.sin(theta) * tau, step * np.cos(theta) * tau, np.zeros(n))


def linear_motion_blur(
    image: np.ndarray, length: float, angle: float, size: int = 256, n_frames: int = 11
) -> tuple[np.ndarray, np.ndarray]:
    """A ``size``-pixel square from the centre of ``image``, sharp and blurred by straight motion.

    The sub-frames are rendered and averaged like the training data
    (:func:`~svrnn_lite.render.render_frames`, :func:`~svrnn_lite.blur.average_frames` with
    gamma 2.2), without noise.

    Returns
    -------
    blurred, sharp : ndarray, shape (size, size, 3)
        float32 in [0, 1].

    Examples
    --------
    >>> image = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    >>> blurred, sharp = linear_motion_blur(image, length=8, angle=90, size=32)
    >>> blurred.shape, bool(np.abs(blurred - sharp).mean() > 0.05)
    ((32, 32, 3), True)
    """
    h, w = image.shape[:2]
    reach = int(np.ceil(length / 2)) + 1
    if size + 2 * reach > min(h, w):
        raise ValueError(
            f"a {size}-pixel crop blurred over {length} pixels needs an image of at least "
            f"{size + 2 * reach} pixels on each side, got {h} x {w}"
        )
    origin = ((h - size) // 2, (w - size) // 2)
    motion = linear_trajectory(n_frames, length, angle)
    frames, _ = render_frames(image, origin, (size, size), motion)
    return average_frames(frames), frames[n_frames // 2]


@torch.no_grad()
def record_gates(model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    """The gates every RNN block of ``model`` applies to ``image``.

    Returns
    -------
    ndarray, shape (blocks, 4, C, H', W')
        ``gates[k, d]``: block ``k + 1``, direction ``d`` of
        :data:`svrnn_lite.spatial_rnn.DIRECTIONS`, at the resolution of the RNN features.

    Examples
    --------
    >>> from svrnn_lite.models import build_model
    >>> gates = record_gates(build_model("lite"), np.zeros((32, 48, 3), np.float32))
    >>> gates.shape[:2], gates.shape[-2:]
    ((4, 4), (16, 24))
    """
    blocks = [m for name, m in model.named_children() if name.startswith("rnn")]
    if not blocks:
        raise ValueError(f"{type(model).__name__} has no RNN blocks (rnn1 ...) to read gates from")
    seen: list[torch.Tensor] = []
    hooks = [b.register_forward_hook(lambda m, args, out: seen.append(args[1][0])) for b in blocks]
    try:
        model.eval()
        model(torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float())
    finally:
        for hook in hooks:
            hook.remove()
    return np.stack([g.reshape(len(DIRECTIONS), -1, *g.shape[-2:]).numpy() for g in seen])


def gate_response(
    model: torch.nn.Module,
    image: np.ndarray,
    lengths=(0, 8, 16, 32),
    angles=(0, 45, 90, 135),
    size: int = 256,
) -> list[dict]:
    """Mean gate and mean |gate| of the horizontal and vertical scans, per blur and per block.

    Returns
    -------
    list of dict
        One row per (length, angle, block) with keys ``length``, ``angle``, ``block``,
        ``horizontal``, ``vertical`` (mean gate of the two scans of that axis), ``horizontal_abs``
        and ``vertical_abs`` (mean |gate|). A length of 0 (the sharp crop) is measured once,
        with angle 0.

    Examples
    --------
    >>> from svrnn_lite.models import build_model
    >>> image = np.random.default_rng(0).random((80, 80, 3)).astype(np.float32)
    >>> rows = gate_response(build_model("lite"), image, lengths=(4,), angles=(0,), size=32)
    >>> len(rows), sorted(rows[0])[:3]
    (4, ['angle', 'block', 'horizontal'])
    """
    rows = []
    for length in lengths:
        for angle in angles if length else angles[:1]:
            blurred, _ = linear_motion_blur(image, length, angle, size)
            for k, block in enumerate(record_gates(model, blurred), start=1):
                across_w, across_h = block[:2], block[2:]  # directions 0, 1 scan W; 2, 3 scan H
                rows.append(
                    {
                        "length": length,
                        "angle": angle,
                        "block": k,
                        "horizontal": float(across_w.mean()),
                        "vertical": float(across_h.mean()),
                        "horizontal_abs": float(np.abs(across_w).mean()),
                        "vertical_abs": float(np.abs(across_h).mean()),
                    }
                )
    return rows
