"""The stage table: every stage of a run, collected in execution order.

Each stage's entry (a ``StageSpec``: where it lives, the config keys, upstream
stages and data/model assets it reads, the outputs it writes, its body) is
exported by its module in ``pipeline/stages/``; ``stages/order.py`` lists those
before the report. This one table drives execution order, fingerprints,
``selfmoa status`` and the report; adding a stage is adding its module and its
line in ``stages/order.py``.
"""

from __future__ import annotations

from typing import Any

from selfmoa.pipeline.stages import agreement, report
from selfmoa.pipeline.stages.order import BASELINE_TABLE, ROUND_STAGES, ROUND_TABLE
from selfmoa.pipeline.stages.spec import Scope, StageKey, StageSpec, plan_of

__all__ = ["ROUND_STAGES", "STAGE_TABLE", "Scope", "StageKey", "StageSpec", "plan", "spec_of"]


STAGE_TABLE: tuple[StageSpec, ...] = (*BASELINE_TABLE, *ROUND_TABLE, agreement.STAGE, report.STAGE)
STAGE_BY_KEY = {(spec.name, spec.scope): spec for spec in STAGE_TABLE}


def spec_of(key: StageKey) -> StageSpec:
    return STAGE_BY_KEY[key.name, key.scope]


def plan(config: Any) -> list[StageKey]:
    """Every stage of a run in execution order: baseline, rounds, then run-level stages."""
    return plan_of(STAGE_TABLE, config)
