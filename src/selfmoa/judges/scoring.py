"""Constrained next-token scoring for model-backed judges.

For a judge prompt x and two answer words (e.g. "Yes" / "No"), the score is

    P(first | x) / (P(first | x) + P(second | x))

read from the logits of the next token after x, never parsed from generated text.
Each answer word may have several spellings ("Yes", " Yes"); the probabilities of
their first tokens are summed (logsumexp). Prompts longer than ``max_input_tokens``
and non-finite logits are errors, not scores.
"""

from __future__ import annotations

import torch

from selfmoa.judges.base import Verdict


def answer_token_ids(tokenizer, spellings: list[str]) -> list[int]:
    """First token id of each spelling (deduplicated)."""
    ids = []
    for text in spellings:
        tokens = tokenizer.encode(text, add_special_tokens=False)
        if tokens and tokens[0] not in ids:
            ids.append(tokens[0])
    if not ids:
        raise ValueError(f"the tokenizer cannot encode any of {spellings}")
    return ids


def distinct_answer_ids(
    tokenizer, first: list[str], second: list[str]
) -> tuple[list[int], list[int]]:
    """First-token ids of each answer's spellings, without those both answers share."""
    first_ids, second_ids = answer_token_ids(tokenizer, first), answer_token_ids(tokenizer, second)
    shared = set(first_ids) & set(second_ids)
    first_ids = [i for i in first_ids if i not in shared]
    second_ids = [i for i in second_ids if i not in shared]
    if not first_ids or not second_ids:
        raise ValueError(f"answers {first} and {second} share their first tokens")
    return first_ids, second_ids


def prompt_error(ids: list[int], max_input_tokens: int) -> Verdict | None:
    """The error verdict of a judge prompt that cannot be scored, else None."""
    if len(ids) > max_input_tokens:
        return Verdict(
            error=f"judge prompt has {len(ids)} tokens, over max_input_tokens {max_input_tokens}"
        )
    if not ids:
        return Verdict(error="empty judge prompt")
    return None


def load_judge_lm(model_path: str, dtype: str, device: str):
    """(model, tokenizer) for a causal-LM judge: eval mode, left padding.

    The chat template is not required here: the hub classifiers write their own
    published markup; ``LLMRubricJudge`` checks for a template itself.
    """
    from selfmoa.backends.hf import load_causal_lm, load_tokenizer, pick_device

    tokenizer = load_tokenizer(model_path, chat=False)
    tokenizer.padding_side = "left"
    model = load_causal_lm(model_path, dtype, pick_device(device)).eval()
    return model, tokenizer


class PairScorer:
    """Scores prompts by P(first answer) against P(second answer) at the next token."""

    def __init__(self, model, tokenizer, first: list[str], second: list[str],
                 max_input_tokens: int = 2048, batch_size: int = 8) -> None:  # fmt: skip
        self.model = model
        self.tokenizer = tokenizer
        self.first, self.second = distinct_answer_ids(tokenizer, first, second)
        self.max_input_tokens = max_input_tokens
        self.batch_size = batch_size
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    @torch.inference_mode()
    def score(self, prompts: list[str]) -> list[Verdict]:
        out: list[Verdict | None] = [None] * len(prompts)
        encoded = [self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]
        fits = []
        for index, ids in enumerate(encoded):
            out[index] = prompt_error(ids, self.max_input_tokens)
            if out[index] is None:
                fits.append(index)
        device = next(self.model.parameters()).device
        for start in range(0, len(fits), self.batch_size):
            batch = fits[start : start + self.batch_size]
            width = max(len(encoded[i]) for i in batch)
            pad = self.tokenizer.pad_token_id
            ids = torch.tensor([[pad] * (width - len(encoded[i])) + encoded[i] for i in batch])
            mask = torch.tensor([[0] * (width - len(encoded[i])) + [1] * len(encoded[i])
                                 for i in batch])  # fmt: skip
            logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            log_probs = torch.log_softmax(logits[:, -1, :].float(), dim=-1)
            first = torch.logsumexp(log_probs[:, self.first], dim=-1)
            second = torch.logsumexp(log_probs[:, self.second], dim=-1)
            scores = torch.sigmoid(first - second)
            for index, value in zip(batch, scores.tolist(), strict=True):
                finite = torch.isfinite(torch.tensor(value)).item()
                out[index] = (
                    Verdict(score=round(value, 6))
                    if finite
                    else Verdict(error="non-finite answer logits")
                )
        return [v if v is not None else Verdict(error="not judged") for v in out]
