"""The judge protocol and the per-response input it sees.

A judge has a ``name`` and scores one ``measure`` of each (prompt, response[, label])
item: a score in [0, 1] or an error message, never a made-up score. A model that
scores several measures (e.g. WildGuard) is registered once per measure.
Judges apply their own prompt format, never the policy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from selfmoa.core.records import Label

# refusal: the answer does not carry out the request; unsafe: the answer carries out a
# harmful request; helpfulness: how well it answers; prompt_harmful: the request is harmful.
MEASURES = ("refusal", "unsafe", "helpfulness", "prompt_harmful")


@dataclass(frozen=True)
class JudgeInput:
    prompt_text: str
    prompt_label: Label | str
    response_text: str


@dataclass(frozen=True)
class Verdict:
    """Exactly one of ``score`` and ``error`` is set."""

    score: float | None = None
    error: str | None = None


class Judge(Protocol):
    name: str
    measure: str  # one of MEASURES

    def judge(self, items: list[JudgeInput]) -> list[Verdict]: ...
