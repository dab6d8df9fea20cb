"""Which generator each ``backend.kind`` builds.

Every backend module declares its factory where it is defined, with
``@generator_factory("kind")``; ``make_generator`` finds it by kind, importing the
modules of this package once the first time a kind is asked for. A backend's settings
(the fields under ``backend:``) are its class in ``selfmoa.core.backend_settings``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from selfmoa.backends.base import TextGenerator
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.plugin_discovery import import_modules

# (config or a stage's view of it, "policy" or "attacker", a LoRA adapter folder or None)
GeneratorFactory: TypeAlias = Callable[[Any, str, Path | None], TextGenerator]

_FACTORIES: dict[str, GeneratorFactory] = {}


def generator_factory(kind: str) -> Callable[[GeneratorFactory], GeneratorFactory]:
    """Declare the decorated function as the generator factory of ``backend.kind``."""

    def declare(factory: GeneratorFactory) -> GeneratorFactory:
        if _FACTORIES.get(kind, factory) is not factory:
            raise ValueError(f"backend kind '{kind}' already has a generator factory")
        _FACTORIES[kind] = factory
        return factory

    return declare


def discover() -> None:
    """Import every module of ``selfmoa.backends`` so that each declares its factory."""
    import_modules("selfmoa.backends")


def factory_for(kind: str) -> GeneratorFactory:
    """The generator factory of ``kind``; a kind no module declares is a one-line error."""
    if kind not in _FACTORIES:
        discover()
    if kind not in _FACTORIES:
        raise SelfMoaError(
            f"config error: backend.kind={kind} has no generator (no module of "
            "selfmoa/backends declares one)"
        )
    return _FACTORIES[kind]


def generator_factories() -> dict[str, GeneratorFactory]:
    """Every declared factory by kind (after importing every backend module)."""
    discover()
    return dict(_FACTORIES)
