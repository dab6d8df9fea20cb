"""Which attention kernel training runs: eager for short bfloat16 rows on a CPU, else the
model's own.

Training feeds each pair as one row ``[prompt | chosen | rejected]`` with a 4D mask
(``pair_batch.py``): with the default token limits at most 96 + 2 x 40 = 176 tokens.
On CPUs, PyTorch's fused SDPA kernel (``_scaled_dot_product_flash_attention_for_cpu``)
is slow in bfloat16 at such lengths: forward and backward of one layer's attention took
12.7 ms against 8.6 ms for the plain product-softmax-product at 170 tokens, and 7.9 ms
in float32 (2 pairs, 9 heads, AMD EPYC with AVX512-BF16, torch 2.13). Eager keeps the
whole score matrix, so it loses as rows grow: 1.1x slower than the fused kernel at 512
tokens and 1.8x at 1024. So only bfloat16 on a CPU with rows of at most
``EAGER_MAX_ROW_TOKENS`` switches; in float32 the two are as fast, and on a GPU the fused
kernels win. sdpa takes the mask as booleans, eager as an additive mask
(``logprobs.pair_logps`` builds each); the log-probabilities agree within rounding.
"""

from __future__ import annotations

import torch

EAGER_MAX_ROW_TOKENS = 256


def prefer_eager_attention_for_cpu_bfloat16(causal_lm, longest_row: int) -> bool:
    """Switch ``causal_lm`` from sdpa to eager attention if it runs bfloat16 on a CPU and
    no training row is longer than ``EAGER_MAX_ROW_TOKENS``; whether it runs eager now."""
    parameter = next(causal_lm.parameters())
    if (
        parameter.device.type != "cpu"
        or parameter.dtype != torch.bfloat16
        or longest_row > EAGER_MAX_ROW_TOKENS
        or causal_lm.config._attn_implementation != "sdpa"
    ):
        return False
    causal_lm.set_attn_implementation("eager")  # a model that cannot switch stays on sdpa
    return causal_lm.config._attn_implementation == "eager"
