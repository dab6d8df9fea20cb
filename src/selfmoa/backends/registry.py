"""Which generator each ``backend.kind`` builds, and with which settings.

Every backend module declares itself where it is defined, with
``@generator_factory("kind", settings=ItsSettings)``: the factory that builds its
generator and its settings class (the fields under ``backend:``, declared into
``selfmoa.core.backend_settings``, which the config schema reads). ``discover`` imports
every module of this package; ``selfmoa/__init__.py`` calls it once, so every backend is
declared before a config is read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from selfmoa.backends.base import TextGenerator
from selfmoa.core.backend_settings import BackendSettingsBase, declare_backend_settings, kind_of
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.plugin_discovery import import_modules

# (config or a stage's view of it, "policy" or "attacker", a LoRA adapter folder or None)
GeneratorFactory: TypeAlias = Callable[[Any, str, Path | None], TextGenerator]

_FACTORIES: dict[str, GeneratorFactory] = {}


def generator_factory(
    kind: str, *, settings: type[BackendSettingsBase]
) -> Callable[[GeneratorFactory], GeneratorFactory]:
    """Declare the decorated function as the generator factory of ``backend.kind``, and
    ``settings`` (whose ``kind`` is that one value) as the settings it reads."""
    if kind_of(settings) != kind:
        raise ValueError(f"the settings of backend kind '{kind}' say kind '{kind_of(settings)}'")

    def declare(factory: GeneratorFactory) -> GeneratorFactory:
        if _FACTORIES.get(kind, factory) is not factory:
            raise ValueError(f"backend kind '{kind}' already has a generator factory")
        declare_backend_settings(settings)
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
