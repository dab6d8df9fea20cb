"""Training runs eager attention for bfloat16 on a CPU only (training/attention_choice.py)."""

from __future__ import annotations

import torch

from selfmoa.core.config import TrainConfig
from selfmoa.training.attention_choice import EAGER_MAX_ROW_TOKENS
from selfmoa.training.logprobs import pair_logps
from selfmoa.training.loop import build_peft_model
from selfmoa.training.pair_batch import build_pair_batch
from test_pair_batch import pairs


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
    batch = build_pair_batch(pairs(), pad_id=0)  # rows of different lengths: padded ones too
    assert (batch.input_ids == 0).any()
    model = build_peft_model(str(tiny_model), "bfloat16", "cpu", TrainConfig(), None, 0)
    with torch.no_grad():
        eager, eager_counts = pair_logps(model, batch)
        model.get_base_model().set_attn_implementation("sdpa")
        fused, fused_counts = pair_logps(model, batch)
    assert eager_counts.tolist() == fused_counts.tolist()
    assert torch.allclose(eager, fused, rtol=2e-2), (eager, fused)
