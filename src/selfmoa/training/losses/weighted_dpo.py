"""``weighted_dpo``: each objective's DPO loss averaged on its own pairs, then combined.

sum_k w_k * mean_{pairs ranked on k} DPO / sum_{k in step} w_k, plus nll_weight * NLL(y_w):
the "linear scalarisation" baseline of MODPO's paper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selfmoa.training.losses.registry import register_loss
from selfmoa.training.losses.terms import PreferenceTerms, weighted_dpo_loss

if TYPE_CHECKING:
    import torch


@register_loss("weighted_dpo", uses_nll=True)
def weighted_dpo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted per-objective DPO + NLL."""
    preference = weighted_dpo_loss(
        terms.h, terms.beta, terms.ranked, terms.weights, terms.step_ranked_or_batch
    )
    return terms.with_nll(preference)
