"""The evaluation-set registry: one declaration per set, where its loader is defined.

A set is a loader registered with ``@register_eval_set(name, label=..., reads=...)`` in
any module of the ``selfmoa.evals.sets`` package; ``discover_eval_sets`` imports every
such module. ``reads`` names each file the loader reads (``DataFiles``): the evaluate
stage's fingerprint hashes exactly those (``selfmoa.pipeline.assets``), so a set whose
files change is evaluated again, and a new set cannot be left out of the fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from selfmoa.core.embedded import package_dir
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.plugin_discovery import import_modules
from selfmoa.evals.sets.prompts import EvalPrompt

Label = Literal["harmful", "benign"]
PACKAGE = "selfmoa.evals.sets"
# Modules of the package that hold the machinery, not sets.
INFRASTRUCTURE = frozenset({"registry", "prompts"})


@dataclass(frozen=True)
class DataFiles:
    """Files under an installed package's folder, found without importing the package:
    ``pattern`` is a path relative to that folder, or a glob (``data/*.csv``)."""

    module: str
    pip_name: str
    pattern: str

    def root(self) -> Path:
        """The package's folder."""
        return package_dir(self.module, self.pip_name)

    def paths(self) -> list[Path]:
        """The matching files, sorted; an error when there is none."""
        root = self.root()
        found = sorted(path for path in root.glob(self.pattern) if path.is_file())
        if not found:
            raise SelfMoaError(f"{root / self.pattern} is missing; reinstall {self.pip_name}")
        return found

    def path(self) -> Path:
        """The one file of a pattern that names a single file."""
        return self.paths()[0]


def team_file(name: str) -> DataFiles:
    """A prompt file the team wrote, shipped in ``selfmoa/data/``."""
    return DataFiles("selfmoa.data", "selfmoa", name)


@dataclass(frozen=True)
class EvalSetRequest:
    """What a loader is given: the run's ``seed`` (fixes the shuffled order), the HarmBench
    ``split``, and ``benign_every`` (every n-th benign-sensitive prompt is held out)."""

    seed: int
    split: str
    benign_every: int


@dataclass(frozen=True)
class EvalSet:
    """A named evaluation set: its loader, its label and the files it reads.

    Calling it, ``EVAL_SETS[name](seed, split, benign_every)``, loads its prompts.
    """

    name: str
    label: Label
    load: Callable[[EvalSetRequest], list[EvalPrompt]]
    reads: tuple[DataFiles, ...]
    summary: str

    def __call__(self, seed: int, split: str, benign_every: int) -> list[EvalPrompt]:
        return self.load(EvalSetRequest(seed, split, benign_every))


_REGISTERED: dict[str, EvalSet] = {}
Loader = Callable[[EvalSetRequest], list[EvalPrompt]]


def register_eval_set(
    name: str, *, label: Label, reads: tuple[DataFiles, ...]
) -> Callable[[Loader], Loader]:
    """Register the decorated loader as evaluation set ``name`` (``evaluate.sets``); its
    docstring's first line is the summary."""

    def register(load: Loader) -> Loader:
        if name in _REGISTERED:
            raise ValueError(f"evaluation set {name!r} is registered twice")
        summary = (load.__doc__ or "").strip().partition("\n")[0]
        _REGISTERED[name] = EvalSet(name, label, load, tuple(reads), summary)
        return load

    return register


@cache
def discover_eval_sets() -> dict[str, EvalSet]:
    """Every registered set by name (sorted), after importing each module of the package."""
    import_modules(PACKAGE, skip=INFRASTRUCTURE)
    return dict(sorted(_REGISTERED.items()))


def eval_set_names() -> tuple[str, ...]:
    """The names ``evaluate.sets`` accepts."""
    return tuple(discover_eval_sets())
