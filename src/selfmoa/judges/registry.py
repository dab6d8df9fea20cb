"""Judge registry: every judge the config can name, found in ``selfmoa.judges.catalog``.

Each catalog module declares its judges in a ``JUDGES`` tuple beside their factories;
``REGISTRY`` collects them by importing the catalog, which holds plain data and no
heavy imports, so judge names are checked cheaply. ``build_judges`` calls each factory,
which imports what it needs; a missing optional dependency becomes one line: "judge 'x'
needs package 'y': pip install selfmoa[extra]". Model-backed judges read their model from
``judge.models[name]`` in the config.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from selfmoa.core.errors import SelfMoaError
from selfmoa.core.plugin_discovery import import_modules
from selfmoa.judges import catalog
from selfmoa.judges.base import Judge, JudgeInput, Verdict
from selfmoa.judges.rowwise import verdicts_by_row
from selfmoa.judges.spec import JudgeContext, JudgeSpec
from selfmoa.judges.text import judged_text

__all__ = [
    "REGISTRY",
    "JudgeContext",
    "JudgeSpec",
    "build_judge",
    "build_judges",
    "check_judge_names",
    "discover_judges",
    "run_judges",
]


def discover_judges(package: ModuleType) -> dict[str, JudgeSpec]:
    """Name -> spec of every judge declared by a module of ``package``, sorted by name.

    A module declares its judges in a module-level ``JUDGES`` tuple of ``JudgeSpec``; a
    module without one declares none. A name declared twice is a programming error.
    """
    found: dict[str, JudgeSpec] = {}
    for module in import_modules(package.__name__):
        for spec in getattr(module, "JUDGES", ()):
            if not isinstance(spec, JudgeSpec):
                raise TypeError(f"{module.__name__}.JUDGES holds {spec!r}, not a JudgeSpec")
            if spec.name in found:
                raise ValueError(f"judge '{spec.name}' is declared twice ({module.__name__})")
            found[spec.name] = spec
    return dict(sorted(found.items()))


REGISTRY: dict[str, JudgeSpec] = discover_judges(catalog)


def check_judge_names(names: list[str]) -> list[str]:
    """Validator for config lists: every name must be registered, none repeated."""
    for name in names:
        if name not in REGISTRY:
            raise ValueError(f"unknown judge '{name}'; choose from: {', '.join(REGISTRY)}")
    if len(set(names)) != len(names):
        raise ValueError("a judge is listed twice")
    return names


def build_judge(name: str, context: JudgeContext) -> Judge:
    spec = REGISTRY.get(name)
    if spec is None:
        raise SelfMoaError(f"unknown judge '{name}'; choose from: {', '.join(REGISTRY)}")
    module_name, function = spec.factory.split(":")
    try:
        factory = getattr(importlib.import_module(module_name), function)
    except ImportError as error:
        if (error.name or "").startswith("selfmoa"):
            raise
        extra = f"pip install selfmoa[{spec.extra}]" if spec.extra else "pip install it"
        raise SelfMoaError(f"judge '{name}' needs package '{error.name}': {extra}") from None
    return factory(context, spec)


def build_judges(names: list[str], context: JudgeContext) -> list[Judge]:
    return [build_judge(name, context) for name in names]


def checked(verdict: Verdict) -> Verdict:
    """The protocol: exactly one of score and error; a score is a finite number in [0, 1]."""
    if (verdict.score is None) == (verdict.error is None):
        return Verdict(error="judge returned neither or both of score and error")
    if verdict.score is not None and not 0.0 <= verdict.score <= 1.0:  # also catches nan
        return Verdict(error=f"judge returned score {verdict.score!r} outside [0, 1]")
    return verdict


def run_judges(judges: list[Judge], items: list[JudgeInput]) -> dict[str, list[Verdict]]:
    """Every judge on every item; a judge that raises gives an error per item, others go on.

    Each item's texts are cut and cleaned per row first (``judges.text.judged_text``), so
    a score never depends on the other items. A judge that raises on the batch is asked
    again one item at a time: only the items it fails on alone get its error.
    """
    items = [
        JudgeInput(judged_text(i.prompt_text), i.prompt_label, judged_text(i.response_text))
        for i in items
    ]
    out: dict[str, list[Verdict]] = {}
    for judge in judges:
        try:
            verdicts = [checked(v) for v in verdicts_by_row(judge.judge, items)]
        except Exception as error:  # a failing judge must not stop the run or invent scores
            verdicts = [Verdict(error=f"{type(error).__name__}: {error}")] * len(items)
        out[judge.name] = verdicts
    return out
