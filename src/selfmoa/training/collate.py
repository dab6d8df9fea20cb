"""Tokenise preference pairs and build explicit right-padded training batches."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from selfmoa.core.records import PreferencePair


@dataclass(frozen=True)
class TokenizedPair:
    prompt_ids: list[int]
    chosen_ids: list[int]
    rejected_ids: list[int]
    objective: str
    margins: dict[str, float]


@dataclass(frozen=True)
class SequenceBatch:
    """``response_mask[b, t]`` is true where token t belongs to the response."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    response_mask: torch.Tensor


def tokenize_pair(
    tokenizer, pair: PreferencePair, max_prompt: int, max_response: int
) -> TokenizedPair:
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": pair.prompt_text}],
        tokenize=False,
        add_generation_prompt=True,
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"][-max_prompt:]

    def response(text: str) -> list[int]:
        """The answer's tokens, closed by end-of-sequence when it fits whole: an answer
        trained without one never learns to stop (refusals then loop until the token
        limit); one cut at ``max_response`` gets no end mark, so cutting is not taught."""
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) < max_response:
            return [*ids, tokenizer.eos_token_id]
        return ids[:max_response]

    return TokenizedPair(
        prompt_ids,
        response(pair.chosen_text),
        response(pair.rejected_text),
        pair.objective,
        dict(pair.margins),
    )


def build_batch(sequences: list[tuple[list[int], list[int]]], pad_id: int) -> SequenceBatch:
    """(prompt_ids, response_ids) pairs -> right-padded tensors with a response mask."""
    length = max(len(p) + len(r) for p, r in sequences)
    input_ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), length), dtype=torch.long)
    response = torch.zeros((len(sequences), length), dtype=torch.bool)
    for row, (prompt_ids, response_ids) in enumerate(sequences):
        tokens = prompt_ids + response_ids
        input_ids[row, : len(tokens)] = torch.tensor(tokens)
        attention[row, : len(tokens)] = 1
        response[row, len(prompt_ids) : len(tokens)] = True
    return SequenceBatch(input_ids, attention, response)


def pair_sequences(pairs: list[TokenizedPair]) -> list[tuple[list[int], list[int]]]:
    """Chosen sequences first, then rejected: rows i and i+len(pairs) are one pair."""
    return [(p.prompt_ids, p.chosen_ids) for p in pairs] + [
        (p.prompt_ids, p.rejected_ids) for p in pairs
    ]
