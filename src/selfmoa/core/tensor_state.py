"""Nested training state (dicts, lists, tensors, numbers) in one safetensors file, no pickle.

A checkpoint holds tensors (LoRA weights, AdamW moments, the RNG state) inside
plain structure (step counters, scheduler fields, optimiser groups keyed by
integer). ``torch.save`` would pickle it, and loading a pickle runs whatever
code the file names, so a crafted ``checkpoint.pt`` in a run directory could
run code. Here every tensor is stored as a safetensors tensor and the
structure as JSON in the file's metadata, with each tensor replaced by a
reference; loading builds only dicts, lists, tuples, numbers, strings and
tensors. Dict keys keep their type (int or str) because dicts are stored as
lists of ``[key, value]`` pairs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from selfmoa.core.atomic import atomic_path
from selfmoa.core.errors import SelfMoaError

_METADATA_KEY = "selfmoa_state"
_TENSOR, _DICT, _TUPLE = "$tensor", "$dict", "$tuple"


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        # a copy of its own: safetensors refuses tensors that share storage
        tensors[name] = value.detach().to("cpu").contiguous().clone()
        return {_TENSOR: name}
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise TypeError(f"state keys must be str or int, not {type(key).__name__}")
            pairs.append([key, _encode(item, tensors)])
        return {_DICT: pairs}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(item, tensors) for item in value]}
    if isinstance(value, list):
        return [_encode(item, tensors) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in a state file")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(item, tensors) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {_TENSOR}:
        return tensors[value[_TENSOR]]
    if set(value) == {_TUPLE}:
        return tuple(_decode(item, tensors) for item in value[_TUPLE])
    if set(value) == {_DICT}:
        return {key: _decode(item, tensors) for key, item in value[_DICT]}
    raise ValueError("unknown node in the state structure")


def save_state(state: Any, path: Path) -> None:
    """Write ``state`` to ``path`` atomically (one safetensors file)."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = json.dumps(_encode(state, tensors))
    with atomic_path(path) as staging:
        save_file(tensors, str(staging), metadata={_METADATA_KEY: skeleton})


def load_state(path: Path) -> Any:
    """Read a ``save_state`` file; a damaged or foreign file is one ``SelfMoaError`` line."""
    try:
        tensors = load_file(str(path), device="cpu")
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        return _decode(json.loads(metadata[_METADATA_KEY]), tensors)
    except (
        SafetensorError,
        OSError,
        KeyError,
        TypeError,
        ValueError,
        RecursionError,
    ) as error:
        raise SelfMoaError(
            f"{path} is not a state file this selfmoa wrote ({type(error).__name__}); "
            "delete it to compute it again"
        ) from None
