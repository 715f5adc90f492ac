"""Checkpoints are written atomically and every bad file is refused with a clear message."""

import copy
import errno
import pickle
import re

import pytest
import torch

from svrnn_lite import checkpoint as ckpt
from svrnn_lite.checkpoint import (
    TRAINING_KEYS,
    CheckpointError,
    atomic_save,
    load_checkpoint,
    read_checkpoint,
    restore_training_state,
    safe_load,
    save_checkpoint,
    save_training_state,
)
from svrnn_lite.models import SVRNNBaseline, build_model
from svrnn_lite.pretrained import pretrained_path


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "last.pt"
    atomic_save({"config": {"name": "lite"}, "state_dict": {"w": torch.ones(3)}}, path)
    return path


def test_round_trip(saved):
    loaded = safe_load(saved, required=("config", "state_dict"))
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(3))


def test_failed_save_keeps_the_previous_checkpoint_and_leaves_no_temp_file(saved, monkeypatch):
    before = saved.read_bytes()

    def disk_full(obj, f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt.torch, "save", disk_full)
    with pytest.raises(OSError, match="previous checkpoint, if any, is unchanged"):
        atomic_save({"state_dict": {"w": torch.zeros(3)}}, saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_interrupted_save_keeps_the_previous_checkpoint(saved, monkeypatch):
    before = saved.read_bytes()

    def interrupted(obj, f):
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"w": torch.zeros(3)}, saved)
    assert saved.read_bytes() == before
    assert len(list(saved.parent.iterdir())) == 1


def test_truncated_checkpoint_is_refused(saved):
    saved.write_bytes(saved.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        safe_load(saved)


def test_a_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match=str(path.name)):
        safe_load(path)


