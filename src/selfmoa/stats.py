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
        "rate": hits / len(flags) if flags else 0.0,
        "n": len(flags),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
    }
