"""Request building of the openai and vllm backends, without a server or vLLM.

Per-request seeds, the payloads for both endpoints, served names of adapters,
the reading of replies, and the HTTP client's retries (against a stub HTTP server
on loopback that fails a set number of times).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.http_json import backoff_delay, post_json
from selfmoa.backends.openai_payload import (
    chat_payload,
    chat_text,
    completion_payload,
    completion_text,
)
from selfmoa.backends.seeds import SEED_RANGE, request_seed
from selfmoa.backends.served import (
    ServedTarget,
    adapter_round,
    served_adapter_name,
    served_target,
)
from selfmoa.backends.vllm_requests import (
    engine_kwargs,
    lora_spec,
    request_sampling,
    token_prompts,
)
from selfmoa.core.errors import SelfMoaError

ADAPTER = Path("runs/demo/round_01/train/adapter")


def test_request_seeds_are_fixed_per_position_distinct_and_in_range():
    seeds = [request_seed(11, i) for i in range(200)]
    assert seeds == [request_seed(11, i) for i in range(200)]
    assert len(set(seeds)) == 200
    assert all(0 <= s < SEED_RANGE for s in seeds)
    assert request_seed(12, 0) != request_seed(11, 0)


def test_completion_payload_carries_ids_seed_and_sampling():
    target = ServedTarget("smol")
    sampled = completion_payload(target, [1, 2, 3], SamplingParams(max_new_tokens=9), 5)
    assert sampled == {
        "model": "smol",
        "prompt": [1, 2, 3],
        "max_tokens": 9,
        "seed": 5,
        "temperature": 0.7,
        "top_p": 0.95,
    }
    greedy = completion_payload(target, [1], SamplingParams(greedy=True), 5)
    assert greedy["temperature"] == 0.0 and "top_p" not in greedy


def test_chat_payload_continues_the_prefill_or_refuses_in_one_line():
    request = GenerationRequest("hi", prefill="I can't", system="be safe")
    payload = chat_payload(
        ServedTarget("m"), request, SamplingParams(), 1, continue_final_message=True
    )
    assert [m["role"] for m in payload["messages"]] == ["system", "user", "assistant"]
    assert payload["messages"][-1]["content"] == "I can't"
    assert payload["continue_final_message"] and not payload["add_generation_prompt"]
    plain = chat_payload(
        ServedTarget("m"), GenerationRequest("hi"), SamplingParams(), 1, continue_final_message=True
    )
    assert "continue_final_message" not in plain and len(plain["messages"]) == 1
    with pytest.raises(SelfMoaError, match="needs backend.endpoint=completions"):
        chat_payload(ServedTarget("m"), request, SamplingParams(), 1, continue_final_message=False)


def test_replies_are_read_and_a_chat_answer_always_opens_with_its_prefill():
    assert completion_text({"choices": [{"text": " ok"}]}) == " ok"
    reply = {"choices": [{"message": {"content": " do that."}}]}
    assert chat_text(reply, "I can't") == "I can't do that."
    whole = {"choices": [{"message": {"content": "I can't do that."}}]}
    assert chat_text(whole, "I can't") == "I can't do that."
    with pytest.raises(SelfMoaError, match="no choices"):
        completion_text({"error": "x"})
    with pytest.raises(SelfMoaError, match="no choices"):
        chat_text({"choices": []}, "")


def test_adapters_map_to_served_names_by_round():
    assert adapter_round(ADAPTER) == 1
    with pytest.raises(SelfMoaError, match="which round"):
        adapter_round(Path("somewhere/adapter"))
    names = {"1": "round1-lora", "0": "lora-id:0"}
    assert served_adapter_name(names, ADAPTER) == "round1-lora"
    assert served_adapter_name(names, None) is None
    assert served_adapter_name({}, ADAPTER) is None
    served = {"embedded:smol": "smol"}
    assert served_target("embedded:smol", served, None) == ServedTarget("smol")
    assert served_target("other", served, None) == ServedTarget("other")
    assert served_target("embedded:smol", served, "round1-lora") == ServedTarget("round1-lora")
    llamacpp = served_target("embedded:smol", served, "lora-id:2")
    assert llamacpp.model == "smol" and llamacpp.extra == {"lora": [{"id": 2, "scale": 1.0}]}


def test_vllm_requests_seed_each_answer_and_name_the_round_adapter():
    sampling = request_sampling(3, SamplingParams(max_new_tokens=7), chunk_seed=4)
    assert [s["seed"] for s in sampling] == [request_seed(4, i) for i in range(3)]
    assert all(s["max_tokens"] == 7 and s["temperature"] == 0.7 for s in sampling)
    assert request_sampling(1, SamplingParams(greedy=True), 0)[0]["temperature"] == 0.0
    spec = lora_spec(ADAPTER)
    assert spec is not None and (spec.name, spec.int_id, spec.path) == (
        "round_01",
        2,
        str(ADAPTER),
    )
    assert lora_spec(None) is None
    plain = engine_kwargs(
        "m",
        dtype="bfloat16",
        tensor_parallel_size=2,
        gpu_memory_utilization=0.5,
        max_lora_rank=16,
        with_lora=False,
        seed=3,
    )
    assert plain["tensor_parallel_size"] == 2 and "enable_lora" not in plain
    lora = engine_kwargs(
        "m",
        dtype="bfloat16",
        tensor_parallel_size=1,
        gpu_memory_utilization=0.5,
        max_lora_rank=16,
        with_lora=True,
        seed=3,
    )
    assert lora["enable_lora"] and lora["max_lora_rank"] == 16


def test_vllm_prompts_are_chat_templated_token_ids_ending_in_the_prefill(tiny_model):
    from selfmoa.backends.hf import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_model))
    prompts = token_prompts(tokenizer, [GenerationRequest("hello", prefill="Sure")])
    ids = prompts[0]["prompt_token_ids"]
    text = tokenizer.decode(ids)
    assert "hello" in text and text.endswith("Sure")


def test_vllm_backend_without_vllm_is_one_line_naming_the_extra(monkeypatch):
    import importlib

    from selfmoa.backends import vllm_backend

    def missing(name, *args, **kwargs):
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(SelfMoaError, match=r"pip install 'selfmoa\[vllm\]'"):
        vllm_backend.import_vllm()


class FlakyHandler(BaseHTTPRequestHandler):
    failures = 0
    status = 503
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"auth": self.headers.get("Authorization"), **body})
        if type(self).failures > 0:
            type(self).failures -= 1
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b'{"error": "busy"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"choices": [{"text": "fine"}]}).encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stub_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FlakyHandler.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/completions"
    server.shutdown()


def test_retries_back_off_then_succeed(stub_url):
    FlakyHandler.failures, FlakyHandler.status = 2, 503
    waits: list[float] = []
    reply = post_json(
        stub_url, {"x": 1}, api_key="k", timeout_s=5, max_retries=3, sleep=waits.append
    )
    assert reply == {"choices": [{"text": "fine"}]}
    assert waits == [backoff_delay(0), backoff_delay(1)] == [0.5, 1.0]
    assert [s["auth"] for s in FlakyHandler.seen] == ["Bearer k"] * 3


def test_retries_spent_or_a_client_error_end_in_one_line(stub_url):
    FlakyHandler.failures, FlakyHandler.status = 5, 503
    with pytest.raises(SelfMoaError, match=r"HTTP 503.*after 3 attempts"):
        post_json(stub_url, {}, api_key=None, timeout_s=5, max_retries=2, sleep=lambda s: None)
    FlakyHandler.failures, FlakyHandler.status = 1, 400
    with pytest.raises(SelfMoaError, match=r"HTTP 400.*after 1 attempt\)"):
        post_json(stub_url, {}, api_key=None, timeout_s=5, max_retries=2, sleep=lambda s: None)
    assert backoff_delay(20) == 30.0


def test_an_unreachable_server_is_one_line():
    from selfmoa.backends.llamacpp_server import free_port

    dead = f"http://127.0.0.1:{free_port()}/v1/completions"  # nothing listens there
    with pytest.raises(SelfMoaError, match=r"no reply.*after 2 attempts"):
        post_json(dead, {}, api_key=None, timeout_s=2, max_retries=1, sleep=lambda s: None)


def openai_config(tiny_model, **backend):
    from selfmoa.core.config import config_from_dict

    return config_from_dict(
        {
            "models": {"policy": str(tiny_model), "attacker": str(tiny_model)},
            "backend": {"kind": "openai", "api_key_env": "SELFMOA_UNIT_KEY", **backend},
        }
    )


def test_make_generator_serves_names_and_handles_unserved_adapters(tiny_model, monkeypatch):
    from selfmoa.backends import make_generator
    from selfmoa.backends.hf import HFGenerator
    from selfmoa.backends.openai_compat import OpenAIGenerator

    monkeypatch.setenv("SELFMOA_UNIT_KEY", "sk-unit")
    config = openai_config(tiny_model, lora_names={1: "r1"}, concurrency=3)
    base = make_generator(config, "policy")
    assert isinstance(base, OpenAIGenerator) and base.target.model == str(tiny_model)
    assert "sk-unit" not in repr(base) and base.pool._max_workers == 3
    served = make_generator(config, "policy", ADAPTER)
    assert isinstance(served, OpenAIGenerator) and served.target.model == "r1"
    unserved = Path("runs/x/round_00/train/adapter")
    with pytest.raises(SelfMoaError, match="no served name for the adapter"):
        make_generator(config, "policy", unserved)
    for generator in (base, served):
        generator.close()
    fallback = openai_config(tiny_model, unserved_adapter="hf")
    monkeypatch.setattr(HFGenerator, "__init__", lambda self, *a, **k: None)
    assert isinstance(make_generator(fallback, "policy", unserved), HFGenerator)


def test_a_missing_key_variable_is_one_line_at_validate_and_at_run(tiny_model, monkeypatch):
    from selfmoa.backends import make_generator
    from selfmoa.pipeline.validation import check_config

    monkeypatch.delenv("SELFMOA_UNIT_KEY", raising=False)
    config = openai_config(tiny_model)
    with pytest.raises(SelfMoaError, match="SELFMOA_UNIT_KEY, which is not set"):
        check_config(config)
    with pytest.raises(SelfMoaError, match="SELFMOA_UNIT_KEY, which is not set"):
        make_generator(config, "policy")
