"""Drift from the base model on the policy's own answers.

For each answer y to prompt x (chat template applied), at every answer position t:
- per-token KL: ``KL(pi(.|x,y<t) || base(.|x,y<t)) = sum_v pi_v (log pi_v - log base_v)``,
  exact over the vocabulary (not a sampled estimate), averaged over all answer tokens;
- base perplexity of the answers: ``exp(-mean_t log base(y_t|x,y<t))``.
The base model is the policy with its LoRA adapter disabled. A large KL or a
rising base perplexity means the adapter moved the model far from where it was.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch

from selfmoa.training.collate import build_batch
from selfmoa.training.logprobs import causal_lm_of


def _answer_logps(model, batch) -> torch.Tensor:
    """(answer tokens, vocab) log-probabilities at answer positions, rows concatenated."""
    causal = causal_lm_of(model)
    hidden = causal.base_model(
        input_ids=batch.input_ids, attention_mask=batch.attention_mask
    ).last_hidden_state
    states = hidden[:, :-1][batch.response_mask[:, 1:]]
    return torch.log_softmax(causal.get_output_embeddings()(states).float(), -1)


@torch.inference_mode()
def drift(model, tokenizer, prompts: list[str], answers: list[str], batch_size: int) -> dict:
    """``model`` is a PeftModel (adapter on) or a plain model (then KL is 0)."""
    sequences = []
    for prompt, answer in zip(prompts, answers, strict=True):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        if answer_ids:
            sequences.append((prompt_ids, answer_ids))
    kl_sum = base_nll = 0.0
    tokens = 0
    pad = tokenizer.pad_token_id or 0
    has_adapter = hasattr(model, "disable_adapter")
    for start in range(0, len(sequences), batch_size):
        batch = build_batch(sequences[start : start + batch_size], pad)
        policy = _answer_logps(model, batch) if has_adapter else None
        with model.disable_adapter() if has_adapter else nullcontext():
            base = _answer_logps(model, batch)
        targets = batch.input_ids[:, 1:][batch.response_mask[:, 1:]]
        base_nll -= base.gather(1, targets[:, None]).sum().item()
        if policy is not None:
            kl_sum += (policy.exp() * (policy - base)).sum().item()
        tokens += len(targets)
    if tokens == 0:
        return {"kl_per_token": None, "base_perplexity": None, "answer_tokens": 0}
    return {
        "kl_per_token": round(kl_sum / tokens, 5),
        "base_perplexity": round(math.exp(base_nll / tokens), 3),
        "answer_tokens": tokens,
    }
