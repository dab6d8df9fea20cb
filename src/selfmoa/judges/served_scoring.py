"""Constrained Yes/No scoring through an OpenAI-compatible server's next-token logprobs.

The same score as ``judges.scoring.PairScorer`` computes from local logits,

    P(first | x) / (P(first | x) + P(second | x)),

read from the server's top log-probabilities of the one token after the judge prompt x
(a ``/completions`` request with ``max_tokens`` 1 and ``logprobs`` k). Each answer
word may have several spellings ("Yes", " Yes"); the first token of each is found with
the judge's tokenizer, as locally, and the probabilities of the top tokens with those
texts are summed.
Only the top k tokens come back, so an answer word outside them counts as probability
0, and a reply with neither word among them is an error, not a score. So are a prompt
over ``max_input_tokens``, one the tokenizer refuses and a server that fails after its
retries; each prompt is its own request, so one prompt's error is never its neighbours'.

Two reply layouts are read: the legacy completions one (vLLM, OpenAI:
``logprobs.top_logprobs[0]`` a token -> logprob mapping) and llama.cpp's
(``logprobs.content[0].top_logprobs`` a list of ``{token, logprob}``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from selfmoa.judges.base import Verdict
from selfmoa.judges.scoring import distinct_answer_ids, encode_prompt


def top_next_tokens(reply: Any) -> dict[str, float]:
    """The reply's top next-token log-probabilities, token text -> logprob.

    Raises ValueError when the reply carries none (the server ignored ``logprobs``).
    """
    try:
        logprobs = reply["choices"][0]["logprobs"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("the reply has no choices[0].logprobs") from None
    if isinstance(logprobs, dict) and logprobs.get("top_logprobs"):
        first = logprobs["top_logprobs"][0]
        if isinstance(first, dict):
            return {str(token): float(value) for token, value in first.items()}
    if isinstance(logprobs, dict) and logprobs.get("content"):
        entries = logprobs["content"][0].get("top_logprobs") or []
        return {str(e["token"]): float(e["logprob"]) for e in entries if "token" in e}
    raise ValueError("the reply's logprobs hold no top tokens (does the server support them?)")


def answer_probability(top: dict[str, float], tokens: frozenset[str]) -> float:
    """Summed probability of the top tokens whose text (stripped) is one of ``tokens``."""
    return sum(math.exp(lp) for token, lp in top.items() if token.strip() in tokens)


def yes_no_verdict(top: dict[str, float], first: frozenset[str], second: frozenset[str]) -> Verdict:
    p_first, p_second = answer_probability(top, first), answer_probability(top, second)
    if p_first + p_second <= 0:
        shown = ", ".join(repr(t) for t in list(top)[:5])
        return Verdict(
            error=f"neither {sorted(first)} nor {sorted(second)} among the server's top "
            f"{len(top)} next tokens ({shown})"
        )
    return Verdict(score=p_first / (p_first + p_second))


def answer_token_texts(
    tokenizer, first: list[str], second: list[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """The stripped texts of the answers' first tokens, as ``PairScorer`` picks them."""
    first_ids, second_ids = distinct_answer_ids(tokenizer, first, second)

    def texts(ids: list[int]) -> frozenset[str]:
        return frozenset(tokenizer.decode([i]).strip() for i in ids)

    first_texts, second_texts = texts(first_ids), texts(second_ids)
    if first_texts & second_texts:
        raise ValueError(f"answers {first} and {second} share their first tokens")
    return first_texts, second_texts


class ServedPairScorer:
    """Scores judge prompts by P(first) against P(second) from a served model.

    ``post`` sends one completions request body and returns the decoded reply (the
    OpenAI backend's retrying client); prompts go as token ids of ``tokenizer``.
    """

    def __init__(self, post: Callable[[dict[str, Any]], Any], model: str, tokenizer,
                 first: list[str], second: list[str], *, max_input_tokens: int = 2048,
                 top_logprobs: int = 20, concurrency: int = 4,
                 extra: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.post = post
        self.model = model
        self.tokenizer = tokenizer
        self.first, self.second = answer_token_texts(tokenizer, first, second)
        self.max_input_tokens = max_input_tokens
        self.top_logprobs = top_logprobs
        self.extra = extra or {}
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="judge")

    def payload(self, prompt_ids: list[int]) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt": prompt_ids,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": self.top_logprobs,
            "n_probs": self.top_logprobs,  # llama.cpp's own name; others ignore it
            **self.extra,
        }

    def _score_one(self, prompt: str) -> Verdict:
        ids = encode_prompt(self.tokenizer, prompt, self.max_input_tokens)
        if isinstance(ids, Verdict):  # over max_input_tokens, or refused by the tokenizer
            return ids
        try:
            top = top_next_tokens(self.post(self.payload(ids)))
        except Exception as error:  # a server failure is this item's error, not a score
            lines = str(error).splitlines() or [type(error).__name__]
            return Verdict(error=f"served judge failed: {lines[0][:200]}")
        return yes_no_verdict(top, self.first, self.second)

    def score(self, prompts: list[str]) -> list[Verdict]:
        return list(self.pool.map(self._score_one, prompts))
