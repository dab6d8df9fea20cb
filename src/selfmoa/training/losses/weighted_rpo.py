"""``weighted_rpo``: each objective's whole RPO loss, its NLL term included, weighted.

sum_k w_k * mean_{pairs ranked on k} (DPO + nll_weight * NLL(y_w)) / sum_{k in step} w_k.
In the other losses the NLL term weighs every chosen answer alike, and on the demo that
term does most of the training, so the objective weights hardly move the policy; here
they decide how much each objective's chosen answers are imitated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from selfmoa.training.losses.registry import register_loss
from selfmoa.training.losses.terms import PreferenceTerms, dpo_loss, objective_shares

if TYPE_CHECKING:
    import torch


@register_loss("weighted_rpo", uses_nll=True)
def weighted_rpo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted per-objective DPO + NLL, the NLL term weighted too."""
    shares = objective_shares(terms.ranked, terms.weights, terms.step_ranked_or_batch)
    preference = (dpo_loss(terms.h, terms.beta) * shares).sum()
    return preference + terms.nll_weight * (terms.nll * shares).sum(), preference
