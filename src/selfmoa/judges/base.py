"""The judge protocol and the per-response input it sees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from selfmoa.records import Label


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
    measure: str  # "refusal" | "prompt_harmful" | "helpfulness"

    def judge(self, items: list[JudgeInput]) -> list[Verdict]: ...
