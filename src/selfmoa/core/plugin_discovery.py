"""Plugin discovery: import every module of a plugin package so each declares itself.

Judges, losses, evaluation sets, attack strategies and backends are declared in the module
that defines them (a decorator or a module-level tuple); their registries call
``import_modules`` once, so adding a plugin is adding its file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Collection
from types import ModuleType


def import_modules(package: str, skip: Collection[str] = ()) -> list[ModuleType]:
    """Every module directly in ``package`` (by dotted name), imported in name order, except
    the module names in ``skip`` (the registry's own infrastructure)."""
    parent = importlib.import_module(package)
    names = sorted(info.name for info in pkgutil.iter_modules(parent.__path__))
    return [importlib.import_module(f"{package}.{name}") for name in names if name not in skip]
