"""The ``llamacpp`` backend: an embedded model served by llama.cpp inside this process.

Each generation stage starts a llama.cpp server (``LlamaCppServer``, loopback only) on
the model's own GGUF file, the same quantised weights the ``hf`` backend dequantises to
float32, and talks to it with the OpenAI-compatible client: ``completions`` endpoint,
chat template applied here with the model's tokenizer, one seed per request. A round's
trained policy is served too: its PEFT adapter is converted once to a llama.cpp LoRA
(``lora_gguf.convert_adapter``, cached by content under the selfmoa cache folder) and
every request turns it on. The server stops when the stage's generator is closed.

Only models with a GGUF file are served this way: the embedded SmolLM2 and Qwen
models. For any other model, start a llama.cpp (or vLLM) server and use
``backend.kind=openai``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.llamacpp_server import LlamaCppServer, embedded_gguf
from selfmoa.backends.lora_gguf import convert_adapter
from selfmoa.backends.openai_compat import OpenAIGenerator
from selfmoa.backends.registry import generator_factory
from selfmoa.backends.served import ServedTarget
from selfmoa.core.embedded import cache_dir
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import resolve_model
from selfmoa.core.split_gguf import SPLIT_MODELS, joined_gguf

CONTEXT_PER_SLOT = 2048


def model_gguf(spec: str) -> Path:
    """The GGUF file llama.cpp serves for the model ``spec``."""
    name = spec.removeprefix("embedded:")
    if spec.startswith("embedded:") and name == "smollm2-135m-instruct":
        return embedded_gguf()
    if spec.startswith("embedded:") and name in SPLIT_MODELS:
        return joined_gguf(SPLIT_MODELS[name], cache_dir() / "gguf")
    raise SelfMoaError(
        f"backend.kind=llamacpp serves the embedded models from their GGUF files, not {spec}; "
        "start a llama.cpp or vLLM server for it and use backend.kind=openai, or use "
        "backend.kind=hf"
    )


def adapter_digest(adapter: Path, base_model_dir: Path) -> str:
    """What the converted adapter depends on: its weights, its config, the base's config."""
    digest = hashlib.sha256()
    for path in (
        adapter / "adapter_model.safetensors",
        adapter / "adapter_config.json",
        base_model_dir / "config.json",
    ):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def served_adapter(adapter: Path, base_model_dir: Path) -> Path:
    """``adapter`` as a llama.cpp LoRA GGUF, converted once into the cache."""
    target = cache_dir() / "lora-gguf" / f"{adapter_digest(adapter, base_model_dir)}.gguf"
    if not target.is_file():
        convert_adapter(adapter, base_model_dir, target)
    return target


class LlamaCppGenerator:
    """Generates with llama.cpp serving ``spec`` (and ``adapter``) on ``slots`` sequences."""

    def __init__(
        self,
        spec: str,
        model_key: str,
        adapter: Path | None,
        *,
        slots: int,
        timeout_s: float,
        max_retries: int,
    ) -> None:
        from selfmoa.backends.hf import load_tokenizer

        gguf = model_gguf(spec)
        base_dir = Path(resolve_model(spec, f"models.{model_key}"))
        loras = [served_adapter(adapter, base_dir)] if adapter is not None else []
        if loras:
            # Measured: with a LoRA loaded, llama.cpp's answers depend on which sequences
            # share a batch (11-14 of 16 equal between two identical runs at 4 slots, with
            # 1 or 2 threads, F32 or F16 adapter); one sequence at a time they repeat
            # exactly, as the base model's do at any number of slots.
            slots = 1
        self.server = LlamaCppServer(
            gguf,
            slots=slots,
            context_per_slot=CONTEXT_PER_SLOT,
            threads=os.cpu_count() or 2,
            lora_adapters=loras,
            lora_scale=1.0,
        )
        target = ServedTarget(spec)  # the adapter, if any, is on for the whole server
        self.client = OpenAIGenerator(
            base_url=self.server.base_url,
            target=target,
            endpoint="completions",
            tokenizer=load_tokenizer(str(base_dir)),
            concurrency=slots,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )

    def generate(
        self, requests: list[GenerationRequest], params: SamplingParams, seed: int
    ) -> list[str]:
        return self.client.generate(requests, params, seed)

    def close(self) -> None:
        self.client.close()
        self.server.close()


@generator_factory("llamacpp")
def llamacpp_generator(config: Any, model_key: str, adapter: Path | None) -> LlamaCppGenerator:
    """A llama.cpp server in this process on ``models.<model_key>``'s GGUF, with ``adapter``."""
    backend = config.backend
    return LlamaCppGenerator(
        getattr(config.models, model_key),
        model_key,
        adapter,
        slots=backend.concurrency,
        timeout_s=backend.timeout_s,
        max_retries=backend.max_retries,
    )
