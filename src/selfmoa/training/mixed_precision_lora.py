"""LoRA's update in the base layer's precision, added with one fused multiply-add.

With bfloat16 base weights and float32 LoRA weights (``models.dtype: bfloat16``, as in
``configs/gpu.yaml``), PEFT's LoRA layer casts each input activation to float32, runs
the two rank-r products and the scaling in float32, adds the float32 update to the
bfloat16 output (which promotes the sum to float32) and casts the sum back: three
copies of a full activation per layer and pass, and float32 products where the machine
has fast bfloat16 ones. On the training race's shapes this costs about four times the
time of the update itself (``BENCHMARKS.md``).

This forward computes the update the way mixed precision (autocast) does: the LoRA
weights, r x d each, are cast to the input's dtype (their gradients still reach the
float32 weights, which the optimiser keeps), and ``addmm`` adds s * (x A^T) B^T to the
base output in one pass. The value equals PEFT's within bfloat16 rounding.

Only bfloat16 inputs take this path: in float16, the product of the output gradient
with a still-small B underflows (PEFT keeps it in float32, and the loop has no gradient
scaler). A layer whose input is not bfloat16 (float32 throughout, float16), whose base
is not an ``nn.Linear`` (GPT-2's ``Conv1D``), with LoRA dropout, a LoRA bias, a LoRA
variant (DoRA), several active adapters, per-row adapter names or other extra
arguments, or a merged or disabled adapter keeps PEFT's own forward.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn


def fuse_mixed_precision_lora(model: nn.Module) -> int:
    """Give every PEFT LoRA ``Linear`` layer of ``model`` over bfloat16 base weights the
    fused forward (the others are left as they are, with no wrapper on their hot path);
    how many layers got it."""
    from peft.tuners.lora import Linear as LoraLinear

    layers = [
        module
        for module in model.modules()
        if isinstance(module, LoraLinear) and module.base_layer.weight.dtype == torch.bfloat16
    ]
    for layer in layers:
        layer.forward = partial(_forward, layer)  # type: ignore[method-assign]
    return len(layers)


def _fusable_adapter(layer: Any, x: torch.Tensor, extra: bool) -> str | None:
    """The one active adapter whose update the fused forward computes, if there is one;
    ``extra``: the call has arguments besides ``x`` (adapter names, variant keywords)."""
    if extra or layer.disable_adapters or layer.merged:
        return None
    active = [name for name in layer.active_adapters if name in layer.lora_A]
    if len(active) != 1:
        return None
    name = active[0]
    if name in getattr(layer, "lora_variant", {}) or not isinstance(
        layer.lora_dropout[name], nn.Identity
    ):
        return None
    if x.dtype != torch.bfloat16 or x.dtype == layer.lora_A[name].weight.dtype:
        return None
    if not isinstance(layer.base_layer, nn.Linear) or layer.lora_B[name].bias is not None:
        return None
    return name


def _forward(layer: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    name = _fusable_adapter(layer, x, bool(args or kwargs))
    if name is None:
        return type(layer).forward(layer, x, *args, **kwargs)
    result = layer.base_layer(x)
    down = layer.lora_A[name].weight.to(x.dtype)
    up = layer.lora_B[name].weight.to(x.dtype)
    low_rank = nn.functional.linear(x, down)
    fused = torch.addmm(
        result.reshape(-1, result.shape[-1]),
        low_rank.reshape(-1, low_rank.shape[-1]),
        up.t(),
        alpha=layer.scaling[name],
    )
    return fused.view(result.shape)
