"""The ``llamacpp`` backend: which GGUF it serves, the adapter cache, and repeatable answers."""

import json
from pathlib import Path

import numpy as np
import pytest

from selfmoa.backends import llamacpp_local
from selfmoa.core.errors import SelfMoaError


@pytest.mark.parametrize(
    "spec", ["org/some-model", "/models/local-folder", "embedded:all-minilm-l6-v2"]
)
def test_only_embedded_models_with_a_gguf_are_served(spec):
    with pytest.raises(SelfMoaError, match="use backend.kind=openai"):
        llamacpp_local.model_gguf(spec)


def _adapter(folder: Path, base: Path, scale: float = 1.0) -> None:
    from safetensors.numpy import save_file

    folder.mkdir(exist_ok=True)
    base.mkdir(exist_ok=True)
    (base / "config.json").write_text(
        json.dumps({"model_type": "qwen2", "num_attention_heads": 2, "num_key_value_heads": 1})
    )
    (folder / "adapter_config.json").write_text(json.dumps({"r": 2, "lora_alpha": 4}))
    key = "base_model.model.model.layers.0.self_attn.v_proj.lora_{}.weight"
    tensors = {
        key.format("A"): np.full((2, 4), scale, np.float32),
        key.format("B"): np.ones((4, 2), np.float32),
    }
    save_file(tensors, str(folder / "adapter_model.safetensors"))


def test_an_adapter_is_converted_once_per_content(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFMOA_CACHE", str(tmp_path / "cache"))
    _adapter(tmp_path / "a", tmp_path / "base")
    first = llamacpp_local.served_adapter(tmp_path / "a", tmp_path / "base")
    stamp = first.stat().st_mtime_ns
    assert llamacpp_local.served_adapter(tmp_path / "a", tmp_path / "base") == first
    assert first.stat().st_mtime_ns == stamp, "not converted again"
    _adapter(tmp_path / "a", tmp_path / "base", scale=2.0)  # retrained: new weights
    assert llamacpp_local.served_adapter(tmp_path / "a", tmp_path / "base") != first


@pytest.mark.slow
def test_the_served_policy_repeats_its_answers_and_uses_its_adapter(tmp_path):
    """The real SmolLM2 through llama.cpp, without and with a (random) adapter: two
    servers give the same sampled and greedy answers, and the adapter changes them."""
    pytest.importorskip("xllamacpp")
    torch = pytest.importorskip("torch")
    from peft import LoraConfig, get_peft_model

    from selfmoa.backends.base import GenerationRequest, SamplingParams
    from selfmoa.backends.hf import load_causal_lm
    from selfmoa.backends.lora_gguf import GGUF_NAMES
    from selfmoa.core.modelpath import resolve_model

    torch.manual_seed(0)
    spec = "embedded:smollm2-135m-instruct"
    base = resolve_model(spec, "models.policy")
    model = get_peft_model(
        load_causal_lm(base, "float32", torch.device("cpu")),
        LoraConfig(r=4, lora_alpha=8, target_modules=list(GGUF_NAMES)),
    )
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.1)
    model.save_pretrained(tmp_path / "round_00" / "train" / "adapter")
    adapter = tmp_path / "round_00" / "train" / "adapter"
    requests = [GenerationRequest(t) for t in ("How do I bake bread?", "Name a prime.", "Hi!")]
    answers: dict[str, list[list[str]]] = {"base": [], "adapter": []}
    for label, path in (("base", None), ("adapter", adapter)):
        for _ in range(2):
            generator = llamacpp_local.LlamaCppGenerator(
                spec, "policy", path, slots=3, timeout_s=60, max_retries=0
            )
            try:
                answers[label].append(
                    generator.generate(requests, SamplingParams(max_new_tokens=12), 5)
                    + generator.generate(requests, SamplingParams(12, greedy=True), 5)
                )
            finally:
                generator.close()
    assert answers["base"][0] == answers["base"][1]
    assert answers["adapter"][0] == answers["adapter"][1]
    assert answers["base"][0] != answers["adapter"][0]
