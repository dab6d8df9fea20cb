"""Loss functions for multi-objective preference optimisation (pure tensor maths).

Notation per pair: ``logratio_w = log pi(y_w|x) - log pi_ref(y_w|x)`` and the same
for ``y_l``; log-probabilities are summed over response tokens.

- DPO (Rafailov et al. 2023):  -log sigma(beta * (logratio_w - logratio_l))
- MODPO (Zhou et al. 2024), for a pair built on objective k with weights w:
      -log sigma( beta/w_k * (logratio_w - logratio_l) - (w_o/w_k) * margin_o )
  where margin_o is the chosen-minus-rejected score on the *other* objective.
  With w_o = 0 it is DPO with beta/w_k.
- NLL on the chosen answer, averaged per token. Pure DPO lowers the likelihood
  of both answers and did not make SmolLM2-135M refuse; adding this term did.

Total loss = mean(MODPO) + nll_weight * mean(NLL).
"""

from __future__ import annotations

import torch
import torch.nn.functional as functional


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Per-pair DPO loss."""
    logits = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -functional.logsigmoid(beta * logits)


def modpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    other_margin: torch.Tensor,
    primary_weight: torch.Tensor,
    other_weight: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Per-pair margin-aware DPO loss (MODPO); weights and margin are per pair."""
    logits = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -functional.logsigmoid(
        beta / primary_weight * logits - other_weight / primary_weight * other_margin
    )


def nll_loss(chosen_logp_sum: torch.Tensor, chosen_token_count: torch.Tensor) -> torch.Tensor:
    """Per-pair mean negative log-likelihood per token of the chosen answer."""
    return -chosen_logp_sum / chosen_token_count.clamp(min=1)


def implicit_rewards(policy: torch.Tensor, reference: torch.Tensor, beta: float) -> torch.Tensor:
    return beta * (policy - reference)
