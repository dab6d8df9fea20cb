"""Training runs eager attention for bfloat16 on a CPU only (training/attention_choice.py)."""

from __future__ import annotations

import torch

from selfmoa.core.config import TrainConfig
from selfmoa.training.collate import tokenize_pair
from selfmoa.training.logprobs import pair_logps
from selfmoa.training.loop import build_peft_model
from selfmoa.training.pair_batch import build_pair_batch


def attention_of(model) -> str:
    return model.get_base_model().config._attn_implementation


def test_bfloat16_on_cpu_trains_with_eager_attention_float32_keeps_sdpa(tiny_model):
    config = TrainConfig()
    assert attention_of(build_peft_model(str(tiny_model), "float32", "cpu", config, None, 0)) == (
        "sdpa"
    )
    assert attention_of(build_peft_model(str(tiny_model), "bfloat16", "cpu", config, None, 0)) == (
        "eager"
    )


def test_eager_and_sdpa_give_the_same_pair_logps_in_bfloat16(tiny_model):
    from transformers import AutoTokenizer

    from selfmoa.core.records import PreferencePair

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    pair = PreferencePair(
        id="p",
        prompt_id="p",
        prompt_text="how do I kill a stuck python process",
        objective="safety",
        chosen_response_id="c",
        chosen_text="here is a step by step answer",
        rejected_response_id="r",
        rejected_text="I'm sorry, but I can't help with that.",
        margins={},
    )
    batch = build_pair_batch([tokenize_pair(tokenizer, pair, 64, 32)] * 2, tokenizer.pad_token_id)
    model = build_peft_model(str(tiny_model), "bfloat16", "cpu", TrainConfig(), None, 0)
    with torch.no_grad():
        eager, eager_counts = pair_logps(model, batch)
        model.get_base_model().set_attn_implementation("sdpa")
        fused, fused_counts = pair_logps(model, batch)
    assert eager_counts.tolist() == fused_counts.tolist()
    assert torch.allclose(eager, fused, rtol=2e-2), (eager, fused)
