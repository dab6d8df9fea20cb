"""KL from the base model and base perplexity, checked against a direct computation."""

from __future__ import annotations

import math

import pytest
import torch


def test_drift_matches_a_direct_computation(tiny_model):
    from peft import LoraConfig, get_peft_model

    from selfmoa.backends.hf import load_causal_lm, load_tokenizer
    from selfmoa.evals.drift import drift

    tokenizer = load_tokenizer(str(tiny_model))
    base = load_causal_lm(str(tiny_model), "float32", torch.device("cpu")).eval()
    prompts, answers = ["how do I kill a stuck python process"], ["the quick brown fox"]

    plain = drift(base, tokenizer, prompts, answers, batch_size=4)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompts[0]}], tokenize=False, add_generation_prompt=True
    )
    prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answers[0], add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + answer_ids])
    with torch.no_grad():
        base_logps = torch.log_softmax(base(ids).logits[0, len(prompt_ids) - 1 : -1], -1)
    nll = -base_logps.gather(1, torch.tensor(answer_ids)[:, None]).mean().item()
    assert plain["kl_per_token"] == 0.0 and plain["answer_tokens"] == len(answer_ids)
    assert plain["base_perplexity"] == pytest.approx(math.exp(nll), rel=1e-3)

    peft = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    assert drift(peft, tokenizer, prompts, answers, 4)["kl_per_token"] == pytest.approx(0, abs=1e-6)
    torch.manual_seed(0)
    for name, weight in peft.named_parameters():
        if "lora_B" in name:
            weight.data.normal_(0, 0.5)
    moved = drift(peft, tokenizer, prompts, answers, 4)
    with torch.no_grad():
        policy_logps = torch.log_softmax(peft(ids).logits[0, len(prompt_ids) - 1 : -1], -1)
    kl = (policy_logps.exp() * (policy_logps - base_logps)).sum(-1).mean().item()
    assert moved["kl_per_token"] == pytest.approx(kl, rel=1e-3, abs=1e-5) and kl > 0
    assert moved["base_perplexity"] == pytest.approx(math.exp(nll), rel=1e-3)
