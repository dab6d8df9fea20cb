"""The agreement stage: how often the evaluation judges agree with human labels.

Scored on PyRIT's labelled sets and the team's gold labels by ``selfmoa judges eval``'s
functions (``selfmoa.judges.evaluation``); the report shows the held-out accuracy.
"""

from __future__ import annotations

from typing import Any

from selfmoa.core.atomic import atomic_write_json, atomic_write_text
from selfmoa.judges.evaluation import TEAM_GOLD, agreement, markdown
from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages.config_keys import JUDGING
from selfmoa.pipeline.stages.spec import StageSpec, no_upstream

AGREEMENT_SETS = ["refusal", "objective"]


def run_agreement(ctx: StageContext) -> dict[str, Any]:
    """How often the evaluation judges agree with human labels (PyRIT and the team's gold)."""
    judges = ctx.judges(ctx.config.judge.evaluation_judges)
    limit = ctx.config.judge.agreement_rows
    rows = agreement(judges, str(TEAM_GOLD), AGREEMENT_SETS, limit)
    atomic_write_json(ctx.stage.file("agreement.json"), rows)
    atomic_write_text(ctx.stage.file("agreement.md"), markdown(rows) + "\n")
    verdicts = [r for r in rows if r["judge"] == "verdict" and r["split"] == "heldout"]
    return {f"{r['set']}:{r['target']}": round(r["accuracy"], 3) for r in verdicts}


STAGE = StageSpec(
    "agreement",
    "run",
    JUDGING | {"judge.evaluation_judges", "judge.agreement_rows"},
    no_upstream,
    ("judge_weights", "human_labels", "model:embedder"),
    ("agreement.json", "agreement.md"),
    run_agreement,
)
