"""The reward-model judge: a scalar reward model (sequence classification), sigmoid(reward).

Not a Yes/No judge, so it cannot run on a server (``judge.served``).
"""

from __future__ import annotations

from selfmoa.judges.base import Judge
from selfmoa.judges.spec import JudgeContext, JudgeSpec


def reward_model(context: JudgeContext, spec: JudgeSpec) -> Judge:
    from selfmoa.judges.hf_judges import RewardModelJudge  # imports torch

    path = context.model_path(spec.name)
    config = context.config
    return RewardModelJudge.load(path, config.models.dtype, config.models.device,
                                 name=spec.name,
                                 max_input_tokens=config.judge.max_input_tokens)  # fmt: skip


JUDGES = (
    JudgeSpec(
        "reward-model",
        "helpfulness",
        f"{__name__}:reward_model",
        "scalar reward model (sequence classification), sigmoid(reward)",
        needs_model=True,
    ),
)
