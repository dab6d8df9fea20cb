"""Dawid-Skene label model: several weak binary judges -> one calibrated probability.

Each judge j votes 1, 0, or abstains (an error, or no score) on item i. The model
treats the true label y_i as hidden and each judge as a noisy channel with its own
sensitivity a_j = P(vote 1 | y = 1) and specificity b_j = P(vote 0 | y = 0):

    P(y_i = 1 | votes) ∝ pi * prod_{j voted} a_j^[v=1] (1 - a_j)^[v=0]
    P(y_i = 0 | votes) ∝ (1 - pi) * prod_{j voted} b_j^[v=0] (1 - b_j)^[v=1]

EM (Dawid & Skene, 1979): start from the soft majority vote, then alternate the
posterior above (E step) with abstention-aware weighted counts for pi, a_j, b_j
(M step, with add-``smoothing`` pseudo-counts so no rate reaches 0 or 1). Abstentions
simply drop out of the products and the counts. A judge's estimated accuracy is
pi * a_j + (1 - pi) * b_j. Judges are assumed conditionally independent given y and
better than chance (the majority-vote start picks that symmetric solution).
"""

from __future__ import annotations

import numpy as np


class DawidSkene:
    def __init__(self, iterations: int = 100, smoothing: float = 1.0, tolerance: float = 1e-6):
        self.iterations = iterations
        self.smoothing = smoothing
        self.tolerance = tolerance
        self.prior = 0.5
        self.sensitivity = np.zeros(0)
        self.specificity = np.zeros(0)

    @staticmethod
    def votes_from_scores(scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """Scores in [0, 1] (nan = abstain) -> votes 1.0 / 0.0 / nan."""
        votes = (scores >= threshold).astype(float)
        votes[np.isnan(scores)] = np.nan
        return votes

    def _posterior(self, votes: np.ndarray) -> np.ndarray:
        ones, zeros = votes == 1, votes == 0
        a = np.clip(self.sensitivity, 1e-6, 1 - 1e-6)
        b = np.clip(self.specificity, 1e-6, 1 - 1e-6)
        log1 = np.log(self.prior) + ones @ np.log(a) + zeros @ np.log(1 - a)
        log0 = np.log(1 - self.prior) + zeros @ np.log(b) + ones @ np.log(1 - b)
        return 1.0 / (1.0 + np.exp(np.clip(log0 - log1, -60, 60)))

    def fit(self, votes: np.ndarray) -> DawidSkene:
        """``votes``: (items, judges) array of 1.0 / 0.0 / nan."""
        votes = np.asarray(votes, dtype=float)
        ones, zeros = votes == 1, votes == 0
        counted = ones.sum(1) + zeros.sum(1)
        q = np.where(counted > 0, (ones.sum(1) + 0.5) / (counted + 1.0), 0.5)  # soft majority
        s = self.smoothing
        for _ in range(self.iterations):
            self.prior = float(np.clip((q.sum() + s) / (len(q) + 2 * s), 1e-3, 1 - 1e-3))
            self.sensitivity = (q @ ones + s) / (q @ (ones | zeros) + 2 * s)
            self.specificity = ((1 - q) @ zeros + s) / ((1 - q) @ (ones | zeros) + 2 * s)
            updated = self._posterior(votes)
            if np.max(np.abs(updated - q)) < self.tolerance:
                q = updated
                break
            q = updated
        return self

    def predict_proba(self, votes: np.ndarray) -> np.ndarray:
        return self._posterior(np.asarray(votes, dtype=float))

    def accuracies(self) -> np.ndarray:
        return self.prior * self.sensitivity + (1 - self.prior) * self.specificity


def majority_vote(votes: np.ndarray) -> np.ndarray:
    """Share of non-abstaining judges voting 1 (0.5 when all abstain)."""
    votes = np.asarray(votes, dtype=float)
    ones, counted = (votes == 1).sum(1), (~np.isnan(votes)).sum(1)
    return np.where(counted > 0, ones / np.maximum(counted, 1), 0.5)
