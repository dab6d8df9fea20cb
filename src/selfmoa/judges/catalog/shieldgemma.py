"""The ShieldGemma judge: its response policy check, P(Yes)."""

from __future__ import annotations

from selfmoa.judges.base import Judge
from selfmoa.judges.judge_lm import judge_lm
from selfmoa.judges.spec import JudgeContext, JudgeSpec


def shieldgemma(context: JudgeContext, spec: JudgeSpec) -> Judge:
    from selfmoa.judges.hf_judges import ShieldGemmaJudge  # imports torch

    model, tokenizer = judge_lm(context, spec.name)
    return ShieldGemmaJudge(model, tokenizer, name=spec.name,
                            max_input_tokens=context.config.judge.max_input_tokens)  # fmt: skip


JUDGES = (
    JudgeSpec(
        "shieldgemma",
        "unsafe",
        f"{__name__}:shieldgemma",
        "ShieldGemma response policy check, P(Yes)",
        needs_model=True,
        servable=True,
    ),
)
