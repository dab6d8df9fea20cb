"""What the vLLM backend hands to vLLM, built as plain data (tested without vLLM).

Prompts go as token ids with the chat template applied by our tokenizer (as the
OpenAI backend does), so prefills work and nothing is tokenised twice. Each request
gets its own seed (``SamplingParams(seed=...)``), so answers do not depend on how
vLLM batches them. A round's adapter becomes a ``LoRARequest(name, id, path)``;
vLLM caches adapters by id, so the id is fixed per round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.openai_payload import sampling_fields
from selfmoa.backends.seeds import request_seed
from selfmoa.backends.served import adapter_round
from selfmoa.core.rundir import round_name


@dataclass(frozen=True)
class LoraSpec:
    """Arguments of ``vllm.lora.request.LoRARequest``."""

    name: str
    int_id: int
    path: str


def engine_kwargs(
    model_path: str,
    *,
    dtype: str,
    tensor_parallel_size: int,
    gpu_memory_utilization: float,
    max_lora_rank: int,
    with_lora: bool,
    seed: int,
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM``."""
    kwargs: dict[str, Any] = {
        "model": model_path,
        "dtype": dtype,
        "tensor_parallel_size": tensor_parallel_size,
        "gpu_memory_utilization": gpu_memory_utilization,
        "seed": seed,
    }
    if with_lora:
        kwargs.update(enable_lora=True, max_lora_rank=max_lora_rank, max_loras=1)
    return kwargs


def request_sampling(count: int, params: SamplingParams, chunk_seed: int) -> list[dict[str, Any]]:
    return [sampling_fields(params, request_seed(chunk_seed, i)) for i in range(count)]


def token_prompts(tokenizer: Any, requests: list[GenerationRequest]) -> list[dict[str, Any]]:
    """``TokensPrompt`` dicts: the chat template (and prefill) applied, as token ids."""
    from selfmoa.backends.hf import chat_prompt

    return [
        {
            "prompt_token_ids": tokenizer(chat_prompt(tokenizer, r), add_special_tokens=False)[
                "input_ids"
            ]
        }
        for r in requests
    ]


def lora_spec(adapter: Path | None) -> LoraSpec | None:
    if adapter is None:
        return None
    r = adapter_round(adapter)
    return LoraSpec(name=round_name(r), int_id=r + 1, path=str(adapter))
