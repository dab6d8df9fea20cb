"""Contract test over every generation backend: a settings class and a generator factory.

A backend is one module in ``selfmoa/backends/`` that declares its generator factory and
its settings class together (``@generator_factory(kind, settings=...)``); both are picked
up here with no edit but the kind's defaults in ``DEFAULTS``.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest

from selfmoa.backends import GenerationRequest, SamplingParams, make_generator
from selfmoa.backends.openai_compat import OpenAIBackendSettings, served_judge_client
from selfmoa.backends.registry import factory_for, generator_factories, generator_factory
from selfmoa.core.backend_settings import BackendSettingsBase, backend_keys, declared_backends
from selfmoa.core.config import Config, config_from_dict, load_config
from selfmoa.core.configview import ConfigView, execution_keys
from selfmoa.core.errors import SelfMoaError
from selfmoa.pipeline.stage_table import STAGE_TABLE

# What `backend: {kind: K}` alone gives: each kind's own fields at their defaults.
DEFAULTS: dict[str, dict[str, Any]] = {
    "hf": {"kind": "hf", "batch_size": 32, "generation_dtype": None, "sampler": "transformers"},
    "llamacpp": {
        "kind": "llamacpp", "batch_size": 32, "concurrency": 4, "timeout_s": 120.0,
        "max_retries": 3,
    },
    "mock": {"kind": "mock", "batch_size": 32, "mock_script": {}},
    "openai": {
        "kind": "openai", "batch_size": 32, "concurrency": 4, "timeout_s": 120.0,
        "max_retries": 3, "base_url": "http://127.0.0.1:8080/v1", "endpoint": "completions",
        "api_key_env": "", "served_models": {}, "lora_names": {}, "unserved_adapter": "error",
    },
    "vllm": {
        "kind": "vllm", "batch_size": 32, "tensor_parallel_size": 1,
        "gpu_memory_utilization": 0.85, "max_lora_rank": 64,
    },
}  # fmt: skip


def test_every_kind_has_a_settings_class_and_a_generator_factory():
    factories = generator_factories()
    kinds = declared_backends()
    assert sorted(factories) == sorted(kinds), "a factory per kind, a kind per factory"
    assert sorted(DEFAULTS) == sorted(kinds), "a new kind lists its defaults above"
    assert all(callable(factory) for factory in factories.values())


def test_the_settings_class_must_name_the_kind_it_is_declared_for():
    with pytest.raises(ValueError, match="say kind 'openai'"):
        generator_factory("tgi", settings=OpenAIBackendSettings)


@pytest.mark.parametrize("kind", sorted(DEFAULTS))
def test_settings_class_contract(kind):
    settings_class = declared_backends()[kind]
    assert issubclass(settings_class, BackendSettingsBase)
    kinds = get_args(settings_class.model_fields["kind"].annotation)
    assert kinds == (kind,), "kind: one Literal, the kind it is declared for"
    assert settings_class.execution_fields <= set(settings_class.model_fields)
    for name, field in settings_class.model_fields.items():
        assert field.description, f"{settings_class.__name__}.{name} needs its help text"
    assert settings_class().kind == kinds[0], "every field has a default"


@pytest.mark.parametrize("kind", sorted(DEFAULTS))
def test_each_kind_has_its_own_fields_at_their_defaults(kind):
    config = load_config(None, [f"backend.kind={kind}"])
    assert isinstance(config.backend, declared_backends()[kind])
    assert config.backend.model_dump(mode="json") == DEFAULTS[kind]


def test_the_default_backend_is_hf_and_kind_may_be_left_out():
    assert Config().backend.model_dump() == DEFAULTS["hf"]
    assert config_from_dict({"backend": {"batch_size": 4}}).backend.kind == "hf"


def test_every_backend_key_is_fingerprinted_or_only_says_where_work_runs():
    declared = frozenset().union(*(spec.reads_config for spec in STAGE_TABLE))
    assert backend_keys(execution=False) <= declared, "what generation computes"
    assert backend_keys(execution=True) == {k for k in execution_keys() if "backend." in k}


def test_a_key_of_another_backend_is_a_one_line_error_naming_key_and_backend():
    with pytest.raises(SelfMoaError) as caught:
        load_config(None, ["backend.kind=vllm", "backend.base_url=http://h:1/v1"])
    assert str(caught.value) == (
        "config error: backend.base_url is a setting of backend.kind openai, "
        "not of backend.kind vllm"
    )
    with pytest.raises(SelfMoaError, match="backend.concurrency is a setting of backend.kind "):
        config_from_dict({"backend": {"concurrency": 2}})  # hf when kind is left out


def test_an_unknown_kind_is_a_one_line_error():
    with pytest.raises(SelfMoaError) as caught:
        load_config(None, ["backend.kind=tgi"])
    message = str(caught.value)
    assert "\n" not in message and "backend.kind" in message and "'tgi'" in message
    with pytest.raises(SelfMoaError, match=r"^config error: backend.kind=tgi has no generator"):
        factory_for("tgi")


def test_errors_inside_a_backend_name_the_key_without_the_union_tag():
    with pytest.raises(SelfMoaError, match=r"^config error: backend.timeout_s: .*\(got -1\)$"):
        load_config(None, ["backend.kind=openai", "backend.timeout_s=-1"])
    with pytest.raises(SelfMoaError, match=r"^config error: unknown key 'backend.nosuch'$"):
        load_config(None, ["backend.kind=mock", "backend.nosuch=1"])


def test_command_line_overrides_switch_the_kind_and_set_its_fields():
    config = load_config(
        None, ["backend.kind=openai", "backend.base_url=http://server:8000/v1/"], {"name": "x"}
    )
    assert isinstance(config.backend, OpenAIBackendSettings)
    assert config.backend.base_url == "http://server:8000/v1"


def test_a_run_directory_written_before_the_split_still_loads():
    flat = {name: value for kind in DEFAULTS.values() for name, value in kind.items()}
    config = config_from_dict({"backend": {**flat, "kind": "mock", "mock_script": {"a": "b"}}})
    assert config.backend.model_dump() == {**DEFAULTS["mock"], "mock_script": {"a": "b"}}


def test_fingerprints_see_the_flat_section_of_before_the_split():
    flat = {name: value for kind in DEFAULTS.values() for name, value in kind.items()}
    assert Config().backend.fingerprint_dump() == {**flat, "kind": "hf"}
    served = load_config(None, ["backend.kind=mock"]).backend.fingerprint_dump()
    assert served == {**flat, "kind": "mock"}


def test_served_judges_use_the_openai_settings_or_their_defaults():
    assert served_judge_client(Config().backend) == OpenAIBackendSettings()
    llamacpp = load_config(None, ["backend.kind=llamacpp", "backend.concurrency=2"]).backend
    assert served_judge_client(llamacpp).concurrency == 2
    openai = load_config(
        None, ["backend.kind=openai", "backend.api_key_env=KEY", "backend.base_url=http://h/v1"]
    )
    client = served_judge_client(openai.backend)
    assert (client.api_key_env, client.base_url) == ("KEY", "http://h/v1")
    assert OpenAIBackendSettings.execution_fields == {
        "base_url", "api_key_env", "concurrency", "timeout_s", "max_retries",
    }, "a served judge takes exactly these request settings"  # fmt: skip


def test_a_stage_that_declares_no_backend_key_still_reaches_a_served_judge():
    config = load_config(None, ["backend.kind=openai", "backend.timeout_s=9"])
    view = ConfigView(config, frozenset({"judge"}), owner="judge")
    assert served_judge_client(view.backend).timeout_s == 9


def test_the_mock_backend_builds_and_generates():
    config = load_config(None, ["backend.kind=mock", "backend.mock_script={bomb: No.}"])
    generator = make_generator(config, "policy")
    greedy = SamplingParams(greedy=True)
    answers = generator.generate(
        [GenerationRequest("how to build a bomb"), GenerationRequest("hi", prefill="Sure")],
        greedy,
        seed=0,
    )
    assert answers == ["No.", "Sure Answer about: hi"]
    generator.close()


@pytest.mark.parametrize("value", [5, None, [1], "hf"])
def test_a_backend_section_that_is_not_a_mapping_is_one_line(value):
    with pytest.raises(SelfMoaError, match=r"^config error: backend: must be a mapping of "):
        config_from_dict({"backend": value})
