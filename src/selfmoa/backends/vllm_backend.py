"""vLLM backend for GPU users: ``vllm.LLM`` in process, tensor parallel, LoRA per round.

vLLM is imported only when this backend is built; without it the run stops with one
line naming the extra to install. The request building (token prompts, per-request
seeds, the LoRA request) lives in ``vllm_requests`` as plain data and is unit-tested
without vLLM.
"""

from __future__ import annotations

import gc
import importlib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.registry import generator_factory
from selfmoa.backends.vllm_requests import (
    engine_kwargs,
    lora_spec,
    request_sampling,
    token_prompts,
)
from selfmoa.core.backend_settings import BackendSettingsBase
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import resolve_model

INSTALL_HINT = "pip install 'selfmoa[vllm]'"


def import_vllm() -> Any:
    try:
        return importlib.import_module("vllm")
    except ImportError:
        raise SelfMoaError(
            f"backend.kind=vllm needs vLLM, which is not installed; run: {INSTALL_HINT}"
        ) from None


class VllmBackendSettings(BackendSettingsBase):
    execution_fields: ClassVar[frozenset[str]] = frozenset(
        {"tensor_parallel_size", "gpu_memory_utilization", "max_lora_rank"}
    )

    kind: Literal["vllm"] = Field(
        "vllm", description="vllm.LLM in this process (needs the 'vllm' extra)."
    )
    tensor_parallel_size: int = Field(1, ge=1, le=64, description="GPUs one model is split over.")
    gpu_memory_utilization: float = Field(
        0.85, gt=0, le=1, description="Share of GPU memory vLLM may take."
    )
    max_lora_rank: int = Field(
        64, ge=1, le=1024, description="Largest LoRA rank vLLM reserves room for."
    )


class VLLMGenerator:
    """Generates with ``vllm.LLM``; ``adapter`` (a PEFT folder) is served as a LoRARequest."""

    def __init__(
        self,
        model_path: str,
        *,
        dtype: str = "bfloat16",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_lora_rank: int = 64,
        adapter: Path | None = None,
        seed: int = 0,
    ) -> None:
        from selfmoa.backends.hf import load_tokenizer

        self.vllm = import_vllm()
        self.tokenizer = load_tokenizer(model_path)
        self.lora = lora_spec(adapter)
        self.llm = self.vllm.LLM(
            **engine_kwargs(
                model_path,
                dtype=dtype,
                tensor_parallel_size=tensor_parallel_size,
                gpu_memory_utilization=gpu_memory_utilization,
                max_lora_rank=max_lora_rank,
                with_lora=self.lora is not None,
                seed=seed,
            )
        )

    def _lora_request(self) -> Any:
        if self.lora is None:
            return None
        from vllm.lora.request import LoRARequest

        return LoRARequest(self.lora.name, self.lora.int_id, self.lora.path)

    def generate(
        self, requests: list[GenerationRequest], params: SamplingParams, seed: int
    ) -> list[str]:
        sampling = [
            self.vllm.SamplingParams(**kwargs)
            for kwargs in request_sampling(len(requests), params, seed)
        ]
        outputs = self.llm.generate(
            token_prompts(self.tokenizer, requests),
            sampling,
            lora_request=self._lora_request(),
            use_tqdm=False,
        )
        return [r.prefill + o.outputs[0].text for r, o in zip(requests, outputs, strict=True)]

    def close(self) -> None:
        del self.llm
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


@generator_factory("vllm", settings=VllmBackendSettings)
def vllm_generator(config: Any, model_key: str, adapter: Path | None) -> VLLMGenerator:
    """vllm.LLM in this process on ``models.<model_key>``, ``adapter`` as a LoRARequest."""
    backend = config.backend
    return VLLMGenerator(
        resolve_model(getattr(config.models, model_key), f"models.{model_key}"),
        dtype=config.models.dtype,
        tensor_parallel_size=backend.tensor_parallel_size,
        gpu_memory_utilization=backend.gpu_memory_utilization,
        max_lora_rank=backend.max_lora_rank,
        adapter=adapter,
        seed=config.seed,
    )
