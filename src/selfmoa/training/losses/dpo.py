"""``dpo`` (Rafailov et al. 2023): -log sigma(beta * h), averaged over the step's pairs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from selfmoa.training.losses.registry import register_loss
from selfmoa.training.losses.terms import PreferenceTerms, dpo_loss

if TYPE_CHECKING:
    import torch


@register_loss("dpo", uses_nll=False)
def dpo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    """DPO: -log sigma(beta * h)."""
    preference = terms.step_mean(dpo_loss(terms.h, terms.beta))
    return preference, preference
