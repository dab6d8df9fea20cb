"""The ``backend`` section of the config: one settings class per generation backend.

``backend.kind`` picks the class (a pydantic discriminated union), and each class holds
only the fields its backend reads, so a field given for another backend is a one-line
config error that names the field and the backend it belongs to. The generator that each
kind builds is declared in its own module under ``selfmoa/backends/`` (core never imports
plugins); ``tests/test_plugin_contract_backends.py`` checks that every kind here has one.

Adding a backend: a class below (``kind`` a one-value ``Literal``), an entry in
``BackendSettings`` and ``BACKEND_SETTINGS``, and a module in ``selfmoa/backends/`` that
declares its generator factory (docs/extending.md).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Field, field_validator

from selfmoa.core.section import Section

DEFAULT_KIND = "hf"
_ROUND_KEY = re.compile(r"^\d+$")


class BackendSettingsBase(Section):
    """What every backend has: its kind and how many prompts go out as one chunk."""

    # Fields that say where or how fast work runs, not what it computes: changing them
    # keeps finished stages (selfmoa.core.configview.EXECUTION_KEYS).
    execution_fields: ClassVar[frozenset[str]] = frozenset()

    kind: str
    batch_size: int = Field(
        32, ge=1, le=4096, description="Prompts generated together (one chunk)."
    )

    def fingerprint_dump(self) -> dict[str, Any]:
        """This backend's values over every other backend's defaults: the section as the
        one flat class before the split dumped it, so stage fingerprints stay the same."""
        values: dict[str, Any] = {}
        for settings_class in reversed(BACKEND_SETTINGS):
            values.update(_defaults(settings_class))
        values.update(self.model_dump(mode="json"))
        return values

    def served_judge_client(self) -> OpenAIBackendSettings:
        """How ``judge.served`` judges reach their server (when ``judge.server_url`` is
        empty, at ``base_url``): this backend's own settings where it is the openai one,
        the openai defaults otherwise, with any request settings it shares with them."""
        shared = {
            name: getattr(self, name)
            for name in OpenAIBackendSettings.model_fields
            if name != "kind" and name in type(self).model_fields
        }
        return OpenAIBackendSettings(**shared)


class HfBackendSettings(BackendSettingsBase):
    kind: Literal["hf"] = Field(
        "hf",
        description="Text generation backend: 'hf' (transformers, in process), 'llamacpp' "
        "(llama.cpp in process on an embedded model's GGUF, trained adapters converted), "
        "'openai' (an OpenAI-compatible server: vLLM, SGLang, TGI, llama.cpp), 'vllm' "
        "(vllm.LLM in process, needs the 'vllm' extra), 'mock' (tests). Each kind takes "
        "only its own backend.* keys.",
    )


class MockBackendSettings(BackendSettingsBase):
    kind: Literal["mock"] = Field("mock", description="Scripted answers, no model (tests).")
    mock_script: dict[str, str] = Field(
        default_factory=dict,
        description="Substring of the prompt -> scripted answer ('after:TEXT' matches "
        "answers whose forced opening contains TEXT, first).",
    )


class ServerRequestSettings(BackendSettingsBase):
    """Requests to a llama.cpp or OpenAI-compatible server: how many, how long, how often."""

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


class LlamaCppBackendSettings(ServerRequestSettings):
    kind: Literal["llamacpp"] = Field(
        "llamacpp",
        description="llama.cpp in this process on an embedded model's GGUF "
        "(backend.concurrency parallel sequences).",
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


# The classes in the order their kinds are listed; BackendSettings is the same set as the
# type of Config.backend (spelled out so type checkers see it).
BACKEND_SETTINGS: tuple[type[BackendSettingsBase], ...] = (
    HfBackendSettings,
    LlamaCppBackendSettings,
    MockBackendSettings,
    OpenAIBackendSettings,
    VllmBackendSettings,
)
BackendSettings = Annotated[
    Union[  # noqa: UP007 (a discriminated union needs the Union form inside Annotated)
        HfBackendSettings,
        LlamaCppBackendSettings,
        MockBackendSettings,
        OpenAIBackendSettings,
        VllmBackendSettings,
    ],
    Field(discriminator="kind"),
]


def kind_of(settings_class: type[BackendSettingsBase]) -> str:
    """The ``backend.kind`` value that selects ``settings_class``."""
    return str(settings_class.model_fields["kind"].default)


BACKEND_KINDS: dict[str, type[BackendSettingsBase]] = {
    kind_of(settings_class): settings_class for settings_class in BACKEND_SETTINGS
}
# Every key of the one flat class before the split: a run directory's config.yaml
# written then lists them all, whatever its kind.
_FLAT_KEYS = frozenset(name for cls in BACKEND_SETTINGS for name in cls.model_fields)


def backend_keys(execution: bool) -> frozenset[str]:
    """Dotted ``backend.*`` keys that say where work runs (``execution``) or what it computes."""
    return frozenset(
        f"backend.{name}"
        for settings_class in BACKEND_SETTINGS
        for name in settings_class.model_fields
        if (name in settings_class.execution_fields) == execution
    )


def owners_of(name: str) -> list[str]:
    """The kinds whose settings have a field ``name``."""
    return [kind for kind, cls in BACKEND_KINDS.items() if name in cls.model_fields]


def check_backend_section(data: Any) -> Any:
    """Config data with its ``backend`` mapping ready for the union: the kind defaults to
    'hf'; an unknown kind, or a key of another backend, is a ``ValueError`` whose text is
    the one-line config error. A pre-split run's config.yaml (every flat key) keeps only
    its kind's keys."""
    if not isinstance(data, dict) or not isinstance(data.get("backend"), dict):
        return data
    backend = {"kind": DEFAULT_KIND, **data["backend"]}
    kind = backend["kind"]
    if not isinstance(kind, str) or kind not in BACKEND_KINDS:
        shown = repr(kind) if len(repr(kind)) <= 80 else f"{repr(kind)[:80]}..."
        raise ValueError(f"backend.kind: must be one of {', '.join(BACKEND_KINDS)} (got {shown})")
    own = BACKEND_KINDS[kind].model_fields
    if set(backend) == _FLAT_KEYS:
        backend = {name: value for name, value in backend.items() if name in own}
    for name in backend:
        owners = owners_of(str(name))
        if name not in own and owners:
            raise ValueError(
                f"backend.{name} is a setting of backend.kind {' or '.join(owners)}, "
                f"not of backend.kind {kind}"
            )
    return {**data, "backend": backend}


def untagged_location(location: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """A validation error's location without the union's tag: ('backend', 'openai',
    'base_url') -> ('backend', 'base_url')."""
    if len(location) > 1 and location[0] == "backend" and location[1] in BACKEND_KINDS:
        return (location[0], *location[2:])
    return location


def _defaults(settings_class: type[BackendSettingsBase]) -> dict[str, Any]:
    return settings_class().model_dump(mode="json")
