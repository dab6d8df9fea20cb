"""Judging: every judge scores every response; failures are recorded, never guessed."""

from __future__ import annotations

from selfmoa.core.records import Judgement, Prompt, Response
from selfmoa.judges.base import Judge, JudgeInput
from selfmoa.judges.registry import run_judges


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
