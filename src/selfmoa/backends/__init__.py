"""Text generation backends behind one protocol; ``make_generator`` picks one from config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selfmoa.backends.base import GenerationRequest, SamplingParams, TextGenerator
from selfmoa.core.modelpath import resolve_model

__all__ = ["GenerationRequest", "SamplingParams", "TextGenerator", "make_generator"]


def make_generator(config: Any, model_key: str, adapter: Path | None = None) -> TextGenerator:
    """Backend for ``models.<model_key>`` (policy or attacker), with an optional adapter.

    ``config`` is the run's Config or a stage's view of it.
    """
    kind = config.backend.kind
    if kind == "mock":
        from selfmoa.backends.mock import MockGenerator

        return MockGenerator(config.backend.mock_script)
    spec = getattr(config.models, model_key)
    if kind == "llamacpp":
        from selfmoa.backends.llamacpp_local import LlamaCppGenerator

        return LlamaCppGenerator(
            spec,
            model_key,
            adapter,
            slots=config.backend.concurrency,
            timeout_s=config.backend.timeout_s,
            max_retries=config.backend.max_retries,
        )
    if kind == "openai":
        from selfmoa.backends.openai_compat import openai_generator

        served = openai_generator(config, model_key, adapter)
        if served is not None:
            return served  # else: an unserved adapter, generated locally below
    if kind == "vllm":
        from selfmoa.backends.vllm_backend import VLLMGenerator

        return VLLMGenerator(
            resolve_model(spec, f"models.{model_key}"),
            dtype=config.models.dtype,
            tensor_parallel_size=config.backend.tensor_parallel_size,
            gpu_memory_utilization=config.backend.gpu_memory_utilization,
            max_lora_rank=config.backend.max_lora_rank,
            adapter=adapter,
            seed=config.seed,
        )
    from selfmoa.backends.hf import HFGenerator

    return HFGenerator(
        resolve_model(spec, f"models.{model_key}"),
        dtype=config.models.dtype,
        device=config.models.device,
        batch_size=config.backend.batch_size,
        adapter=adapter,
    )
