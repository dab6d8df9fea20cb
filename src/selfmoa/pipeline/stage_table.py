"""The stage table: every stage of a run, collected in execution order.

Each stage's entry (a ``StageSpec``: where it lives, the config keys, upstream
stages and data/model assets it reads, the outputs it writes, its body) is
exported by its module in ``pipeline/stages/``; ``stage_order.py`` lists those
before the report. This one table drives execution order, fingerprints,
``selfmoa status`` and the report; adding a stage is adding its module and its
line in ``stage_order.py``.
"""

from __future__ import annotations

from typing import Any

from selfmoa.pipeline.reporting import run_report
from selfmoa.pipeline.stage_order import BASELINE_TABLE, ROUND_STAGES, ROUND_TABLE
from selfmoa.pipeline.stages import agreement
from selfmoa.pipeline.stages.spec import Scope, StageKey, StageSpec

__all__ = ["ROUND_STAGES", "STAGE_TABLE", "Scope", "StageKey", "StageSpec", "plan", "spec_of"]


def _report_upstream(config: Any, _: int | None) -> list[StageKey]:
    return [key for key in plan(config) if key.name != "report"]


# The report's body is ``pipeline/reporting.run_report``; its entry is here because its
# upstream stages are the whole plan.
REPORT = StageSpec(
    "report",
    "run",
    frozenset(
        {
            "evaluate.examples_in_report",
            "rounds",
            "name",
            "judge.evaluation_judges",
            "reset.enabled",
        }
    ),
    _report_upstream,
    (),
    ("report.md", "report.json", "report.html"),
    run_report,
)
STAGE_TABLE: tuple[StageSpec, ...] = (*BASELINE_TABLE, *ROUND_TABLE, agreement.STAGE, REPORT)
STAGE_BY_KEY = {(spec.name, spec.scope): spec for spec in STAGE_TABLE}


def spec_of(key: StageKey) -> StageSpec:
    return STAGE_BY_KEY[key.name, key.scope]


def plan(config: Any) -> list[StageKey]:
    """Every stage of a run in execution order: baseline, rounds, then run-level stages."""
    by_scope: dict[Scope, list[StageSpec]] = {"baseline": [], "round": [], "run": []}
    for spec in STAGE_TABLE:
        by_scope[spec.scope].append(spec)
    keys = [
        spec.key(None)
        for spec in by_scope["baseline"]
        if spec.applies is None or spec.applies(config, -1)
    ]
    keys += [
        spec.key(r)
        for r in range(config.rounds)
        for spec in by_scope["round"]
        if spec.applies is None or spec.applies(config, r)
    ]
    return keys + [spec.key(None) for spec in by_scope["run"]]
