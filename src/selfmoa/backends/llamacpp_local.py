"""The ``llamacpp`` backend: an embedded model served by llama.cpp inside this process.

Each generation stage starts a llama.cpp server (``LlamaCppServer``, loopback only) on
the model's own GGUF file, the same quantised weights the ``hf`` backend dequantises to
float32, and talks to it with the OpenAI-compatible client: ``completions`` endpoint,
chat template applied here with the model's tokenizer, one seed per request. A round's
trained policy is served too: its PEFT adapter is merged once into a copy of the GGUF
(``merged_gguf.merge_adapter``, cached by content under the selfmoa cache folder, the
``MERGED_KEPT`` newest kept), which llama.cpp serves like any model, on
``backend.concurrency`` slots. The server stops when the stage's generator is closed.

Only models with a GGUF file are served this way: the embedded SmolLM2 and Qwen
models. For any other model, start a llama.cpp (or vLLM) server and use
``backend.kind=openai``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.llamacpp_server import LlamaCppServer, embedded_gguf
from selfmoa.backends.merged_gguf import merge_adapter
from selfmoa.backends.openai_compat import OpenAIGenerator, ServerRequestSettings
from selfmoa.backends.registry import generator_factory
from selfmoa.backends.served import ServedTarget
from selfmoa.core.embedded import cache_dir
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import resolve_model
from selfmoa.core.split_gguf import SPLIT_MODELS, joined_gguf

CONTEXT_PER_SLOT = 2048
# Merged policies kept in the cache: each is as large as its model (0.6 GB for the 0.5B),
# and a round's adapter is read by its evaluation and the next round's sampling.
MERGED_KEPT = 3


class LlamaCppBackendSettings(ServerRequestSettings):
    kind: Literal["llamacpp"] = Field(
        "llamacpp",
        description="llama.cpp in this process on an embedded model's GGUF "
        "(backend.concurrency parallel sequences).",
    )


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


def adapter_digest(adapter: Path, base_model_dir: Path, base_gguf: Path) -> str:
    """What the merged model depends on: the adapter's weights and config, the base's
    config, and which GGUF (name and size) it is merged into."""
    digest = hashlib.sha256()
    for path in (
        adapter / "adapter_model.safetensors",
        adapter / "adapter_config.json",
        base_model_dir / "config.json",
    ):
        digest.update(path.read_bytes())
    digest.update(f"{base_gguf.name}:{base_gguf.stat().st_size}".encode())
    return digest.hexdigest()[:24]


def served_model(spec: str, adapter: Path | None, base_model_dir: Path) -> Path:
    """The GGUF llama.cpp serves: the model's own, or with ``adapter`` merged into it
    (merged once per content into the cache; older merged models beyond ``MERGED_KEPT``
    are deleted)."""
    base_gguf = model_gguf(spec)
    if adapter is None:
        return base_gguf
    folder = cache_dir() / "merged-gguf"
    target = folder / f"{adapter_digest(adapter, base_model_dir, base_gguf)}.gguf"
    if target.is_file():
        target.touch()  # recently used: kept by the pruning below
        return target
    merge_adapter(base_gguf, adapter, base_model_dir, target)
    merged = sorted(folder.glob("*.gguf"), key=lambda path: path.stat().st_mtime, reverse=True)
    for old in merged[MERGED_KEPT:]:
        old.unlink(missing_ok=True)
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

        base_dir = Path(resolve_model(spec, f"models.{model_key}"))
        # An adapter is merged into the weights rather than loaded as a llama.cpp LoRA: with
        # a LoRA loaded, answers changed between identical small runs at 4 slots, so it was
        # served one sequence at a time; merged, it is served like the base model (exact
        # repeats on one slot, near-tie differences on several: docs/backends.md).
        self.server = LlamaCppServer(
            served_model(spec, adapter, base_dir),
            slots=slots,
            context_per_slot=CONTEXT_PER_SLOT,
            threads=os.cpu_count() or 2,
        )
        target = ServedTarget(spec)  # the adapter, if any, is in the served weights
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


@generator_factory("llamacpp", settings=LlamaCppBackendSettings)
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
