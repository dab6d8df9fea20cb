"""Which served model answers a request: the base model's served name, or a round's adapter.

A LoRA adapter trained by round r lives in ``runs/<name>/round_NN/train/adapter``;
a server knows it by a name given when it was started (vLLM ``--lora-modules
NAME=PATH``) or, for llama.cpp, by its position among the ``--lora`` files. The config
maps round numbers to those names (``backend.lora_names``); ``lora-id:N`` selects
llama.cpp's Nth adapter through the request's ``lora`` field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfmoa.core.errors import SelfMoaError

LLAMACPP_LORA = re.compile(r"^lora-id:(\d+)$")
ROUND_FOLDER = re.compile(r"^round_(\d+)$")


@dataclass(frozen=True)
class ServedTarget:
    """The ``model`` field of a request and any extra payload fields it needs."""

    model: str
    extra: dict[str, Any] = field(default_factory=dict)


def adapter_round(adapter: Path) -> int:
    """The round that trained ``adapter`` (from its ``round_NN`` folder)."""
    for part in reversed(adapter.parts):
        match = ROUND_FOLDER.match(part)
        if match:
            return int(match.group(1))
    raise SelfMoaError(f"cannot tell which round trained the adapter {adapter}")


def served_adapter_name(lora_names: dict[str, str], adapter: Path | None) -> str | None:
    """The served name configured for ``adapter``'s round, or None when none is."""
    if adapter is None:
        return None
    return lora_names.get(str(adapter_round(adapter)))


def served_target(
    spec: str, served_models: dict[str, str], adapter_name: str | None
) -> ServedTarget:
    """What to ask the server for: ``spec``'s served name, or the adapter's."""
    base = served_models.get(spec, spec)
    if adapter_name is None:
        return ServedTarget(base)
    match = LLAMACPP_LORA.match(adapter_name)
    if match:
        return ServedTarget(base, {"lora": [{"id": int(match.group(1)), "scale": 1.0}]})
    return ServedTarget(adapter_name)
