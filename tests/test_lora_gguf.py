"""PEFT LoRA -> llama.cpp GGUF LoRA: names, scaling, the Llama q/k layout, and served output."""

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from selfmoa.backends import lora_gguf
from selfmoa.core.errors import SelfMoaError

LLAMA = {"model_type": "llama", "num_attention_heads": 4, "num_key_value_heads": 2}
QWEN = {"model_type": "qwen2", "num_attention_heads": 4, "num_key_value_heads": 2}
ADAPTER = {"r": 2, "lora_alpha": 8}


def peft(layer: int, module: str, part: str) -> str:
    block = "self_attn" if module in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
    return f"base_model.model.model.layers.{layer}.{block}.{module}.lora_{part}.weight"


def pair(module: str, out: int = 16, rank: int = 2, inputs: int = 8, layer: int = 0) -> dict:
    rng = np.random.default_rng(0)
    return {
        peft(layer, module, "A"): rng.normal(size=(rank, inputs)).astype(np.float32),
        peft(layer, module, "B"): rng.normal(size=(out, rank)).astype(np.float32),
    }


def llamacpp_permute(weight: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's converter permutation of a Llama q/k weight (rows in head groups)."""
    rows = weight.shape[0]
    return (
        weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def test_the_permuted_delta_is_the_delta_of_the_permuted_weight():
    state = pair("q_proj") | pair("k_proj", out=8)
    out = lora_gguf.gguf_tensors(state, ADAPTER, LLAMA)
    for module, gguf_name, heads in (("q_proj", "attn_q", 4), ("k_proj", "attn_k", 2)):
        delta = 4.0 * state[peft(0, module, "B")] @ state[peft(0, module, "A")]  # alpha / r = 4
        served = out[f"blk.0.{gguf_name}.weight.lora_b"] @ out[f"blk.0.{gguf_name}.weight.lora_a"]
        np.testing.assert_allclose(served, llamacpp_permute(delta, heads), rtol=1e-5)
        assert not np.allclose(served, delta), "the layout differs, so the test can fail"


def test_qwen2_and_the_other_projections_are_written_as_trained():
    state = pair("q_proj") | pair("down_proj", layer=3)
    out = lora_gguf.gguf_tensors(state, ADAPTER, QWEN)
    assert sorted(out) == [
        "blk.0.attn_q.weight.lora_a",
        "blk.0.attn_q.weight.lora_b",
        "blk.3.ffn_down.weight.lora_a",
        "blk.3.ffn_down.weight.lora_b",
    ]
    np.testing.assert_allclose(out["blk.0.attn_q.weight.lora_a"], state[peft(0, "q_proj", "A")])
    np.testing.assert_allclose(
        out["blk.0.attn_q.weight.lora_b"], 4.0 * state[peft(0, "q_proj", "B")], rtol=1e-6
    )


@pytest.mark.parametrize(
    ("config", "scaling"),
    [
        ({"r": 16, "lora_alpha": 32}, 2.0),
        ({"r": 16, "lora_alpha": 32, "use_rslora": True}, 8.0),
        ({"r": 16, "lora_alpha": 32, "rank_pattern": {"v_proj": 4}}, 8.0),
        ({"r": 16, "lora_alpha": 32, "alpha_pattern": {"v_proj": 8}}, 0.5),
    ],
)
def test_each_module_keeps_its_own_peft_scaling(config, scaling):
    assert lora_gguf.module_scaling(config, "v_proj") == scaling


@pytest.mark.parametrize(
    ("state", "adapter", "message"),
    [
        ({"base_model.model.lm_head.lora_A.weight": np.zeros((2, 2))}, ADAPTER, "no llama.cpp"),
        (dict(list(pair("v_proj").items())[:1]), ADAPTER, "without their A/B partner"),
        (pair("v_proj"), {**ADAPTER, "use_dora": True}, "DoRA"),
        (pair("v_proj"), {**ADAPTER, "modules_to_save": ["lm_head"]}, "modules_to_save"),
    ],
)
def test_adapters_llamacpp_cannot_serve_are_refused(state, adapter, message):
    with pytest.raises(SelfMoaError, match=message):
        lora_gguf.gguf_tensors(state, adapter, LLAMA)


def _tiny_peft_adapter(folder: Path, base: Path) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps(ADAPTER))
    save_file(pair("v_proj", out=8), str(folder / "adapter_model.safetensors"))
    base.mkdir()
    (base / "config.json").write_text(json.dumps(LLAMA))
    return folder


def test_the_file_is_a_llamacpp_lora_adapter(tmp_path):
    import gguf

    adapter = _tiny_peft_adapter(tmp_path / "adapter", tmp_path / "base")
    target = lora_gguf.convert_adapter(adapter, tmp_path / "base", tmp_path / "lora.gguf")
    reader = gguf.GGUFReader(str(target))

    def text(key: str) -> str:
        field = reader.fields[key]
        return bytes(field.parts[field.data[0]]).decode()

    assert text("general.type") == "adapter" and text("adapter.type") == "lora"
    assert text("general.architecture") == "llama"
    assert "adapter.lora.alpha" not in reader.fields, "the scaling is folded into lora_b"
    shapes = {t.name: [int(n) for n in t.shape] for t in reader.tensors}
    assert shapes == {"blk.0.attn_v.weight.lora_a": [8, 2], "blk.0.attn_v.weight.lora_b": [2, 8]}
    assert not (tmp_path / "lora.gguf.partial").exists()


@pytest.mark.parametrize(
    "adapter_config", ['{"lora_alpha": 8}', '{"r": 0, "lora_alpha": 8}', "[1]", "{not json"]
)
def test_a_damaged_adapter_config_is_one_line(tmp_path, adapter_config):
    adapter = _tiny_peft_adapter(tmp_path / "adapter", tmp_path / "base")
    (adapter / "adapter_config.json").write_text(adapter_config)
    with pytest.raises(SelfMoaError):
        lora_gguf.convert_adapter(adapter, tmp_path / "base", tmp_path / "lora.gguf")
    assert not (tmp_path / "lora.gguf").exists()


def test_an_unknown_architecture_is_one_line(tmp_path):
    adapter = _tiny_peft_adapter(tmp_path / "adapter", tmp_path / "base")
    (tmp_path / "base" / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(SelfMoaError, match="not 'gpt2'; use backend.kind=hf"):
        lora_gguf.convert_adapter(adapter, tmp_path / "base", tmp_path / "lora.gguf")


@pytest.mark.slow
def test_llamacpp_serving_the_converted_adapter_matches_transformers(tmp_path, monkeypatch):
    """The real SmolLM2 (Q4_1 GGUF in llama.cpp; its float32 conversion in transformers)
    with a strong random LoRA: the first answer token's log-probabilities agree within
    the quantisation noise, and without the q/k permutation they do not."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("xllamacpp")
    from selfmoa.backends.hf import load_tokenizer
    from selfmoa.backends.llamacpp_server import LlamaCppServer, embedded_gguf
    from selfmoa.core.modelpath import resolve_model
    from smollm2_lora import SPEC, chat_ids, random_adapter

    base = Path(resolve_model(SPEC, "models.policy"))
    tokenizer = load_tokenizer(str(base))
    model = random_adapter(tmp_path / "adapter")
    served = lora_gguf.convert_adapter(tmp_path / "adapter", base, tmp_path / "good.gguf")
    monkeypatch.setattr(lora_gguf, "permute_rows", lambda rows, heads: rows)
    unpermuted = lora_gguf.convert_adapter(tmp_path / "adapter", base, tmp_path / "bad.gguf")
    prompts = ["How do I bake bread?", "What is the capital of France?", "Name a prime number."]
    ids = chat_ids(tokenizer, prompts)
    with torch.no_grad():
        reference = [torch.log_softmax(model(torch.tensor([i])).logits[0, -1], -1) for i in ids]

    def worst_gap(adapter: Path) -> tuple[float, int]:
        server = LlamaCppServer(embedded_gguf(), slots=1, lora_adapters=[adapter])
        gaps, same_top = [], 0
        try:
            for prompt_ids, expected in zip(ids, reference, strict=True):
                body = {"prompt": prompt_ids, "n_predict": 1, "temperature": 0, "n_probs": 5}
                body["lora"] = [{"id": 0, "scale": 1.0}]
                request = urllib.request.Request(
                    f"http://127.0.0.1:{server.port}/completion",
                    json.dumps(body).encode(),
                    {"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=60) as reply:
                    top = json.load(reply)["completion_probabilities"][0]["top_logprobs"]
                gaps += [abs(t["logprob"] - expected[t["id"]].item()) for t in top]
                same_top += top[0]["id"] == int(expected.argmax())
        finally:
            server.close()
        return max(gaps), same_top

    gap, same_top = worst_gap(served)
    assert gap < 0.5 and same_top == len(prompts), (gap, same_top)
    wrong_gap, _ = worst_gap(unpermuted)
    assert wrong_gap > 1.0, "without the permutation the served model is another model"
