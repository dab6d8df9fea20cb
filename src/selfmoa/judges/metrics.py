"""Agreement of binary verdicts with human labels: accuracy, F1, Cohen's kappa, bootstrap CIs.

- accuracy = share of items where verdict == gold;
- F1 = 2 TP / (2 TP + FP + FN) on the positive class (0 when there is no positive);
- Cohen's kappa = (p_o - p_e) / (1 - p_e), with p_o the accuracy and p_e the chance
  agreement from the two marginals, p_e = P(v=1)P(g=1) + P(v=0)P(g=0) (0 when p_e = 1);
- 95% intervals: percentile bootstrap over items (``resamples`` draws, fixed seed).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray], float]


def accuracy(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(np.mean(pred == gold)) if len(gold) else float("nan")


def f1(pred: np.ndarray, gold: np.ndarray) -> float:
    tp = float(np.sum(pred & gold))
    wrong = float(np.sum(pred != gold))
    return 2 * tp / (2 * tp + wrong) if tp else 0.0


def cohen_kappa(pred: np.ndarray, gold: np.ndarray) -> float:
    if not len(gold):
        return float("nan")
    observed = float(np.mean(pred == gold))
    chance = float(np.mean(pred) * np.mean(gold) + np.mean(~pred) * np.mean(~gold))
    return 0.0 if chance >= 1.0 else (observed - chance) / (1.0 - chance)


METRICS: dict[str, Metric] = {"accuracy": accuracy, "f1": f1, "kappa": cohen_kappa}


def bootstrap_interval(
    metric: Metric, pred: np.ndarray, gold: np.ndarray, resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    if not len(gold):
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(gold), size=(resamples, len(gold)))
    values = [metric(pred[d], gold[d]) for d in draws]
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def summarize(pred: np.ndarray, gold: np.ndarray, resamples: int = 1000) -> dict[str, float]:
    """{metric: value, metric_low: ..., metric_high: ..., n: ...} for boolean arrays."""
    pred, gold = np.asarray(pred, dtype=bool), np.asarray(gold, dtype=bool)
    out: dict[str, float] = {"n": float(len(gold))}
    for name, metric in METRICS.items():
        out[name] = metric(pred, gold)
        out[f"{name}_low"], out[f"{name}_high"] = bootstrap_interval(metric, pred, gold, resamples)
    return out
