"""The stage entries before the report, in execution order, and the names of a round's stages.

Each entry comes from its stage's module in ``pipeline/stages/``. ``stage_table.py``
adds the run-level stages (the agreement and the report, whose body reads
``ROUND_STAGES``) and plans a run from the whole table.
"""

from __future__ import annotations

from selfmoa.pipeline.stages import (
    archive,
    capability,
    evaluate,
    judge,
    pairs,
    redteam,
    reference,
    reset,
    retest,
    sample,
    train,
)
from selfmoa.pipeline.stages.spec import StageSpec

# Run once, before the rounds, in this order.
BASELINE_TABLE: tuple[StageSpec, ...] = (
    reset.STAGE,
    evaluate.BASELINE,
    reference.STAGE,
    capability.BASELINE,
)
# Run once per round, in this order.
ROUND_TABLE: tuple[StageSpec, ...] = (
    retest.STAGE,
    redteam.STAGE,
    sample.STAGE,
    judge.STAGE,
    archive.STAGE,
    pairs.STAGE,
    train.STAGE,
    evaluate.ROUND,
    capability.ROUND,
)
# The stages every round has (a stage with ``applies``, such as retest, only some rounds).
ROUND_STAGES: tuple[str, ...] = tuple(spec.name for spec in ROUND_TABLE if spec.applies is None)
