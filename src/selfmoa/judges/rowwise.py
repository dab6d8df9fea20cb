"""One bad row stays that row's error: a failed batch is retried one row at a time.

A model-backed judge scores its items in batches. When a batched call raises (a row the
tokenizer refuses, an out-of-memory on one huge row), ``verdicts_by_row`` scores each
row of that batch alone, so only the rows that fail alone get an error and their
neighbours get the scores they get without them. Nothing is ever guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from selfmoa.judges.base import Verdict
from selfmoa.judges.text import first_line

T = TypeVar("T")


def verdicts_by_row(
    score: Callable[[list[T]], list[Verdict]], rows: Sequence[T], failed: str = ""
) -> list[Verdict]:
    """``score(rows)``; if it raises, ``score([row])`` for each row. A row that fails alone
    gets ``Verdict(error="<failed>: <Type>: <message>")`` (no prefix when ``failed`` is
    empty). A batch that returns the wrong number of verdicts raises RuntimeError."""
    rows = list(rows)
    if not rows:
        return []
    try:
        verdicts = score(rows)
    except Exception as error:  # record, never guess; then find the row(s) at fault
        if len(rows) == 1:
            prefix = f"{failed}: " if failed else ""
            return [Verdict(error=prefix + first_line(error))]
    else:
        if len(verdicts) != len(rows):
            raise RuntimeError(f"returned {len(verdicts)} verdicts for {len(rows)} items")
        return verdicts
    return [verdicts_by_row(score, [row], failed)[0] for row in rows]
