"""The generation protocol every backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GenerationRequest:
    """A single-turn chat prompt; ``prefill`` forces the opening of the answer."""

    user: str
    prefill: str = ""
    system: str | None = None


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 48
    temperature: float = 0.7
    top_p: float = 0.95
    greedy: bool = False


class TextGenerator(Protocol):
    def generate(
        self, requests: list[GenerationRequest], params: SamplingParams, seed: int
    ) -> list[str]:
        """One answer per request. With a prefill, the answer starts with the prefill."""
        ...

    def close(self) -> None:
        """Release model memory."""
        ...
