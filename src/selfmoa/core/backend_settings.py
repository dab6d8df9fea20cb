"""The ``backend`` section of the config: what every backend's settings share, and the
registry in which each backend module declares its own settings class.

A generation backend is one module in ``selfmoa/backends/``: its settings class (the
fields under ``backend:`` that it reads, ``kind`` a one-value ``Literal``) and its
generator, declared together with ``backends.registry.generator_factory(kind,
settings=...)``. ``Config.backend`` is validated as the declared class of its
``backend.kind`` (a discriminated union over the declared classes), so each kind takes
only its own keys and a key of another backend is a one-line config error naming the
backend it belongs to.

Core imports no backend: ``selfmoa/__init__.py``, the package's composition root,
imports the backend modules once, so every settings class is declared before any
config is read.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from selfmoa.core.section import Section

DEFAULT_KIND = "hf"


class BackendSettingsBase(Section):
    """What every backend has: its kind and how many prompts go out as one chunk."""

    # Fields that say where or how fast work runs, not what it computes: changing them
    # keeps finished stages (selfmoa.core.configview.execution_keys).
    execution_fields: ClassVar[frozenset[str]] = frozenset()

    kind: str
    batch_size: int = Field(
        32, ge=1, le=4096, description="Prompts generated together (one chunk)."
    )

    def fingerprint_dump(self) -> dict[str, Any]:
        """This backend's values over every other backend's defaults: the section as the
        one flat class before the split dumped it, so stage fingerprints stay the same."""
        values: dict[str, Any] = {}
        for settings_class in reversed(list(declared_backends().values())):
            values.update(settings_class().model_dump(mode="json"))
        values.update(self.model_dump(mode="json"))
        return values


_DECLARED: dict[str, type[BackendSettingsBase]] = {}


def kind_of(settings_class: type[BackendSettingsBase]) -> str:
    """The ``backend.kind`` value that selects ``settings_class`` (its ``kind`` default)."""
    return str(settings_class.model_fields["kind"].default)


def declare_backend_settings(settings_class: type[BackendSettingsBase]) -> None:
    """Register ``settings_class`` as the settings of the backend kind it names."""
    kind = kind_of(settings_class)
    if _DECLARED.get(kind, settings_class) is not settings_class:
        raise ValueError(f"backend kind '{kind}' already has a settings class")
    _DECLARED[kind] = settings_class


def declared_backends() -> dict[str, type[BackendSettingsBase]]:
    """Every declared kind -> its settings class, in the order of the kinds' names."""
    return dict(sorted(_DECLARED.items()))


def default_backend() -> BackendSettingsBase:
    """The settings of the default kind ('hf') at their defaults."""
    return declared_backends()[DEFAULT_KIND]()


def backend_keys(execution: bool) -> frozenset[str]:
    """Dotted ``backend.*`` keys that say where work runs (``execution``) or what it computes."""
    return frozenset(
        f"backend.{name}"
        for settings_class in declared_backends().values()
        for name in settings_class.model_fields
        if (name in settings_class.execution_fields) == execution
    )


def owners_of(name: str) -> list[str]:
    """The kinds whose settings have a field ``name``."""
    return [kind for kind, cls in declared_backends().items() if name in cls.model_fields]


def check_backend_section(data: Any) -> Any:
    """Config data with its ``backend`` mapping ready for its kind's class: the kind
    defaults to 'hf'; an unknown kind, or a key of another backend, is a ``ValueError``
    whose text is the one-line config error. A pre-split run's config.yaml (every flat
    key) keeps only its kind's keys."""
    if not isinstance(data, dict) or not isinstance(data.get("backend"), dict):
        return data
    kinds = declared_backends()
    backend = {"kind": DEFAULT_KIND, **data["backend"]}
    kind = backend["kind"]
    if not isinstance(kind, str) or kind not in kinds:
        shown = repr(kind) if len(repr(kind)) <= 80 else f"{repr(kind)[:80]}..."
        raise ValueError(f"backend.kind: must be one of {', '.join(kinds)} (got {shown})")
    own = kinds[kind].model_fields
    flat_keys = {name for cls in kinds.values() for name in cls.model_fields}
    if set(backend) == flat_keys:
        backend = {name: value for name, value in backend.items() if name in own}
    for name in backend:
        owners = owners_of(str(name))
        if name not in own and owners:
            raise ValueError(
                f"backend.{name} is a setting of backend.kind {' or '.join(owners)}, "
                f"not of backend.kind {kind}"
            )
    return {**data, "backend": backend}


def settings_of_its_kind(value: Any) -> Any:
    """A ``backend`` mapping as its kind's settings class (validated there, so an error
    names the key inside ``backend``); settings already built pass as they are."""
    if isinstance(value, BackendSettingsBase):
        return value
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of backend settings, e.g. {kind: hf}")
    return _DECLARED[value.get("kind", DEFAULT_KIND)].model_validate(value)
