"""What a synthetic dataset is: how many pairs of which size, and the checks of those settings.

Explained in chapter *Blur synthesis by frame averaging*.

:func:`svrnn_lite.synth.write_dataset` makes a dataset from these settings and
``svrnn-lite synth`` offers them as options. This module needs no numerical library, so the
command line can list the options and their defaults without loading one.

Default sizes: :data:`N_TRAIN` = 600 training pairs of 256x256 pixels, every second one a
dead-leaves image (training takes random 128x128 crops of them, as GoPro training does of its
1280x720 frames), and 24 test pairs of 640x360 pixels: about 220 MB of PNG files, written in
about two minutes on two CPU cores (the README's measurement).
"""

from __future__ import annotations

__all__ = ["N_TEST", "N_TRAIN", "PHOTO_SHAKE", "TEST_SIZE", "TRAIN_SIZE", "check_settings"]

#: Size (H, W) of the synthetic training pairs.
TRAIN_SIZE = (256, 256)
#: Size (H, W) of the synthetic test pairs (half of GoPro's 1280x720 on each side).
TEST_SIZE = (360, 640)
#: Number of training pairs.
N_TRAIN = 600
#: Number of test pairs.
N_TEST = 24
#: Camera shake drawn per pair from photographs, log-uniform in this range (pixels per sub-frame).
#: Measured with ``benchmarks/realism_check.py --photos``: the input PSNR of such pairs spans
#: that of real GoPro pairs (chapter *Blur synthesis by frame averaging*).
PHOTO_SHAKE = (0.3, 2.0)


def check_settings(n_train, n_test, seed, train_size, test_size) -> None:
    """Refuse settings no dataset can be made with, naming the command-line option at fault.

    Raises
    ------
    ValueError
        If a count or the seed is not an integer >= 0, or a size not two integers >= 1.

    Examples
    --------
    >>> check_settings(1, 1, 0, train_size=(0, 0), test_size=(8, 8))
    Traceback (most recent call last):
    ...
    ValueError: --train-size must be two positive integers (H, W), got (0, 0)
    """
    for option, n in (("--n-train", n_train), ("--n-test", n_test), ("--seed", seed)):
        if int(n) != n or n < 0:
            raise ValueError(f"{option} must be an integer >= 0, got {n}")
    for option, size in (("--train-size", train_size), ("--test-size", test_size)):
        if len(size) != 2 or any(int(side) != side or side < 1 for side in size):
            raise ValueError(f"{option} must be two positive integers (H, W), got {tuple(size)}")
