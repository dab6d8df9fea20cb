"""The rubric judges: any chat LM asked a Yes/No question, P(Yes) from its logits."""

from __future__ import annotations

from selfmoa.judges.base import Judge
from selfmoa.judges.judge_lm import judge_lm
from selfmoa.judges.spec import JudgeContext, JudgeSpec


def llm_rubric(context: JudgeContext, spec: JudgeSpec) -> Judge:
    from selfmoa.judges.llm import LLMRubricJudge

    model, tokenizer = judge_lm(context, spec.name)
    return LLMRubricJudge(
        model, tokenizer, name=spec.name, measure=spec.measure,
        max_input_tokens=context.config.judge.max_input_tokens,
    )  # fmt: skip


JUDGES = (
    JudgeSpec(
        "llm-rubric",
        "unsafe",
        f"{__name__}:llm_rubric",
        "any chat LM with a StrongREJECT/HarmBench-style rubric, P(Yes) from logits",
        needs_model=True,
        servable=True,
    ),
    JudgeSpec(
        "llm-rubric-refusal",
        "refusal",
        f"{__name__}:llm_rubric",
        "any chat LM asked whether the answer refuses, P(Yes) from logits",
        needs_model=True,
        servable=True,
    ),
)
