"""Agreement of binary verdicts with human labels: accuracy, F1, Cohen's kappa, bootstrap CIs.

- accuracy = share of items where verdict == gold;
- F1 = 2 TP / (2 TP + FP + FN) on the positive class (0 when there is no positive);
- every metric of no items at all is nan (shown as '-'), never a number without an interval;
- Cohen's kappa = (p_o - p_e) / (1 - p_e), with p_o the accuracy and p_e the chance
  agreement from the two marginals, p_e = P(v=1)P(g=1) + P(v=0)P(g=0) (0 when p_e = 1);
- 95% intervals: percentile bootstrap over items (``resamples`` draws, fixed seed).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray], float]


def _accuracy_rows(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    return np.mean(pred == gold, axis=-1)


def _f1_rows(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    tp = np.sum(pred & gold, axis=-1).astype(float)
    wrong = np.sum(pred != gold, axis=-1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tp > 0, 2 * tp / (2 * tp + wrong), 0.0)


def _kappa_rows(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    observed = np.mean(pred == gold, axis=-1)
    p_pred, p_gold = np.mean(pred, axis=-1), np.mean(gold, axis=-1)
    chance = p_pred * p_gold + (1 - p_pred) * (1 - p_gold)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(chance >= 1.0, 0.0, (observed - chance) / (1.0 - chance))


def accuracy(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(_accuracy_rows(pred, gold)) if len(gold) else float("nan")


def f1(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(_f1_rows(pred, gold)) if len(gold) else float("nan")


def cohen_kappa(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(_kappa_rows(pred, gold)) if len(gold) else float("nan")


METRICS: dict[str, Metric] = {"accuracy": accuracy, "f1": f1, "kappa": cohen_kappa}
# The same metrics over the last axis of 2-D arrays: one bootstrap draw per row.
_ROWS: dict[Metric, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    accuracy: _accuracy_rows,
    f1: _f1_rows,
    cohen_kappa: _kappa_rows,
}


def bootstrap_interval(
    metric: Metric, pred: np.ndarray, gold: np.ndarray, resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    if not len(gold):
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(gold), size=(resamples, len(gold)))
    rows = _ROWS.get(metric)
    if rows is not None:
        values = rows(np.asarray(pred)[draws], np.asarray(gold)[draws])
    else:
        values = np.array([metric(pred[d], gold[d]) for d in draws])
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
