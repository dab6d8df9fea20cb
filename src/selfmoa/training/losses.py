"""Preference losses, chosen by name (``train.loss``): pure tensor maths, one function each.

Notation per pair: ``logratio_w = log pi(y_w|x) - log pi_ref(y_w|x)`` and the same for
``y_l``, log-probabilities summed over response tokens; ``h = logratio_w - logratio_l``
is the preference logit. With ``train.length_normalise`` each log-ratio is first
divided by its response's token count (``log_ratios`` below), for every loss.

- ``dpo``   (Rafailov et al. 2023):  -log sigma(beta * h)
- ``ipo``   (Azar et al. 2023):      (h - 1/(2 beta))^2
- ``rpo``   (Pang et al. 2024):      -log sigma(beta * h) + nll_weight * NLL(y_w)
- ``modpo`` (Zhou et al. 2024), for a pair ranked on objective k, weights w over K objectives
  and chosen-minus-rejected judge margins m_o on the others:
      -log sigma( beta/w_k * h - sum_{o != k} w_o/w_k * m_o ),  plus nll_weight * NLL(y_w).
  With every other w_o = 0 it is DPO with beta/w_k. The default, and what selfmoa
  trained with before losses had names: pure DPO lowers the likelihood of both
  answers and did not make SmolLM2-135M refuse; the NLL term did.
- ``weighted_dpo``: sum_k w_k * mean_{pairs ranked on k} DPO / sum_{k in batch} w_k,
  plus nll_weight * NLL(y_w): each objective's DPO loss averaged on its own pairs,
  then combined by the weights (the "linear scalarisation" baseline of MODPO's paper).
- ``weighted_rpo``: sum_k w_k * mean_{pairs ranked on k} (DPO + nll_weight * NLL(y_w))
  / sum_{k in batch} w_k: each objective's whole RPO loss, its NLL term included, scaled
  by its weight. In the others the NLL term weighs every chosen answer alike, and on
  the demo that term does most of the training, so the objective weights hardly move
  the policy; here they decide how much each objective's chosen answers are imitated.

NLL(y_w) is the chosen answer's mean negative log-likelihood per token. Every entry
of ``LOSSES`` maps a ``PreferenceTerms`` batch to one scalar to minimise.

Every average above is over the whole optimiser step, which may be run in several
micro-batches (``train.micro_batch_pairs``) to bound activation memory. So each loss
is written as a weighted sum of per-pair terms whose weights come from the whole
step (``PreferenceTerms.step_ranked``): the micro-batch losses then add up to the
full-batch loss exactly, and so do their gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as functional


def log_ratios(
    policy: torch.Tensor, reference: torch.Tensor, tokens: torch.Tensor, length_normalise: bool
) -> torch.Tensor:
    """log pi - log pi_ref per sequence, divided by the response token count if asked."""
    ratio = policy - reference
    return ratio / tokens.clamp(min=1).to(ratio.dtype) if length_normalise else ratio


def dpo_loss(h: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-pair DPO: -log sigma(beta * h)."""
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


@dataclass(frozen=True)
class LossSpec:
    """A named loss: the scalar to minimise, and whether it has an NLL term."""

    compute: Callable[[PreferenceTerms], tuple[torch.Tensor, torch.Tensor]]
    uses_nll: bool


def _with_nll(
    preference: torch.Tensor, terms: PreferenceTerms
) -> tuple[torch.Tensor, torch.Tensor]:
    """(total, preference term) with the weighted NLL term added."""
    return preference + terms.nll_weight * terms.step_mean(terms.nll), preference


def _dpo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    preference = terms.step_mean(dpo_loss(terms.h, terms.beta))
    return preference, preference


def _ipo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    preference = terms.step_mean(ipo_loss(terms.h, terms.beta))
    return preference, preference


def _rpo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    return _with_nll(terms.step_mean(dpo_loss(terms.h, terms.beta)), terms)


def _modpo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    per_pair = modpo_loss(terms.h, terms.beta, terms.ranked, terms.margins, terms.weights)
    return _with_nll(terms.step_mean(per_pair), terms)


def _weighted_dpo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    preference = weighted_dpo_loss(
        terms.h, terms.beta, terms.ranked, terms.weights, terms.step_ranked_or_batch
    )
    return _with_nll(preference, terms)


def _weighted_rpo(terms: PreferenceTerms) -> tuple[torch.Tensor, torch.Tensor]:
    shares = objective_shares(terms.ranked, terms.weights, terms.step_ranked_or_batch)
    preference = (dpo_loss(terms.h, terms.beta) * shares).sum()
    return preference + terms.nll_weight * (terms.nll * shares).sum(), preference


# The names must match selfmoa.core.config.LOSS_NAMES (tests/test_losses.py checks it).
LOSSES: dict[str, LossSpec] = {
    "dpo": LossSpec(_dpo, uses_nll=False),
    "ipo": LossSpec(_ipo, uses_nll=False),
    "rpo": LossSpec(_rpo, uses_nll=True),
    "modpo": LossSpec(_modpo, uses_nll=True),
    "weighted_dpo": LossSpec(_weighted_dpo, uses_nll=True),
    "weighted_rpo": LossSpec(_weighted_rpo, uses_nll=True),
}
