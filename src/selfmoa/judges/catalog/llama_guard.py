"""The Llama Guard 3 and 4 judges: response classification, P(unsafe)."""

from __future__ import annotations

from selfmoa.judges.base import Judge
from selfmoa.judges.judge_lm import judge_lm
from selfmoa.judges.spec import JudgeContext, JudgeSpec


def llama_guard(context: JudgeContext, spec: JudgeSpec) -> Judge:
    from selfmoa.judges.hf_judges import LlamaGuardJudge  # imports torch

    model, tokenizer = judge_lm(context, spec.name)
    version = 4 if spec.name.endswith("4") else 3
    return LlamaGuardJudge(model, tokenizer, name=spec.name, version=version,
                           max_input_tokens=context.config.judge.max_input_tokens)  # fmt: skip


JUDGES = (
    JudgeSpec(
        "llama-guard-3",
        "unsafe",
        f"{__name__}:llama_guard",
        "Llama Guard 3 response classification, P(unsafe)",
        needs_model=True,
        servable=True,
    ),
    JudgeSpec(
        "llama-guard-4",
        "unsafe",
        f"{__name__}:llama_guard",
        "Llama Guard 4 response classification, P(unsafe)",
        needs_model=True,
        servable=True,
    ),
)
