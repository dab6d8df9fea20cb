"""``modpo`` (Zhou et al. 2024), the default, for a pair ranked on objective k.

With weights w over K objectives and chosen-minus-rejected judge margins m_o on the
others: -log sigma( beta/w_k * h - sum_{o != k} w_o/w_k * m_o ), plus nll_weight * NLL(y_w).
With every other w_o = 0 it is DPO with beta/w_k. It is what selfmoa trained with before
losses had names: pure DPO lowers the likelihood of both answers and did not make
SmolLM2-135M refuse; the NLL term did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selfmoa.training.losses.registry import register_loss
from selfmoa.training.losses.terms import PreferenceTerms, modpo_loss

if TYPE_CHECKING:
    import torch


@register_loss("modpo", uses_nll=True)
def modpo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    """MODPO: the other objectives' margins inside the sigmoid, + NLL."""
    per_pair = modpo_loss(terms.h, terms.beta, terms.ranked, terms.margins, terms.weights)
    return terms.with_nll(terms.step_mean(per_pair))
