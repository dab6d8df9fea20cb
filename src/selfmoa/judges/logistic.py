"""L2-penalised logistic regression by Newton's method (numpy, no scikit-learn).

Used to fit the content judges' weights (``scripts/fit_content_judges.py``) and the
linear probes of ``bench/form_probe.py``: a dozen to a few hundred features and at
most a few thousand rows, where Newton converges in a few dozen steps.
"""

from __future__ import annotations

import numpy as np


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 60) -> np.ndarray:
    """Weights (one per column, then the intercept) minimising log-loss + l2/2 * |w|^2.

    The intercept is not penalised; ``y`` holds 0/1 (or probabilities).
    """
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    penalty = l2 * np.diag([1.0] * x.shape[1] + [0.0])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        hessian = xb.T @ (xb * (p * (1 - p))[:, None]) + penalty
        w -= np.linalg.solve(hessian, xb.T @ (p - y) + penalty @ w)
    return w


def logits(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ coef + intercept for weights from ``fit_logistic``."""
    return np.hstack([x, np.ones((len(x), 1))]) @ w
