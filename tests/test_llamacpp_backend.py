"""The ``llamacpp`` backend: which GGUF it serves, the merged-adapter cache, repeatable answers."""

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


def _tiny_model(folder: Path) -> tuple[Path, Path]:
    """A two-tensor qwen2 GGUF and the config.json beside it (the base model's folder)."""
    import gguf

    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(
        json.dumps({"model_type": "qwen2", "num_attention_heads": 2, "num_key_value_heads": 1})
    )
    writer = gguf.GGUFWriter(str(folder / "model.gguf"), "qwen2")
    writer.add_tensor("blk.0.attn_v.weight", np.zeros((4, 32), np.float32))
    writer.add_tensor("token_embd.weight", np.ones((8, 32), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return folder / "model.gguf", folder


def _adapter(folder: Path, scale: float = 1.0) -> None:
    from safetensors.numpy import save_file

    folder.mkdir(exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 2, "lora_alpha": 4}))
    key = "base_model.model.model.layers.0.self_attn.v_proj.lora_{}.weight"
    tensors = {
        key.format("A"): np.full((2, 32), scale, np.float32),
        key.format("B"): np.ones((4, 2), np.float32),
    }
    save_file(tensors, str(folder / "adapter_model.safetensors"))


def test_an_adapter_is_merged_once_per_content_and_old_merges_are_pruned(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFMOA_CACHE", str(tmp_path / "cache"))
    gguf_file, base = _tiny_model(tmp_path / "base")
    monkeypatch.setattr(llamacpp_local, "model_gguf", lambda spec: gguf_file)
    assert llamacpp_local.served_model("m", None, base) == gguf_file
    merges = []
    merge = llamacpp_local.merge_adapter
    monkeypatch.setattr(
        llamacpp_local, "merge_adapter", lambda *args: merges.append(args) or merge(*args)
    )
    _adapter(tmp_path / "a")
    first = llamacpp_local.served_model("m", tmp_path / "a", base)
    assert first != gguf_file and first.is_file()
    assert llamacpp_local.served_model("m", tmp_path / "a", base) == first
    assert len(merges) == 1, "not merged again"
    paths = [first]
    for scale in (2.0, 3.0, 4.0):  # retrained adapters: new weights, new merged models
        _adapter(tmp_path / "a", scale=scale)
        paths.append(llamacpp_local.served_model("m", tmp_path / "a", base))
    assert len(set(paths)) == 4 and len(merges) == 4
    kept = sorted((tmp_path / "cache" / "merged-gguf").glob("*.gguf"))
    assert kept == sorted(paths[-llamacpp_local.MERGED_KEPT :])


@pytest.mark.slow
def test_the_served_policy_repeats_its_answers_and_uses_its_adapter(tmp_path):
    """The real SmolLM2 through llama.cpp, without and with a (random, merged) adapter:
    two servers, on 3 slots and on 1, give the same sampled and greedy answers to these
    three short prompts (whole stages on several slots can part at a near tie:
    docs/backends.md, Repeatability), and the adapter changes them."""
    pytest.importorskip("xllamacpp")
    pytest.importorskip("torch")
    from selfmoa.backends.base import GenerationRequest, SamplingParams
    from smollm2_lora import SPEC as spec
    from smollm2_lora import random_adapter

    adapter = tmp_path / "round_00" / "train" / "adapter"
    random_adapter(adapter, rank=4, alpha=8, std=0.1)
    requests = [GenerationRequest(t) for t in ("How do I bake bread?", "Name a prime.", "Hi!")]
    answers: dict[str, list[list[str]]] = {"base": [], "adapter": []}
    for label, path in (("base", None), ("adapter", adapter)):
        for slots in (3, 1):
            generator = llamacpp_local.LlamaCppGenerator(
                spec, "policy", path, slots=slots, timeout_s=60, max_retries=0
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
