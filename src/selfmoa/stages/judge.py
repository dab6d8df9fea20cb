"""Judging: every judge scores every response; failures are recorded, never guessed."""

from __future__ import annotations

from selfmoa.judges.base import Judge, JudgeInput, Verdict
from selfmoa.records import Judgement, Prompt, Response


def judge_responses(
    prompts: dict[str, Prompt], responses: list[Response], judges: list[Judge]
) -> list[Judgement]:
    items = [
        JudgeInput(prompts[r.prompt_id].text, prompts[r.prompt_id].label, r.text) for r in responses
    ]
    judgements = []
    for judge in judges:
        try:
            verdicts = judge.judge(items)
            if len(verdicts) != len(items):
                raise RuntimeError(f"returned {len(verdicts)} verdicts for {len(items)} items")
        except Exception as error:  # a failing judge must not stop the run or invent scores
            verdicts = [Verdict(error=f"{type(error).__name__}: {error}")] * len(items)
        for response, verdict in zip(responses, verdicts, strict=True):
            judgements.append(
                Judgement(
                    id=f"{response.id}:{judge.name}",
                    response_id=response.id,
                    prompt_id=response.prompt_id,
                    judge=judge.name,
                    measure=judge.measure,  # type: ignore[arg-type]
                    score=verdict.score,
                    error=verdict.error,
                )
            )
    return judgements
