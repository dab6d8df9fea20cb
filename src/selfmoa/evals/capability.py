"""Capability drift: multiple-choice accuracy by option log-likelihood, as lm-eval-harness does.

For a question with options i = 1..k, each option is scored by
``ll_i = sum_t log p(continuation_i[t] | context_i, continuation_i[<t])`` under the
model (no chat template, like ``lm_eval --model hf`` without
``--apply_chat_template``). ``acc`` counts argmax_i ll_i == answer; ``acc_norm``
counts argmax_i ll_i / bytes(continuation_i) == answer (length-normalised, the
harness's ``acc_norm``). The same seeded subsample is scored before and after
training, so the change is paired.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from selfmoa.core.records import CapabilityItem
from selfmoa.core.stats import wilson_interval
from selfmoa.evals.mc_sets import MCItem
from selfmoa.training.collate import build_batch
from selfmoa.training.logprobs import causal_lm_of, response_logps


@torch.inference_mode()
def sequence_logliks(
    model, tokenizer, pairs: list[tuple[str, str]], batch_size: int
) -> list[float]:
    """Summed log-probability of each continuation given its context."""
    sequences = []
    for context, continuation in pairs:
        context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
        whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
        # tokenise together so the boundary merges as in running text
        shared = _common_prefix(context_ids, whole)
        sequences.append((whole[:shared] or whole[:1], whole[max(shared, 1) :]))
    logliks: list[float] = []
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(sequences), batch_size):
        batch = build_batch(sequences[start : start + batch_size], pad_id)
        sums, _ = response_logps(model, batch)
        logliks.extend(sums.tolist())
    return logliks


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@torch.inference_mode()
def next_token_logliks(model, tokenizer, items: list[MCItem], batch_size: int) -> list[list[float]]:
    """Options that are one token after a shared context (MMLU's " A".." D"): one forward
    pass per question, reading every option from the same next-token distribution."""
    tokenizer.padding_side = "right"
    rows: list[list[float]] = []
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        encoded = tokenizer(
            [item.contexts[0] for item in batch],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        ).to(next(model.parameters()).device)
        last = encoded["attention_mask"].sum(1) - 1
        causal = causal_lm_of(model)
        states = causal.base_model(**encoded).last_hidden_state
        hidden = states[torch.arange(len(batch)), last]
        logps = torch.log_softmax(causal.get_output_embeddings()(hidden).float(), -1)
        for row, item in zip(logps, batch, strict=True):
            ids = [
                tokenizer(c, add_special_tokens=False)["input_ids"][0] for c in item.continuations
            ]
            rows.append([row[i].item() for i in ids])
    return rows


def _single_token_options(tokenizer, item: MCItem) -> bool:
    return len(set(item.contexts)) == 1 and all(
        len(tokenizer(c, add_special_tokens=False)["input_ids"]) == 1 for c in item.continuations
    )


def score_items(model, tokenizer, items: list[MCItem], batch_size: int) -> list[CapabilityItem]:
    fast = [item for item in items if _single_token_options(tokenizer, item)]
    slow = [item for item in items if not _single_token_options(tokenizer, item)]
    by_id = dict(
        zip(
            [i.id for i in fast],
            next_token_logliks(model, tokenizer, fast, batch_size),
            strict=True,
        )
    )
    pairs = [pair for item in slow for pair in zip(item.contexts, item.continuations, strict=True)]
    flat = iter(sequence_logliks(model, tokenizer, pairs, batch_size))
    for item in slow:
        by_id[item.id] = [next(flat) for _ in item.continuations]
    scored = []
    for item in items:
        lls = by_id[item.id]
        normed = [
            ll / max(1, len(c.encode())) for ll, c in zip(lls, item.continuations, strict=True)
        ]
        scored.append(
            CapabilityItem(
                id=item.id,
                benchmark=item.benchmark,
                subject=item.subject,
                answer=item.answer,
                choice=max(range(len(lls)), key=lls.__getitem__),
                choice_norm=max(range(len(normed)), key=normed.__getitem__),
                logliks=[round(x, 4) for x in lls],
            )
        )
    return scored


def accuracy(items: Iterable[CapabilityItem]) -> dict[str, dict[str, float | int]]:
    """Per benchmark: n, acc, acc_norm, and a Wilson 95% interval for each."""
    by_benchmark: dict[str, list[CapabilityItem]] = {}
    for item in items:
        by_benchmark.setdefault(item.benchmark, []).append(item)
    out: dict[str, dict[str, float | int]] = {}
    for name, rows in sorted(by_benchmark.items()):
        out[name] = {"n": len(rows)}
        for key, hits in (
            ("acc", sum(r.choice == r.answer for r in rows)),
            ("acc_norm", sum(r.choice_norm == r.answer for r in rows)),
        ):
            low, high = wilson_interval(hits, len(rows))
            out[name] |= {
                key: round(hits / len(rows), 4),
                f"{key}_ci": [round(low, 3), round(high, 3)],
            }
    return out
