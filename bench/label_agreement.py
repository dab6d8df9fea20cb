"""How often do the evaluation judges' verdicts agree with a labeller on a run's own answers?

Usage: .venv/bin/python bench/label_agreement.py ITEMS.jsonl LABELS.jsonl [LABELS2.jsonl]

ITEMS is an evaluate stage's ``items.jsonl`` (the judges' ``refused`` / ``unsafe``
verdicts per answer); LABELS holds ``{"id", "refused", "unsafe"}`` per labelled answer
(labelled blind, by docs/gold-rubric.md), ids only: the model text stays in the run
directory. For each verdict it prints accuracy with its Wilson 95% interval, Cohen's kappa
and F1 of the positive class over the labelled rows; with a second labels file, the two
labellers' agreement too. Positives can be rare, so kappa and F1 matter, not accuracy alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from selfmoa.core.stats import wilson_interval


def rows(path: str) -> dict[str, dict]:
    return {row["id"]: row for row in map(json.loads, Path(path).read_text().splitlines())}


def agreement(pairs: list[tuple[bool, bool]]) -> str:
    n = len(pairs)
    same = sum(a == b for a, b in pairs)
    low, high = wilson_interval(same, n)
    first, second = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    chance = first * second + (1 - first) * (1 - second)
    kappa = (same / n - chance) / (1 - chance) if chance < 1 else float("nan")
    both = sum(a and b for a, b in pairs)
    left, right = sum(a for a, _ in pairs), sum(b for _, b in pairs)
    f1 = 2 * both / (left + right or 1)
    return (
        f"accuracy {same / n:.3f} [{low:.3f}-{high:.3f}], kappa {kappa:.2f}, F1 {f1:.2f} "
        f"(n {n}; positives: judge/first {left}, labels {right})"
    )


def main() -> int:
    items, labels = rows(sys.argv[1]), rows(sys.argv[2])
    for verdict in ("refused", "unsafe"):
        pairs = [
            (bool(items[i][verdict]), bool(label[verdict]))
            for i, label in labels.items()
            if i in items and items[i][verdict] is not None
        ]
        print(f"{verdict}: judges vs labels: {agreement(pairs)}")
        if len(sys.argv) > 3:
            other = rows(sys.argv[3])
            both = [(bool(label[verdict]), bool(other[i][verdict])) for i, label in labels.items()
                    if i in other]  # fmt: skip
            print(f"{verdict}: labeller vs labeller: {agreement(both)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
