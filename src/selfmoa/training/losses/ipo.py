"""``ipo`` (Azar et al. 2023): (h - 1/(2 beta))^2, averaged over the step's pairs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from selfmoa.training.losses.registry import register_loss
from selfmoa.training.losses.terms import PreferenceTerms, ipo_loss

if TYPE_CHECKING:
    import torch


@register_loss("ipo", uses_nll=False)
def ipo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    """IPO: (h - 1/(2 beta))^2."""
    preference = terms.step_mean(ipo_loss(terms.h, terms.beta))
    return preference, preference
