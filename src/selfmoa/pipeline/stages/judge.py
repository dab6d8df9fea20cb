"""Judging: every judge scores every response; failures are recorded, never guessed."""

from __future__ import annotations

from typing import Any

from selfmoa.core.chunked import run_chunked
from selfmoa.core.records import Judgement, Prompt, Response
from selfmoa.judges.base import Judge, JudgeInput
from selfmoa.judges.registry import run_judges
from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages.config_keys import JUDGING
from selfmoa.pipeline.stages.spec import StageSpec, in_round


def judge_responses(
    prompts: dict[str, Prompt], responses: list[Response], judges: list[Judge]
) -> list[Judgement]:
    items = [
        JudgeInput(prompts[r.prompt_id].text, prompts[r.prompt_id].label, r.text) for r in responses
    ]
    verdicts = run_judges(judges, items)
    return [
        Judgement(
            id=f"{response.id}:{judge.name}",
            response_id=response.id,
            prompt_id=response.prompt_id,
            judge=judge.name,
            measure=judge.measure,  # type: ignore[arg-type]
            score=verdict.score,
            error=verdict.error,
        )
        for judge in judges
        for response, verdict in zip(responses, verdicts[judge.name], strict=True)
    ]


def run_judge(ctx: StageContext) -> dict[str, Any]:
    r = ctx.round
    assert r is not None
    prompts = {p.id: p for p in ctx.prompts(r)}
    judges = ctx.training_judges()
    judgements = run_chunked(
        ctx.responses(r),
        ctx.config.backend.batch_size * 4,
        ctx.stage.file("judgements.jsonl"),
        Judgement,
        lambda chunk, i: judge_responses(prompts, chunk, judges),
        desc=ctx.stage.label,
        fault_label=ctx.fault_label,
        job_of=lambda judgement: judgement.response_id,
        records_per_job=len(judges),
    )
    return {
        "judgements": len(judgements),
        "errors": sum(1 for j in judgements if j.error is not None),
    }


STAGE = StageSpec(
    "judge",
    "round",
    JUDGING | {"judge.training_judges", "backend.batch_size"},
    lambda c, r: in_round("redteam", r) + in_round("sample", r),
    ("model:embedder", "judge_weights"),
    ("judgements.jsonl",),
    run_judge,
)
