"""The fused mixed-precision LoRA forward (training/mixed_precision_lora.py) against PEFT's."""

from __future__ import annotations

import pytest
import torch

from selfmoa.core.config import TrainConfig
from selfmoa.training.loop import build_peft_model
from selfmoa.training.mixed_precision_lora import fuse_mixed_precision_lora


@pytest.fixture
def peft_forward_calls(monkeypatch) -> list[int]:
    """How many times PEFT's own LoRA ``Linear.forward`` ran."""
    from peft.tuners.lora import Linear as LoraLinear

    calls = [0]
    original = LoraLinear.forward

    def counted(self, *args, **kwargs):
        calls[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LoraLinear, "forward", counted)
    return calls


def lora_model(tiny_model, dtype: str, dropout: float = 0.0, lora_bias: bool = False):
    """The tiny Llama with a LoRA whose update is not zero (B drawn, not PEFT's zeros);
    ``lora_bias``: PEFT's LoRA with a bias on B, which training never builds itself."""
    config = TrainConfig(lora_dropout=dropout)
    if lora_bias:
        from peft import LoraConfig, get_peft_model

        from selfmoa.backends.hf import load_causal_lm

        lora = LoraConfig(
            r=config.lora_r,
            target_modules=config.target_modules,
            lora_bias=True,
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(load_causal_lm(str(tiny_model), dtype, torch.device("cpu")), lora)
    else:
        model = build_peft_model(str(tiny_model), dtype, "cpu", config, None, seed=0)
    generator = torch.Generator().manual_seed(1)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            with torch.no_grad():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model


def loss_and_gradients(model, ids: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    logits = model(input_ids=ids).logits.float()
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return loss.detach(), grads


def token_ids(seed: int = 0) -> torch.Tensor:
    return torch.randint(3, 250, (2, 12), generator=torch.Generator().manual_seed(seed))


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def test_bfloat16_base_follows_float32_as_closely_as_peft_does(tiny_model, peft_forward_calls):
    """Loss and LoRA gradients against the same model in float32: the fused forward's
    bfloat16 products stay as close to it as PEFT's float32 update does (on this random
    model PEFT's worst gradient has cosine 0.992 with float32's, the fused one 0.979)."""
    ids = token_ids()
    exact_loss, exact_grads = loss_and_gradients(lora_model(tiny_model, "float32"), ids)
    model = lora_model(tiny_model, "bfloat16")
    assert {p.dtype for n, p in model.named_parameters() if "lora_" not in n} == {torch.bfloat16}
    assert {p.dtype for n, p in model.named_parameters() if "lora_" in n} == {torch.float32}
    peft_forward_calls[0] = 0
    peft_loss, peft_grads = loss_and_gradients(model, ids)
    assert peft_forward_calls[0] == 14
    assert fuse_mixed_precision_lora(model) == 2 * 7  # seven projections in two layers
    fused_loss, fused_grads = loss_and_gradients(model, ids)
    assert peft_forward_calls[0] == 14  # every layer took the fused forward
    assert fused_grads.keys() == exact_grads.keys() and len(fused_grads) == 28
    for loss, grads in ((peft_loss, peft_grads), (fused_loss, fused_grads)):
        assert torch.allclose(loss, exact_loss, rtol=1e-3)
        for name, grad in grads.items():
            assert grad.dtype == torch.float32, name  # gradients reach the float32 weights
            assert cosine(grad, exact_grads[name]) > 0.95, name
    assert not torch.equal(fused_loss, peft_loss)  # a different computation, not PEFT's


def test_the_lora_update_is_applied_not_only_the_base(tiny_model):
    model = lora_model(tiny_model, "bfloat16")
    fuse_mixed_precision_lora(model)
    ids = token_ids()
    with torch.no_grad():
        adapted = model(input_ids=ids).logits
        with model.disable_adapter():  # the disabled adapter: PEFT's forward, the base only
            base = model(input_ids=ids).logits
    assert not torch.allclose(adapted, base, atol=1e-2)
    assert torch.equal(model(input_ids=ids).logits, adapted)  # the adapter is back on


def test_float32_float16_dropout_and_lora_bias_keep_peft_forward_exactly(
    tiny_model, peft_forward_calls
):
    """float16 stays on PEFT's float32 update: in float16 the gradient of A underflows."""
    cases = [("float32", 0.0, False), ("float16", 0.0, False), ("bfloat16", 0.2, False)]
    for dtype, dropout, lora_bias in [*cases, ("bfloat16", 0.0, True)]:
        model = lora_model(tiny_model, dtype, dropout, lora_bias)
        ids = token_ids(3)
        torch.manual_seed(5)
        peft_loss, peft_grads = loss_and_gradients(model, ids)
        fuse_mixed_precision_lora(model)
        torch.manual_seed(5)
        peft_forward_calls[0] = 0
        fused_loss, fused_grads = loss_and_gradients(model, ids)
        assert peft_forward_calls[0] == 14, dtype
        assert torch.equal(fused_loss, peft_loss), dtype
        assert all(torch.equal(fused_grads[n], g) for n, g in peft_grads.items()), dtype
