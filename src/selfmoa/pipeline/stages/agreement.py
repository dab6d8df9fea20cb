"""The agreement stage: how often the evaluation judges agree with human labels.

Every source of human labels (``selfmoa.judges.source_eval``: PyRIT's objective, harm
and refusal sets, each team gold set) is scored once by the evaluation judges. From those
scores the stage writes the held-out agreement per set (``agreement.json``, the report's
table since the first report) and the cross-source figures (``by_source.json``): every
candidate verdict per source, ranked by its worst held-out source
(``selfmoa.judges.cross_source``). The stage reads no policy output, so any run with the
same judges, weights and labels reuses it (``shared``).
"""

from __future__ import annotations

from typing import Any

from selfmoa.core.atomic import atomic_write_json, atomic_write_text
from selfmoa.judges.evaluation import finite, markdown, results_for
from selfmoa.judges.source_eval import cross_source_result, label_sources, score_sources
from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages.config_keys import JUDGING
from selfmoa.pipeline.stages.spec import StageSpec, no_upstream

# Sources whose per-set rows the report's first agreement table shows, by their name there.
REPORT_SETS = {
    "gold:smollm2-135m": "gold",
    "pyrit-refusal": "pyrit-refusal",
    "pyrit-objective": "pyrit-objective",
}


def run_agreement(ctx: StageContext) -> dict[str, Any]:
    """Score every labelled source once; write per-set rows and the cross-source figures."""
    judges = ctx.judges(ctx.config.judge.evaluation_judges)
    scored = score_sources(label_sources(ctx.config.judge.agreement_rows), judges)
    rows: list[dict] = []
    for source, shown in REPORT_SETS.items():
        items, targets = scored[source]
        rows += results_for(shown, items, targets, 1000)
    rows = finite(rows)  # type: ignore[assignment]
    by_source = cross_source_result(scored)
    atomic_write_json(ctx.stage.file("agreement.json"), rows)
    atomic_write_json(ctx.stage.file("by_source.json"), by_source)
    atomic_write_text(ctx.stage.file("agreement.md"), markdown(rows) + "\n")
    counts: dict[str, Any] = {}
    for r in rows:
        if r["judge"] == "verdict" and r["split"] == "heldout":
            accuracy = r["accuracy"]
            counts[f"{r['set']}:{r['target']}"] = None if accuracy is None else round(accuracy, 3)
    for target, part in by_source.items():
        shipped = ("verdict", "as shipped")
        verdict = [x for x in part["ranking"] if (x["candidate"], x["mode"]) == shipped]
        if verdict:
            counts[f"worst_source_kappa:{target}"] = round(verdict[0]["worst_kappa"], 3)
    return counts


STAGE = StageSpec(
    "agreement",
    "run",
    JUDGING | {"judge.evaluation_judges", "judge.agreement_rows"},
    no_upstream,
    ("judge_weights", "human_labels", "model:embedder"),
    ("agreement.json", "by_source.json", "agreement.md"),
    run_agreement,
    shared=True,
)
