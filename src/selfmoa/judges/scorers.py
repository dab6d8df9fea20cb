"""One place that picks how a Yes/No judge is scored: local logits or a served model.

Model-backed judges (the LLM rubric, Llama Guard, WildGuard, ShieldGemma) build their
scorer with ``pair_scorer``. A local model gives ``PairScorer`` (logits in this
process); a ``ServedJudgeModel`` (a judge named in ``judge.served``) gives
``ServedPairScorer`` (next-token logprobs from an OpenAI-compatible server). The score
is the same quantity either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from selfmoa.judges.scoring import PairScorer
from selfmoa.judges.served_scoring import ServedPairScorer


@dataclass(frozen=True)
class ServedJudgeModel:
    """A judge model on a server: how to post a completions body, and its served name."""

    post: Callable[[dict[str, Any]], Any]
    model: str
    concurrency: int = 4
    extra: dict[str, Any] = field(default_factory=dict)


def pair_scorer(model, tokenizer, first: list[str], second: list[str],
                max_input_tokens: int = 2048, batch_size: int = 8):  # fmt: skip
    """``PairScorer`` for a local model, ``ServedPairScorer`` for a ``ServedJudgeModel``."""
    if isinstance(model, ServedJudgeModel):
        return ServedPairScorer(model.post, model.model, tokenizer, first, second,
                                max_input_tokens=max_input_tokens,
                                concurrency=model.concurrency, extra=model.extra)  # fmt: skip
    return PairScorer(model, tokenizer, first, second, max_input_tokens, batch_size)
