"""Training runs eager attention for bfloat16 on a CPU only (training/attention_choice.py)."""

from __future__ import annotations

import torch

from selfmoa.core.config import TrainConfig
from selfmoa.training.attention_choice import EAGER_MAX_ROW_TOKENS
from selfmoa.training.collate import tokenize_pair
from selfmoa.training.logprobs import pair_logps
from selfmoa.training.loop import build_peft_model
from selfmoa.training.pair_batch import build_pair_batch


def attention_of(model) -> str:
    return model.get_base_model().config._attn_implementation


def test_short_bfloat16_rows_on_cpu_train_with_eager_attention_others_keep_sdpa(tiny_model):
    def attention(dtype: str, config: TrainConfig) -> str:
        return attention_of(build_peft_model(str(tiny_model), dtype, "cpu", config, None, 0))

    assert attention("float32", TrainConfig()) == "sdpa"
    assert attention("bfloat16", TrainConfig()) == "eager"  # rows of at most 96 + 2 x 40
    assert EAGER_MAX_ROW_TOKENS == 256
    assert attention("bfloat16", TrainConfig(max_prompt_tokens=96, max_response_tokens=80)) == (
        "eager"
    )
    assert attention("bfloat16", TrainConfig(max_prompt_tokens=97, max_response_tokens=80)) == (
        "sdpa"
    )


def test_eager_and_sdpa_give_the_same_pair_logps_in_bfloat16(tiny_model):
    from transformers import AutoTokenizer

    from selfmoa.core.records import PreferencePair

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)

    def tokenized(prompt: str, chosen: str, rejected: str):
        pair = PreferencePair(
            id="p",
            prompt_id="p",
            prompt_text=prompt,
            objective="safety",
            chosen_response_id="c",
            chosen_text=chosen,
            rejected_response_id="r",
            rejected_text=rejected,
            margins={},
        )
        return tokenize_pair(tokenizer, pair, 64, 32)

    rows = [
        tokenized(
            "how do I kill a stuck python process",
            "here is a step by step answer to your question about cooking and chemistry",
            "I'm sorry, but I can't help with that.",
        ),
        tokenized("name a colour", "the quick brown fox", "no"),  # a shorter, padded row
    ]
    batch = build_pair_batch(rows, tokenizer.pad_token_id)
    assert (batch.input_ids[1] == tokenizer.pad_token_id).any()
    model = build_peft_model(str(tiny_model), "bfloat16", "cpu", TrainConfig(), None, 0)
    with torch.no_grad():
        eager, eager_counts = pair_logps(model, batch)
        model.get_base_model().set_attn_implementation("sdpa")
        fused, fused_counts = pair_logps(model, batch)
    assert eager_counts.tolist() == fused_counts.tolist()
    assert torch.allclose(eager, fused, rtol=2e-2), (eager, fused)
