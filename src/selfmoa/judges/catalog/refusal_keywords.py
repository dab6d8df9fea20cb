"""The keyword refusal judge: refusal phrases at clause starts of the answer's opening."""

from __future__ import annotations

from selfmoa.judges.base import Judge
from selfmoa.judges.refusal import KeywordRefusalJudge
from selfmoa.judges.spec import JudgeContext, JudgeSpec


def keyword_refusal(context: JudgeContext, spec: JudgeSpec) -> Judge:
    return KeywordRefusalJudge(context.config.judge.refusal_window_chars)


JUDGES = (
    JudgeSpec(
        "refusal-keywords",
        "refusal",
        f"{__name__}:keyword_refusal",
        "refusal phrases at clause starts of the opening, unless compliance follows",
    ),
)
