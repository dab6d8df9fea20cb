"""A read-only view of the config that lets a stage read only the keys it declared.

Each stage in the stage table lists the config keys it reads; its fingerprint
hashes exactly those. The stage body receives this view instead of the config,
so reading an undeclared key fails at once (in tests, which run every stage)
instead of silently leaving that key out of the fingerprint.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from selfmoa.core.backend_settings import backend_keys

# Keys that choose *where* or *on what* work runs, not *what* it computes: a run
# moved from CPU to GPU keeps its finished stages (the device each stage ran on
# is recorded in its manifest and shown by `selfmoa status`). The same holds for
# the address of a generation server, how many requests it gets at once, their
# timeouts and retries, the variable that holds its key, vLLM's GPU layout, and how
# training spreads over a launcher's processes (every parallel mode trains the same
# adapter: tests/test_distributed_training.py).
EXECUTION_KEYS = frozenset(
    {
        "models.device",
        "output_dir",
        "name",
        "judge.server_url",
        "parallel.mode",
        "parallel.reshard_after_forward",
        "parallel.zero_stage",
    }
)


def execution_keys() -> frozenset[str]:
    """``EXECUTION_KEYS`` and each declared backend settings class's execution_fields."""
    return EXECUTION_KEYS | backend_keys(execution=True)


class UndeclaredConfigRead(AssertionError):
    """A stage read a config key missing from its entry in the stage table."""


def covers(declared: frozenset[str], dotted: str) -> bool:
    """True when ``dotted`` is a declared key or lies inside a declared section."""
    return any(dotted == key or dotted.startswith(key + ".") for key in declared)


class ConfigView:
    def __init__(self, node: BaseModel, declared: frozenset[str], owner: str, prefix: str = ""):
        self._node = node
        self._declared = declared | execution_keys()
        self._owner = owner
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._node, name)
        dotted = self._prefix + name
        if covers(self._declared, dotted):
            return value
        if isinstance(value, BaseModel):
            return ConfigView(value, self._declared, self._owner, dotted + ".")
        if name in type(self._node).model_fields:
            raise UndeclaredConfigRead(
                f"stage '{self._owner}' read config key '{dotted}' that its entry in the "
                "stage table does not declare"
            )
        return value  # properties and methods of the section
