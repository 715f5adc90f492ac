"""Files written by svrnn_lite appear complete or not at all, with ordinary permissions."""

import os
import stat

import numpy as np
import pytest
import torch

from svrnn_lite.atomic import atomic_path
from svrnn_lite.checkpoint import atomic_save
from svrnn_lite.images import save_image


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o640
    os.umask(old)


@pytest.mark.parametrize("writer", ["image", "checkpoint", "text"])
def test_written_files_get_the_umask_permissions_not_private_ones(tmp_path, umask_027, writer):
    path = tmp_path / {"image": "out.png", "checkpoint": "last.pt", "text": "a.json"}[writer]
    if writer == "image":
        save_image(path, np.zeros((2, 2, 3)))
    elif writer == "checkpoint":
        atomic_save({"w": torch.zeros(1)}, path)
    else:
        with atomic_path(path) as tmp:
            tmp.write_text("{}")
    assert stat.S_IMODE(path.stat().st_mode) == umask_027


def test_a_failing_block_leaves_the_old_file_and_nothing_else(tmp_path):
    path = tmp_path / "result.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("stop")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.txt"]


def test_writing_over_a_folder_names_the_destination_not_the_temp_file(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(OSError) as info:
        save_image(tmp_path / "out.png", np.zeros((2, 2, 3)))
    message = str(info.value)
    assert str(tmp_path / "out.png") in message and ".out.png." not in message
    assert "Errno" not in message
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
