"""``rpo`` (Pang et al. 2024): -log sigma(beta * h) + nll_weight * NLL(y_w)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from selfmoa.training.losses.registry import register_loss
from selfmoa.training.losses.terms import PreferenceTerms, dpo_loss

if TYPE_CHECKING:
    import torch


@register_loss("rpo", uses_nll=True)
def rpo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    """RPO: DPO + NLL of the chosen answer."""
    return terms.with_nll(terms.step_mean(dpo_loss(terms.h, terms.beta)))
