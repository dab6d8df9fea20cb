"""The reference stage: the untouched policy evaluated when a safety reset changed the start.

With ``reset.enabled`` the loop starts from the reset's (less safe) policy; the policy
as given is then the human-aligned reference the report compares the aligned policy
with, evaluated exactly like the baseline (``stages/evaluate.py``).
"""

from __future__ import annotations

from typing import Any

from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages.config_keys import EVALUATION, EVALUATION_ASSETS
from selfmoa.pipeline.stages.evaluate import evaluate_policy
from selfmoa.pipeline.stages.spec import StageSpec, no_upstream, reset_on


def run_reference(ctx: StageContext) -> dict[str, Any]:
    """Held-out evaluation of the untouched policy when a safety reset changed the start."""
    return evaluate_policy(ctx, ctx.untouched_adapter())


STAGE = StageSpec(
    "reference",
    "baseline",
    EVALUATION,
    no_upstream,
    EVALUATION_ASSETS,
    ("items.jsonl", "summary.json"),
    run_reference,
    uses_device=True,
    applies=reset_on,
    shared=True,
)
