"""Fixtures shared by the test modules."""

import pytest

from svrnn_lite.synth import write_dataset


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    """A tiny synthetic dataset in the GoPro layout: 6 training pairs of 48x48, 1 test pair."""
    root = tmp_path_factory.mktemp("tiny")
    write_dataset(
        root, n_train=6, n_test=1, train_size=(48, 48), test_size=(48, 64), progress=False
    )
    return root
