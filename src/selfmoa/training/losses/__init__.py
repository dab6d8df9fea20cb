"""Preference losses, chosen by name (``train.loss``): one module per loss in this package.

Notation per pair: ``logratio_w = log pi(y_w|x) - log pi_ref(y_w|x)`` and the same for
``y_l``, log-probabilities summed over response tokens; ``h = logratio_w - logratio_l``
is the preference logit. With ``train.length_normalise`` each log-ratio is first
divided by its response's token count (``log_ratios``), for every loss. NLL(y_w) is the
chosen answer's mean negative log-likelihood per token.

Each loss module (``dpo``, ``ipo``, ``rpo``, ``modpo``, ``weighted_dpo``,
``weighted_rpo``) gives its formula and registers one function with
``@register_loss("name", uses_nll=...)``; adding a loss is adding one such module
(docs/extending.md). ``LOSSES`` maps each name to its ``LossSpec``, whose ``compute``
maps a ``PreferenceTerms`` batch to ``(total, preference term)``.

Every average is over the whole optimiser step, which may be run in several
micro-batches (``train.micro_batch_pairs``) to bound activation memory. So each loss
is written as a weighted sum of per-pair terms whose weights come from the whole
step (``PreferenceTerms.step_ranked``): the micro-batch losses then add up to the
full-batch loss exactly, and so do their gradients.
"""

from __future__ import annotations

from selfmoa.training.losses.registry import (
    LossSpec,
    discover_losses,
    loss_names,
    losses_without_nll,
    register_loss,
)
from selfmoa.training.losses.terms import (
    PreferenceTerms,
    dpo_loss,
    ipo_loss,
    log_ratios,
    modpo_loss,
    nll_loss,
    objective_shares,
    weighted_dpo_loss,
)

LOSSES: dict[str, LossSpec] = discover_losses()

__all__ = [
    "LOSSES",
    "LossSpec",
    "PreferenceTerms",
    "discover_losses",
    "dpo_loss",
    "ipo_loss",
    "log_ratios",
    "loss_names",
    "losses_without_nll",
    "modpo_loss",
    "nll_loss",
    "objective_shares",
    "register_loss",
    "weighted_dpo_loss",
]
