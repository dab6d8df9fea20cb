"""Rates with Wilson 95% confidence intervals."""

from __future__ import annotations

import math


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    if total == 0:
        return (0.0, 0.0)
    rate = successes / total
    denominator = 1 + z * z / total
    centre = (rate + z * z / (2 * total)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate_summary(flags: list[bool]) -> dict[str, float | int]:
    hits = sum(flags)
    low, high = wilson_interval(hits, len(flags))
    return {
        "rate": hits / len(flags) if flags else None,
        "n": len(flags),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
    }


def paired_difference(before: list[bool], after: list[bool], z: float = 1.96) -> dict:
    """Change in a rate when the same items are judged twice (after - before).

    Per item d_i = after_i - before_i in {-1, 0, 1}; the change is mean(d) with the
    normal interval mean(d) +- z * sd(d) / sqrt(n), which uses the pairing (items that
    stay the same add no noise), unlike two independent intervals.
    """
    n = len(before)
    if n == 0 or n != len(after):
        return {"change": None, "n": n, "ci_low": None, "ci_high": None}
    diffs = [int(a) - int(b) for b, a in zip(before, after, strict=True)]
    mean = sum(diffs) / n
    variance = sum((d - mean) ** 2 for d in diffs) / (n - 1) if n > 1 else 0.0
    half = z * math.sqrt(variance / n)
    return {
        "change": round(mean, 4),
        "n": n,
        "ci_low": round(mean - half, 4),
        "ci_high": round(mean + half, 4),
    }
