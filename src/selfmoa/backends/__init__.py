"""Text generation backends behind one protocol; ``make_generator`` picks one from config.

Each backend is one module that declares its generator factory and its settings class
together (``registry.generator_factory``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selfmoa.backends.base import GenerationRequest, SamplingParams, TextGenerator
from selfmoa.backends.registry import factory_for

__all__ = ["GenerationRequest", "SamplingParams", "TextGenerator", "make_generator"]


def make_generator(config: Any, model_key: str, adapter: Path | None = None) -> TextGenerator:
    """Backend for ``models.<model_key>`` (policy or attacker), with an optional adapter.

    ``config`` is the run's Config or a stage's view of it.
    """
    return factory_for(config.backend.kind)(config, model_key, adapter)
