"""What every loss reads (``PreferenceTerms``) and the per-pair maths the losses share.

Pure tensor maths. torch is imported inside the few functions that call it, not at the
top, so that the loss registry can list the loss names without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def log_ratios(
    policy: torch.Tensor, reference: torch.Tensor, tokens: torch.Tensor, length_normalise: bool
) -> torch.Tensor:
    """log pi - log pi_ref per sequence, divided by the response token count if asked."""
    ratio = policy - reference
    return ratio / tokens.clamp(min=1).to(ratio.dtype) if length_normalise else ratio


def dpo_loss(h: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-pair DPO: -log sigma(beta * h)."""
    import torch.nn.functional as functional

    return -functional.logsigmoid(beta * h)


def ipo_loss(h: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-pair IPO: (h - 1/(2 beta))^2, a squared loss that pulls h to a fixed target
    instead of pushing it to infinity as DPO does on separable pairs."""
    return (h - 1 / (2 * beta)) ** 2


def nll_loss(chosen_logp_sum: torch.Tensor, chosen_token_count: torch.Tensor) -> torch.Tensor:
    """Per-pair mean negative log-likelihood per token of the chosen answer."""
    return -chosen_logp_sum / chosen_token_count.clamp(min=1)


def modpo_loss(
    h: torch.Tensor,
    beta: float,
    ranked: torch.Tensor,
    margins: torch.Tensor,
    weights: torch.Tensor,
) -> torch.Tensor:
    """Per-pair MODPO for K objectives.

    ``ranked[i]`` is the objective k that ranked pair i, ``margins[i, o]`` the judge's
    chosen-minus-rejected score on objective o, ``weights[o]`` = w_o (> 0 for ranked ones):
    -log sigma( beta/w_k * h - sum_{o != k} w_o/w_k * m_o ).
    """
    import torch.nn.functional as functional

    w_k = weights[ranked]
    not_ranked = functional.one_hot(ranked, weights.shape[0]) == 0
    others = (weights[None, :] / w_k[:, None] * margins * not_ranked).sum(1)
    return -functional.logsigmoid(beta / w_k * h - others)


def objective_shares(
    ranked: torch.Tensor, weights: torch.Tensor, step_ranked: torch.Tensor
) -> torch.Tensor:
    """Per pair: w_k / (pairs of the step ranked on k * sum of w over objectives in the step).

    With these, sum_i share_i * DPO_i = sum_k w_k * mean_{i ranked on k} DPO_i / sum_k w_k.
    """
    import torch

    counts = torch.bincount(step_ranked, minlength=weights.shape[0]).to(weights.dtype)
    present = weights[counts > 0].sum()
    return weights[ranked] / counts[ranked] / present


def weighted_dpo_loss(
    h: torch.Tensor,
    beta: float,
    ranked: torch.Tensor,
    weights: torch.Tensor,
    step_ranked: torch.Tensor | None = None,
) -> torch.Tensor:
    """Scalar: sum_k w_k * mean_{i ranked on k} DPO_i / sum_{k present} w_k.

    The means and the set of present objectives are over ``step_ranked`` (the whole
    step) when given, else over this batch.
    """
    shares = objective_shares(ranked, weights, ranked if step_ranked is None else step_ranked)
    return (dpo_loss(h, beta) * shares).sum()


@dataclass(frozen=True)
class PreferenceTerms:
    """One batch of pairs, everything a loss reads. Tensors are per pair unless noted.

    ``h``: logratio_w - logratio_l (already length-normalised if asked); ``nll``: the
    chosen answer's NLL per token; ``ranked``: index of the objective that ranked the
    pair; ``margins``: (pairs, K) judge margins; ``weights``: (K,) objective weights;
    ``step_ranked``: ``ranked`` of every pair of the optimiser step when this batch is
    one micro-batch of it (None: the batch is the step).
    """

    h: torch.Tensor
    nll: torch.Tensor
    ranked: torch.Tensor
    margins: torch.Tensor
    weights: torch.Tensor
    beta: float
    nll_weight: float
    step_ranked: torch.Tensor | None = None

    @property
    def step_ranked_or_batch(self) -> torch.Tensor:
        """The ranked objectives of the whole step (this batch when it is the step)."""
        return self.ranked if self.step_ranked is None else self.step_ranked

    def step_mean(self, per_pair: torch.Tensor) -> torch.Tensor:
        """This batch's share of the step's mean: sum / pairs in the step."""
        return per_pair.sum() / self.step_ranked_or_batch.shape[0]

    def with_nll(self, preference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(total, preference term) with the weighted NLL term of the step added."""
        return preference + self.nll_weight * self.step_mean(self.nll), preference
