"""The WildGuard judges: its 'Harmful response' and 'Response refusal' lines, P(yes).

Both read one model: configure it under either name (``judge.models.wildguard`` serves
``wildguard-refusal`` too).
"""

from __future__ import annotations

from selfmoa.judges.base import Judge
from selfmoa.judges.judge_lm import judge_lm
from selfmoa.judges.spec import JudgeContext, JudgeSpec


def wildguard(context: JudgeContext, spec: JudgeSpec) -> Judge:
    from selfmoa.judges.hf_judges import WildGuardJudge  # imports torch

    models = context.config.judge.models
    owner = spec.name if spec.name in models else (spec.model_from or spec.name)
    model, tokenizer = judge_lm(context, owner)
    return WildGuardJudge(model, tokenizer, name=spec.name, measure=spec.measure,
                          max_input_tokens=context.config.judge.max_input_tokens)  # fmt: skip


JUDGES = (
    JudgeSpec(
        "wildguard",
        "unsafe",
        f"{__name__}:wildguard",
        "WildGuard 'Harmful response' line, P(yes)",
        needs_model=True,
        servable=True,
    ),
    JudgeSpec(
        "wildguard-refusal",
        "refusal",
        f"{__name__}:wildguard",
        "WildGuard 'Response refusal' line, P(yes)",
        needs_model=True,
        servable=True,
        model_from="wildguard",
    ),
)
