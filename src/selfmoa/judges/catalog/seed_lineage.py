"""The prompt-harm judge: an attack prompt is harmful when the seed it came from was."""

from __future__ import annotations

from selfmoa.judges.base import Judge
from selfmoa.judges.lineage import LineageHarmJudge
from selfmoa.judges.spec import JudgeContext, JudgeSpec


def lineage(context: JudgeContext, spec: JudgeSpec) -> Judge:
    return LineageHarmJudge()


JUDGES = (
    JudgeSpec(
        "seed-lineage",
        "prompt_harmful",
        f"{__name__}:lineage",
        "a prompt is harmful when its seed was",
    ),
)
