"""Which attention kernel training runs: eager for bfloat16 on a CPU, else the model's own.

Training feeds each pair as one row ``[prompt | chosen | rejected]`` with a 4D mask
(``pair_batch.py``), about 160 tokens a row. On CPUs, PyTorch's fused SDPA kernel
(``_scaled_dot_product_flash_attention_for_cpu``) is slow in bfloat16 at these short
lengths: forward and backward of one layer's attention took 12.7 ms against 8.6 ms for
the plain product-softmax-product, and 7.9 ms in float32 (2 pairs, 9 heads, 170 tokens,
AMD EPYC with AVX512-BF16, torch 2.13). Over the training race (``bench/train_step.py
--dtype bfloat16``) eager attention saved about 2 s of 25. In float32 the two are as fast,
and on a GPU the fused kernels win, so only bfloat16 on a CPU switches. Both take the
same mask (``logprobs.MASKABLE_ATTENTION``) and give the same log-probabilities within
rounding.
"""

from __future__ import annotations

import torch


def prefer_eager_attention_for_cpu_bfloat16(causal_lm) -> bool:
    """Switch ``causal_lm`` from sdpa to eager attention if it runs bfloat16 on a CPU."""
    parameter = next(causal_lm.parameters())
    if (
        parameter.device.type != "cpu"
        or parameter.dtype != torch.bfloat16
        or causal_lm.config._attn_implementation != "sdpa"
    ):
        return False
    causal_lm.set_attn_implementation("eager")
    return True
