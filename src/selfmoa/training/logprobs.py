"""Summed log-probabilities of response tokens, computing the LM head only where needed.

The vocabulary projection is the costliest part of a small model's step on CPU
(49k x 576 for SmolLM2), so hidden states are gathered at response positions
first and only those go through the head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as functional

from selfmoa.training.collate import SequenceBatch
from selfmoa.training.pair_batch import PairBatch


def causal_lm_of(model):
    """The causal LM inside a PEFT model (its LoRA layers stay active), or the model itself."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def response_logps(causal_lm, batch: SequenceBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of response-token log-probs, response-token count) per row."""
    causal_lm = causal_lm_of(causal_lm)
    device = next(causal_lm.parameters()).device
    input_ids = batch.input_ids.to(device)
    hidden = causal_lm.base_model(
        input_ids=input_ids, attention_mask=batch.attention_mask.to(device)
    ).last_hidden_state
    targets_mask = batch.response_mask[:, 1:].to(device)  # token t is predicted at t-1
    states = hidden[:, :-1][targets_mask]
    targets = input_ids[:, 1:][targets_mask]
    logits = causal_lm.get_output_embeddings()(states).float()
    token_logps = -functional.cross_entropy(logits, targets, reduction="none")
    rows = targets_mask.nonzero()[:, 0]
    sums = torch.zeros(input_ids.shape[0], device=device).index_add(0, rows, token_logps)
    return sums, targets_mask.sum(1)


# Attention implementations that take a custom 4D mask (sdpa: boolean; eager: additive).
MASKABLE_ATTENTION = ("sdpa", "eager")


def takes_4d_mask(causal_lm) -> bool:
    return causal_lm_of(causal_lm).config._attn_implementation in MASKABLE_ATTENTION


def pair_logps(causal_lm, batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of answer-token log-probs, answer-token count) per sequence, chosen rows first
    then rejected, from one forward over rows that hold each prompt once."""
    causal_lm = causal_lm_of(causal_lm)
    parameter = next(causal_lm.parameters())
    device = parameter.device
    mask = batch.attention_mask.to(device)
    if causal_lm.config._attn_implementation != "sdpa":  # eager adds the mask to the scores
        blocked = torch.finfo(parameter.dtype).min
        mask = torch.zeros(mask.shape, dtype=parameter.dtype, device=device).masked_fill(
            ~mask, blocked
        )
    hidden = causal_lm.base_model(
        input_ids=batch.input_ids.to(device),
        attention_mask=mask,
        position_ids=batch.position_ids.to(device),
    ).last_hidden_state
    states = hidden[batch.rows.to(device), batch.sources.to(device)]
    logits = causal_lm.get_output_embeddings()(states).float()
    token_logps = -functional.cross_entropy(logits, batch.targets.to(device), reduction="none")
    owner = batch.owner.to(device)
    sequences = 2 * batch.input_ids.shape[0]
    sums = torch.zeros(sequences, device=device).index_add(0, owner, token_logps)
    counts = torch.zeros(sequences, dtype=torch.long, device=device).index_add(
        0, owner, torch.ones_like(owner)
    )
    return sums, counts
