"""Contract test over every registered loss: well formed, one scalar on a tiny random batch.

A new module in ``selfmoa/training/losses/`` is picked up here with no edit.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from selfmoa.training.losses import LOSSES, LossSpec, PreferenceTerms
from selfmoa.training.losses.registry import register_loss


def random_batch(nll_weight: float, pairs: int = 6, objectives: int = 3) -> PreferenceTerms:
    generator = torch.Generator().manual_seed(0)
    return PreferenceTerms(
        h=torch.randn(pairs, generator=generator, dtype=torch.float64).requires_grad_(),
        nll=torch.rand(pairs, generator=generator, dtype=torch.float64) * 3,
        ranked=torch.randint(0, objectives, (pairs,), generator=generator),
        margins=torch.randn(pairs, objectives, generator=generator, dtype=torch.float64),
        weights=torch.tensor([1.0, 0.5, 0.25], dtype=torch.float64),
        beta=0.1,
        nll_weight=nll_weight,
    )


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_contract(name):
    spec = LOSSES[name]
    assert isinstance(spec, LossSpec) and spec.name == name
    assert callable(spec.compute) and spec.summary, "a docstring line to show in docs"
    assert isinstance(spec.uses_nll, bool)
    batch = random_batch(nll_weight=0.5)
    total, preference = spec.compute(batch)
    for value in (total, preference):
        assert isinstance(value, torch.Tensor) and value.dim() == 0, "one scalar"
        assert torch.isfinite(value)
    (gradient,) = torch.autograd.grad(total, batch.h)
    assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0, "trains the policy"
    without_nll, _ = spec.compute(random_batch(nll_weight=0.0))
    if spec.uses_nll:
        assert total.item() != pytest.approx(without_nll.item()), "the NLL term counts"
    else:
        assert total.item() == pytest.approx(preference.item()), "no NLL term"


def test_names_are_unique():
    with pytest.raises(ValueError, match="registered twice"):
        register_loss("dpo", uses_nll=False)(LOSSES["dpo"].compute)


def test_loss_names_are_listed_without_torch():
    # config validation lists the names; it must not pay for importing torch
    code = (
        "import sys; from selfmoa.training.losses.registry import loss_names; "
        "names = loss_names(); assert 'torch' not in sys.modules, 'torch imported'; "
        "print(','.join(names))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split(",") == sorted(LOSSES)
