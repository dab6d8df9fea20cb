"""The helpfulness judge: how close the answer is to the prompt, less its repetition."""

from __future__ import annotations

from selfmoa.judges.base import Judge
from selfmoa.judges.spec import JudgeContext, JudgeSpec


def relevance(context: JudgeContext, spec: JudgeSpec) -> Judge:
    from selfmoa.judges.helpfulness import RelevanceHelpfulnessJudge  # imports torch

    return RelevanceHelpfulnessJudge(context.embedder(), context.config.judge.repetition_ngram)


JUDGES = (
    JudgeSpec(
        "embedding-relevance",
        "helpfulness",
        f"{__name__}:relevance",
        "cosine(prompt, answer) x repetition penalty (all-MiniLM-L6-v2)",
    ),
)
