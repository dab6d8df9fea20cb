"""Constrained next-token scoring for model-backed judges.

For a judge prompt x and two answer words (e.g. "Yes" / "No"), the score is

    P(first | x) / (P(first | x) + P(second | x))

read from the logits of the next token after x, never parsed from generated text.
Each answer word may have several spellings ("Yes", " Yes"); the probabilities of
their first tokens are summed (logsumexp). Prompts longer than ``max_input_tokens``,
prompts the tokenizer refuses and non-finite logits are errors, not scores. Prompts are
batched with left padding and positions counted from each row's first real token, and a
batch whose forward pass fails is retried row by row (``judges.rowwise``), so a row's
score or error never depends on the rows batched with it.
"""

from __future__ import annotations

import inspect
import math

import torch

from selfmoa.judges.base import Verdict
from selfmoa.judges.rowwise import verdicts_by_row
from selfmoa.judges.text import clean_text, first_line


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


def encode_prompt(tokenizer, prompt: str, max_input_tokens: int) -> list[int] | Verdict:
    """The judge prompt's token ids (cleaned first, ``judges.text.clean_text``), or the
    error verdict of this prompt when it cannot be scored; never the whole batch's."""
    try:
        ids = tokenizer.encode(clean_text(prompt), add_special_tokens=False)
    except Exception as error:  # this prompt's error, not its neighbours'
        return Verdict(error=f"cannot tokenize the judge prompt: {first_line(error)}")
    return prompt_error(ids, max_input_tokens) or ids


def accepts_position_ids(model) -> bool:
    """Whether ``model.forward`` takes ``position_ids`` (most causal LMs; not ALiBi ones)."""
    try:
        return "position_ids" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


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
        self.positions = accepts_position_ids(model)

    @torch.inference_mode()
    def score(self, prompts: list[str]) -> list[Verdict]:
        out: list[Verdict | None] = [None] * len(prompts)
        encoded: dict[int, list[int]] = {}
        for index, prompt in enumerate(prompts):
            ids = encode_prompt(self.tokenizer, prompt, self.max_input_tokens)
            if isinstance(ids, Verdict):
                out[index] = ids
            else:
                encoded[index] = ids
        fits = list(encoded)
        for start in range(0, len(fits), self.batch_size):
            batch = fits[start : start + self.batch_size]
            verdicts = verdicts_by_row(self._forward, [encoded[i] for i in batch], "judge failed")
            for index, verdict in zip(batch, verdicts, strict=True):
                out[index] = verdict
        return [v if v is not None else Verdict(error="not judged") for v in out]

    def _forward(self, rows: list[list[int]]) -> list[Verdict]:
        """One batch, left-padded; positions count from each row's first real token, so a
        row's score does not depend on how long its neighbours are."""
        device = next(self.model.parameters()).device
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
        extra = {"position_ids": (mask.cumsum(-1) - 1).clamp(min=0)} if self.positions else {}
        logits = self.model(input_ids=ids, attention_mask=mask, **extra).logits
        log_probs = torch.log_softmax(logits[:, -1, :].float(), dim=-1)
        first = torch.logsumexp(log_probs[:, self.first], dim=-1)
        second = torch.logsumexp(log_probs[:, self.second], dim=-1)
        return [
            Verdict(score=round(value, 6))
            if math.isfinite(value)
            else Verdict(error="non-finite answer logits")
            for value in torch.sigmoid(first - second).tolist()
        ]
