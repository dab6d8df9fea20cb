"""OpenAI-compatible HTTP backend: vLLM, SGLang, TGI or llama.cpp servers.

Requests of a chunk go out in parallel (``backend.concurrency`` threads, stdlib
urllib), each with its own seed (``seeds.request_seed``) so the answers do not
depend on arrival order; timeouts and retries are in ``http_json``. With the
``completions`` endpoint the chat template is applied here with the policy's own
tokenizer and the prompt is sent as token ids; with ``chat`` the server applies it.
The API key comes from the environment variable named by ``backend.api_key_env``
and lives only in this object's memory: it is never logged or written.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from selfmoa.backends.base import GenerationRequest, SamplingParams, TextGenerator
from selfmoa.backends.http_json import post_json
from selfmoa.backends.openai_payload import (
    chat_payload,
    chat_text,
    completion_payload,
    completion_text,
)
from selfmoa.backends.registry import factory_for, generator_factory
from selfmoa.backends.seeds import request_seed
from selfmoa.backends.served import ServedTarget, served_adapter_name, served_target
from selfmoa.core.backend_settings import BackendSettingsBase
from selfmoa.core.errors import SelfMoaError

_ROUND_KEY = re.compile(r"^\d+$")


class ServerRequestSettings(BackendSettingsBase):
    """Requests to a llama.cpp or OpenAI-compatible server: how many, how long, how often.
    Shared by the ``openai`` and ``llamacpp`` backends."""

    execution_fields: ClassVar[frozenset[str]] = frozenset(
        {"concurrency", "timeout_s", "max_retries"}
    )

    concurrency: int = Field(
        4,
        ge=1,
        le=1024,
        description="openai: requests in flight at once; llamacpp: parallel sequences (1 "
        "repeats exactly; more are faster, but a near-tie token can then differ between runs).",
    )
    timeout_s: float = Field(120.0, gt=0, le=86400, description="Seconds per request.")
    max_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="Retries of a failed request (connection error, timeout, HTTP 429/5xx), "
        "with exponential backoff from 0.5 s.",
    )


class OpenAIBackendSettings(ServerRequestSettings):
    execution_fields: ClassVar[frozenset[str]] = ServerRequestSettings.execution_fields | {
        "base_url",
        "api_key_env",
    }

    kind: Literal["openai"] = Field(
        "openai", description="An OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp)."
    )
    base_url: str = Field(
        "http://127.0.0.1:8080/v1",
        description="The server's base URL, up to and including '/v1'.",
    )
    endpoint: Literal["completions", "chat"] = Field(
        "completions",
        description="'completions' applies the model's chat template here and sends token "
        "ids (prefilled answers work everywhere); 'chat' lets the server apply its template "
        "(prefill then needs the server's continue_final_message option).",
    )
    api_key_env: str = Field(
        "",
        description="NAME of the environment variable holding the API key ('' = no key). "
        "The key itself is never written to the run directory.",
    )
    served_models: dict[str, str] = Field(
        default_factory=dict,
        description="Model spec (the value of models.policy / models.attacker) -> the name "
        "the server serves it under; unlisted specs are sent as written.",
    )
    lora_names: dict[str, str] = Field(
        default_factory=dict,
        description="Round number -> the served name of the LoRA adapter that round trained "
        "(vLLM --lora-modules NAME=runs/<name>/round_NN/train/adapter), or 'lora-id:N' for "
        "llama.cpp's Nth --lora adapter.",
    )
    unserved_adapter: Literal["error", "hf"] = Field(
        "error",
        description="When a round's adapter has no entry in lora_names, stop with an error, "
        "or generate with that adapter locally ('hf').",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("lora_names", mode="before")
    @classmethod
    def _round_keys(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for key, name in value.items():
            if not _ROUND_KEY.match(str(key)):
                raise ValueError(f"key '{key}' is not a round number (0, 1, ...)")
            if not isinstance(name, str) or not name:
                raise ValueError(f"round {key} needs a served name (a non-empty string)")
        return {str(int(k)): v for k, v in value.items()}


def served_judge_client(backend: Any) -> OpenAIBackendSettings:
    """How ``judge.served`` judges reach their server (when ``judge.server_url`` is empty,
    at ``base_url``): the openai defaults, with whichever of the openai settings that say
    where and how requests go (its ``execution_fields``) ``backend`` has. ``backend`` is the
    config's section or a stage's view of it; execution keys are readable from any stage."""
    shared = {
        name: value
        for name in sorted(OpenAIBackendSettings.execution_fields)
        if (value := getattr(backend, name, None)) is not None
    }
    return OpenAIBackendSettings(**shared)


def api_key_from_env(variable: str) -> str | None:
    """The key in ``$variable``; None when no variable is configured."""
    if not variable:
        return None
    key = os.environ.get(variable, "")
    if not key:
        raise SelfMoaError(
            f"backend.api_key_env names the environment variable {variable}, which is not set"
        )
    return key


class OpenAIGenerator:
    """Answers through ``base_url``'s /completions or /chat/completions endpoint."""

    def __init__(
        self,
        *,
        base_url: str,
        target: ServedTarget,
        endpoint: str = "completions",
        tokenizer: Any = None,
        api_key: str | None = None,
        concurrency: int = 4,
        timeout_s: float = 120.0,
        max_retries: int = 3,
    ) -> None:
        if endpoint == "completions" and tokenizer is None:
            raise SelfMoaError("the completions endpoint needs the model's tokenizer")
        self.base_url = base_url.rstrip("/")
        self.target = target
        self.endpoint = endpoint
        self.tokenizer = tokenizer
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="openai")

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIGenerator({self.base_url!r}, {self.target.model!r}, {self.endpoint})"

    def _payloads(
        self, requests: list[GenerationRequest], params: SamplingParams, seed: int
    ) -> list[dict[str, Any]]:
        from selfmoa.backends.hf import chat_prompt

        payloads = []
        for index, request in enumerate(requests):
            own_seed = request_seed(seed, index)
            if self.endpoint == "completions":
                text = chat_prompt(self.tokenizer, request)
                ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
                payloads.append(completion_payload(self.target, ids, params, own_seed))
            else:
                payloads.append(
                    chat_payload(
                        self.target, request, params, own_seed, continue_final_message=True
                    )
                )
        return payloads

    def _post(self, payload: dict[str, Any]) -> Any:
        path = "/completions" if self.endpoint == "completions" else "/chat/completions"
        try:
            return post_json(
                self.base_url + path,
                payload,
                api_key=self._api_key,
                timeout_s=self.timeout_s,
                max_retries=self.max_retries,
            )
        except SelfMoaError as error:
            if payload.get("continue_final_message"):
                raise SelfMoaError(
                    f"{error}; a prefilled answer needs backend.endpoint=completions where the "
                    "server's chat endpoint has no continue_final_message option"
                ) from None
            raise

    def generate(
        self, requests: list[GenerationRequest], params: SamplingParams, seed: int
    ) -> list[str]:
        payloads = self._payloads(requests, params, seed)
        replies = list(self.pool.map(self._post, payloads))
        if self.endpoint == "completions":
            return [r.prefill + completion_text(b) for r, b in zip(requests, replies, strict=True)]
        return [chat_text(b, r.prefill) for r, b in zip(requests, replies, strict=True)]

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def openai_generator(config: Any, model_key: str, adapter: Path | None) -> OpenAIGenerator | None:
    """The generator for ``models.<model_key>`` (with ``adapter``), or None when the
    adapter has no served name and ``backend.unserved_adapter`` is 'hf'."""
    backend = config.backend
    spec = getattr(config.models, model_key)
    adapter_name = served_adapter_name(backend.lora_names, adapter)
    if adapter is not None and adapter_name is None:
        if backend.unserved_adapter == "hf":
            return None
        raise SelfMoaError(
            f"backend.lora_names has no served name for the adapter {adapter}; serve it "
            "and name it there, or set backend.unserved_adapter=hf to generate locally"
        )
    tokenizer = None
    if backend.endpoint == "completions":
        from selfmoa.backends.hf import load_tokenizer
        from selfmoa.core.modelpath import resolve_model

        tokenizer = load_tokenizer(resolve_model(spec, f"models.{model_key}"))
    return OpenAIGenerator(
        base_url=backend.base_url,
        target=served_target(spec, backend.served_models, adapter_name),
        endpoint=backend.endpoint,
        tokenizer=tokenizer,
        api_key=api_key_from_env(backend.api_key_env),
        concurrency=backend.concurrency,
        timeout_s=backend.timeout_s,
        max_retries=backend.max_retries,
    )


@generator_factory("openai", settings=OpenAIBackendSettings)
def openai_backend(config: Any, model_key: str, adapter: Path | None) -> TextGenerator:
    """The served model, or transformers here for an adapter the server does not serve
    (``backend.unserved_adapter: hf``)."""
    served = openai_generator(config, model_key, adapter)
    return served if served is not None else factory_for("hf")(config, model_key, adapter)
