"""Noticing a saturated preference term.

A prefilled refusal against a compliant answer is easy to separate: the preference
loss of such pairs reaches ~0 within an epoch, and from then on only the NLL term
trains (supervised fine-tuning on the chosen answers). This reads the training
metrics and reports the share of the last epoch's steps whose preference loss is
below ``threshold``; at or above ``warn_share`` the stage prints the remedies.
"""

from __future__ import annotations

import json
from pathlib import Path

SATURATED_LOSS = 0.01

REMEDIES = (
    "the preference term saturated (loss < 0.01 on {share:.0%} of the last epoch's steps), so "
    "late training is mostly NLL on the chosen answers; to keep it learning from preferences, "
    "make pairs harder to separate (more sample.samples_per_prompt, so that chosen answers are "
    "the policy's own); a lower train.nll_weight or fewer train.epochs did not help on the "
    "embedded demo (BENCHMARKS.md)"
)


def saturated_share(
    metrics: Path, steps_per_epoch: int, threshold: float = SATURATED_LOSS
) -> float:
    """Share of the last epoch's logged steps with preference loss below ``threshold``."""
    if not metrics.is_file() or steps_per_epoch < 1:
        return 0.0
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    last = rows[-steps_per_epoch:]
    if not last:
        return 0.0
    return sum(row["preference_loss"] < threshold for row in last) / len(last)


def saturation_warning(share: float, warn_share: float = 0.5) -> str | None:
    """The remedies line when ``share`` reaches ``warn_share``, else None."""
    return REMEDIES.format(share=share) if share >= warn_share else None
