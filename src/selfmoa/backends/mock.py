"""Scripted backend for unit tests of the loop logic: no model, deterministic answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.registry import generator_factory
from selfmoa.core.backend_settings import BackendSettingsBase

PREFILL_KEY = "after:"


class MockBackendSettings(BackendSettingsBase):
    kind: Literal["mock"] = Field("mock", description="Scripted answers, no model (tests).")
    mock_script: dict[str, str] = Field(
        default_factory=dict,
        description="Substring of the prompt -> scripted answer ('after:TEXT' matches "
        "answers whose forced opening contains TEXT, first).",
    )


class MockGenerator:
    """Answers with the first scripted reply whose key occurs in the prompt, else an echo.

    A key ``after:TEXT`` matches a prefilled answer whose prefill contains TEXT and is
    tried first, so a script can make a forced opening change the answer. Sampled
    (non-greedy) answers get a ``#seed`` suffix so that different seeds give different
    text, as a real sampler would.
    """

    def __init__(self, script: dict[str, str] | None = None) -> None:
        self.script = dict(script or {})
        self.calls = 0

    def generate(
        self, requests: list[GenerationRequest], params: SamplingParams, seed: int
    ) -> list[str]:
        self.calls += 1
        answers = []
        for index, request in enumerate(requests):
            after_prefill = [
                text
                for key, text in self.script.items()
                if key.startswith(PREFILL_KEY) and request.prefill
                if key.removeprefix(PREFILL_KEY) in request.prefill
            ]
            by_prompt = [
                text
                for key, text in self.script.items()
                if not key.startswith(PREFILL_KEY) and key in request.user
            ]
            reply = (after_prefill + by_prompt + [f"Answer about: {request.user}"])[0]
            if not params.greedy:
                reply = f"{reply} #{seed + index}"
            answers.append(request.prefill + (" " if request.prefill else "") + reply)
        return answers

    def close(self) -> None:
        pass


@generator_factory("mock", settings=MockBackendSettings)
def mock_generator(config: Any, model_key: str, adapter: Path | None) -> MockGenerator:
    """The same scripted generator for every model and adapter."""
    return MockGenerator(config.backend.mock_script)
