"""Training state is never a pickle: a crafted file in a run directory runs no code."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from selfmoa.core.errors import SelfMoaError
from selfmoa.core.tensor_state import load_state, save_state
from selfmoa.training.loop import TrainPaths, train_preference_lora
from test_tiny_model import CONFIG, pairs


class _RunsCode:
    """Unpickling this calls Path.touch(marker): code execution if anything unpickles it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_state_round_trip_keeps_structure_and_key_types(tmp_path):
    state = {
        "step": 3,
        "optimizer": {"state": {0: {"exp_avg": torch.ones(2, 3)}}, "param_groups": []},
        "betas": (0.9, 0.999),
        "names": ["a", None, True, 1.5],
        "rng": torch.arange(5, dtype=torch.uint8),
        "scalar": torch.tensor(7.0),
    }
    save_state(state, tmp_path / "s.safetensors")
    loaded = load_state(tmp_path / "s.safetensors")
    assert loaded["step"] == 3 and loaded["betas"] == (0.9, 0.999)
    assert list(loaded["optimizer"]["state"]) == [0]  # an int key stays an int
    assert torch.equal(loaded["optimizer"]["state"][0]["exp_avg"], torch.ones(2, 3))
    assert loaded["names"] == ["a", None, True, 1.5]
    assert torch.equal(loaded["rng"], state["rng"]) and loaded["scalar"].item() == 7.0


@pytest.mark.parametrize(
    "content",
    [b"", b"not a safetensors file", b"\xff" * 64, b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "],
)
def test_damaged_state_file_is_one_clear_error(tmp_path, content):
    path = tmp_path / "checkpoint.safetensors"
    path.write_bytes(content)
    with pytest.raises(SelfMoaError, match="delete it"):
        load_state(path)


def test_pickle_is_never_loaded_from_a_state_file(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.safetensors"
    path.write_bytes(pickle.dumps({"step": _RunsCode(marker)}))
    with pytest.raises(SelfMoaError):
        load_state(path)
    assert not marker.exists()


def test_crafted_checkpoints_in_a_train_folder_run_no_code(tiny_model, tmp_path):
    """A pickle planted under the old and the new checkpoint names: training ignores the
    old name, refuses the new one with one line, and neither runs the pickle's code."""
    marker = tmp_path / "pwned"
    paths = TrainPaths(tmp_path / "train")
    paths.root.mkdir()
    payload = pickle.dumps({"step": _RunsCode(marker)})
    for name in ("checkpoint.pt", "reference_logps.pt"):
        (paths.root / name).write_bytes(payload)
    train_preference_lora(str(tiny_model), pairs(), CONFIG, paths, device="cpu")
    assert not marker.exists() and (paths.adapter / "adapter_model.safetensors").is_file()

    planted = TrainPaths(tmp_path / "planted")
    planted.root.mkdir()
    planted.checkpoint.write_bytes(payload)
    with pytest.raises(SelfMoaError, match="not a state file"):
        train_preference_lora(str(tiny_model), pairs(), CONFIG, planted, device="cpu")
    assert not marker.exists()


def test_a_state_file_with_the_wrong_fields_is_refused(tiny_model, tmp_path):
    paths = TrainPaths(tmp_path / "train")
    paths.root.mkdir()
    save_state({"step": "three"}, paths.checkpoint)
    with pytest.raises(SelfMoaError, match="not a checkpoint this selfmoa wrote"):
        train_preference_lora(str(tiny_model), pairs(), CONFIG, paths, device="cpu")