def test_a_pickled_object_is_not_executed(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": Payload()}, path, pickle_module=pickle)
    with pytest.raises(CheckpointError):
        safe_load(path)


def test_nan_weights_are_refused(tmp_path):
    path = tmp_path / "nan.pt"
    atomic_save({"state_dict": {"conv1.weight": torch.tensor([1.0, float("nan")])}}, path)
    with pytest.raises(CheckpointError, match="NaN or infinite values in state_dict.conv1.weight"):
        safe_load(path)


def test_missing_keys_are_named(saved):
    with pytest.raises(CheckpointError, match="no optimizer"):
        safe_load(saved, required=("state_dict", "optimizer"))


def test_a_tensor_instead_of_a_dict_is_refused(tmp_path):
    path = tmp_path / "tensor.pt"
    torch.save(torch.ones(2), path)
    with pytest.raises(CheckpointError, match="holds a Tensor"):
        safe_load(path)


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        safe_load(tmp_path / "nope.pt")


def test_refusals_say_why_in_a_few_words_and_never_suggest_unsafe_loading(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    evil, text = tmp_path / "evil.pt", tmp_path / "notes.pt"
    torch.save({"x": Payload()}, evil)
    text.write_text("hello")
    for path, reason in [(evil, "could run code"), (text, "not a file written by torch.save")]:
        with pytest.raises(CheckpointError) as info:
            safe_load(path)
        message = str(info.value)
        assert reason in message and str(path) in message
        assert "weights_only" not in message and len(message) < 250


def test_a_folder_is_not_a_checkpoint(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        safe_load(tmp_path)


def cuda_tagged_copy(path, target):
    """``path`` with every tensor marked as saved on "cuda:0", as a GPU training run writes it.

    torch.save records each storage's device as a string in data.pkl (pickled once, then
    memoised); no GPU is needed to rewrite it.
    """
    import zipfile

    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("data.pkl"):
                assert b"X\x03\x00\x00\x00cpu" in data
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            out.writestr(info.filename, data)
    return target


def test_a_checkpoint_saved_on_cuda_loads_on_a_machine_without_cuda(tmp_path):
    model = build_model("lite")
    save_checkpoint(model, tmp_path / "cpu.pt")
    cuda = cuda_tagged_copy(tmp_path / "cpu.pt", tmp_path / "cuda.pt")
    if not torch.cuda.is_available():  # the file really is a CUDA checkpoint: torch refuses it
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(cuda, weights_only=True)
    loaded = load_checkpoint(cuda)
    assert {p.device.type for p in loaded.parameters()} == {"cpu"}
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model("lite", "baseline")
    path = tmp_path / "baseline_lite.pt"
    save_checkpoint(model, path, extra={"epoch": 7})
    loaded = load_checkpoint(path)
    assert type(loaded) is SVRNNBaseline and loaded.config == model.config
    x = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert torch.load(path, weights_only=True)["extra"] == {"epoch": 7}
    into = load_checkpoint(path, build_model("lite", "baseline"))
    torch.testing.assert_close(into.conv1.weight, model.conv1.weight)


@pytest.mark.parametrize(
    ("saved", "target"),
    [(("lite", "multitask"), ("half", "multitask")), (("lite", "multitask"), ("lite", "plain"))],
)
def test_checkpoint_refuses_another_preset(tmp_path, saved, target):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(build_model(*saved), path)
    with pytest.raises(ValueError) as info:
        load_checkpoint(path, build_model(*target))
    message = str(info.value)
    assert f"'{saved[0]}' (arch {saved[1]}" in message
    assert f"'{target[0]}' (arch {target[1]}" in message


def test_checkpoint_refuses_another_configuration_of_the_same_preset(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(build_model("lite"), path)
    expected = "the model is preset 'lite' (arch multitask, width 0.25, residual)"
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_checkpoint(path, build_model("lite", residual=True))


def test_checkpoint_with_wrong_shapes_names_the_first_misfit(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(build_model("lite"), path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"]["conv1.weight"] = torch.zeros(1, 1, 3, 3)
    torch.save(checkpoint, path)
    with pytest.raises(ValueError, match="does not fit .*: size mismatch for conv1.weight"):
        load_checkpoint(path)


# The on-disk format. Files written by earlier versions must keep loading (the shipped weights,
# and the last.pt a long run resumes from), so these keys, spelled out here rather than taken
# from svrnn_lite, never change.
CONFIG_KEYS = ["name", "arch", "width", "residual", "negative_slope"]
MODEL_FILE_KEYS = ["config", "state_dict", "extra"]
TRAINING_FILE_KEYS = [
    "ema_state_dict", "config", "state_dict", "optimizer", "step", "train_config", "torch_rng",
    "history",
]  # fmt: skip


def test_the_keys_of_every_kind_of_checkpoint_never_change(tmp_path):
    model = build_model("lite")
    save_checkpoint(model, tmp_path / "model.pt", extra={"epoch": 1})
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    assert list(saved) == MODEL_FILE_KEYS and list(saved["config"]) == CONFIG_KEYS
    assert list(saved["state_dict"]) == list(model.state_dict())

    optimizer = torch.optim.Adam(model.parameters())
    average = copy.deepcopy(model)
    save_training_state(
        tmp_path / "last.pt", model, optimizer, step=1, history=[], train_config={}, average=average
    )
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert list(state) == TRAINING_FILE_KEYS and list(state["config"]) == CONFIG_KEYS
    save_training_state(tmp_path / "last.pt", model, optimizer, step=1, history=[], train_config={})
    assert list(torch.load(tmp_path / "last.pt", weights_only=True)) == TRAINING_FILE_KEYS[1:]
    assert list(TRAINING_KEYS) == TRAINING_FILE_KEYS[1:]

    shipped = torch.load(pretrained_path("lite"), weights_only=True)
    assert list(shipped) == MODEL_FILE_KEYS and list(shipped["config"]) == CONFIG_KEYS


def old_training_checkpoint(path, model, optimizer, average):
    """A training checkpoint in the layout train.py wrote before checkpoint.py owned it."""
    torch.save(
        {
            "ema_state_dict": average.state_dict(),
            "config": {
                "name": "lite",
                "arch": "multitask",
                "width": 0.25,
                "residual": True,
                "negative_slope": 0.1,
            },  # fmt: skip
            "state_dict": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": 5,
            "train_config": {"preset": "lite", "residual": True},
            "torch_rng": torch.get_rng_state(),
            "history": [{"step": 5, "loss": 0.1}],
        },
        path,
    )


def test_a_training_checkpoint_in_the_layout_of_earlier_versions_resumes(tmp_path):
    torch.manual_seed(0)
    model = build_model("lite", residual=True)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.rand(1, 3, 16, 16)).mean().backward()
    optimizer.step()  # an optimiser with state
    average = build_model("lite", residual=True)
    old_training_checkpoint(tmp_path / "last.pt", model, optimizer, average)
    rng = torch.get_rng_state()
    torch.rand(10)  # moves the random state on; the restore puts it back

    fresh = build_model("lite", residual=True)
    fresh_optimizer = torch.optim.Adam(fresh.parameters())
    fresh_average = build_model("lite", residual=True)
    checkpoint = read_checkpoint(tmp_path / "last.pt", TRAINING_KEYS)
    step, history = restore_training_state(checkpoint, fresh, fresh_optimizer, fresh_average)
    assert (step, history) == (5, [{"step": 5, "loss": 0.1}])
    assert torch.equal(torch.get_rng_state(), rng)
    for a, b in [(model, fresh), (average, fresh_average)]:
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y)
    assert str(fresh_optimizer.state_dict()) == str(optimizer.state_dict())
    # loading it for inference gives the average, what validation scored
    loaded = load_checkpoint(tmp_path / "last.pt")
    assert torch.equal(loaded.conv1.weight, average.conv1.weight)
    with pytest.raises(ValueError, match="cannot resume .*: it holds another model"):
        restore_training_state(checkpoint, build_model("lite"), fresh_optimizer)


def test_an_unknown_model_configuration_is_refused_by_name(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save({"config": {"name": "lite", "depth": 3}, "state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="unknown model configuration: .*depth"):
        load_checkpoint(path)
    atomic_save({"config": {"arch": "multitask", "width": -1}, "state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="unknown model configuration: width must be"):
        read_checkpoint(path)
