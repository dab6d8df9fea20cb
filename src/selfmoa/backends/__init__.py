"""Text generation backends behind one protocol; ``make_generator`` picks one from config."""

from __future__ import annotations

from pathlib import Path

from selfmoa.backends.base import GenerationRequest, SamplingParams, TextGenerator
from selfmoa.config import Config
from selfmoa.modelpath import resolve_model

__all__ = ["GenerationRequest", "SamplingParams", "TextGenerator", "make_generator"]


def make_generator(config: Config, model_key: str, adapter: Path | None = None) -> TextGenerator:
    """Backend for ``models.<model_key>`` (policy or attacker), with an optional adapter."""
    if config.backend.kind == "mock":
        from selfmoa.backends.mock import MockGenerator

        return MockGenerator(config.backend.mock_script)
    from selfmoa.backends.hf import HFGenerator

    spec = getattr(config.models, model_key)
    return HFGenerator(
        resolve_model(spec, f"models.{model_key}"),
        dtype=config.models.dtype,
        device=config.models.device,
        batch_size=config.backend.batch_size,
        adapter=adapter,
    )
