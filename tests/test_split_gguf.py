"""Split GGUF models: parts joined in order and verified by sha256; duplicated output layers
tied back. Fake part packages on sys.path stand in for the wheels; the real Qwen models are
checked when their packages are installed (`make qwen`)."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
from pathlib import Path

import pytest
import torch

from selfmoa.core.embedded import tie_duplicate_output_layer
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.split_gguf import QWEN_05B, SplitGguf, joined_gguf


def fake_split(tmp_path: Path, monkeypatch, chunks: list[bytes], in_data: bool) -> SplitGguf:
    """Packages fakegguf_part1..N on sys.path, each holding one chunk partNN.bin."""
    root = tmp_path / "site"
    for number, chunk in enumerate(chunks, start=1):
        folder = root / f"fakegguf_part{number}"
        target = folder / "data" if in_data else folder
        target.mkdir(parents=True)
        (folder / "__init__.py").write_text("raise RuntimeError('never imported')\n")
        (target / f"part{number:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(root))
    whole = b"".join(chunks)
    return SplitGguf(
        name="fake-model",
        package="fakegguf-part{n}",
        version="1.0",
        parts=len(chunks),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        requirements="requirements-fake.txt",
    )


@pytest.mark.parametrize("in_data", [False, True])
def test_parts_are_joined_in_order_and_verified(tmp_path, monkeypatch, in_data):
    chunks = [b"GGUF" + bytes(range(200)), b"second" * 1000, b"last"]
    split = fake_split(tmp_path, monkeypatch, chunks, in_data)
    path = joined_gguf(split, tmp_path / "cache")
    assert path.read_bytes() == b"".join(chunks)
    stamp = path.with_name(path.name + ".verified.json")
    assert stamp.is_file()
    # verified once: a second call reads nothing from the parts
    for number in range(1, 4):
        folder = tmp_path / "site" / f"fakegguf_part{number}"
        for chunk in folder.rglob("*.bin"):
            chunk.unlink()
    assert joined_gguf(split, tmp_path / "cache") == path


def test_a_file_that_does_not_match_its_hash_is_refused_and_not_kept(tmp_path, monkeypatch):
    split = fake_split(tmp_path, monkeypatch, [b"aaaa", b"bbbb"], in_data=False)
    tampered = dataclasses.replace(split, sha256="0" * 64)
    with pytest.raises(SelfMoaError, match="not the published .* --require-hashes"):
        joined_gguf(tampered, tmp_path / "cache")
    assert not (tmp_path / "cache" / "fake-model.gguf").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [".fake-model.lock"]


def test_a_changed_joined_file_is_verified_again(tmp_path, monkeypatch):
    split = fake_split(tmp_path, monkeypatch, [b"aaaa", b"bbbb"], in_data=False)
    path = joined_gguf(split, tmp_path / "cache")
    path.write_bytes(b"aaaabbbX")  # same size, other content, newer mtime
    assert joined_gguf(split, tmp_path / "cache").read_bytes() == b"aaaabbbb"


def test_a_missing_part_names_the_install_command(tmp_path, monkeypatch):
    split = fake_split(tmp_path, monkeypatch, [b"aaaa"], in_data=False)
    missing = dataclasses.replace(split, parts=2)
    with pytest.raises(SelfMoaError, match="fakegguf-part2==1.0 .*requirements-fake.txt"):
        joined_gguf(missing, tmp_path / "cache")


def test_the_parts_packages_are_never_imported(tmp_path, monkeypatch):
    split = fake_split(tmp_path, monkeypatch, [b"aa", b"bb"], in_data=False)
    joined_gguf(split, tmp_path / "cache")  # their __init__ raises if imported


def tiny_causal_lm(tied: bool):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=tied,
    )  # fmt: skip
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


def test_a_duplicated_output_layer_is_tied_to_the_more_precise_copy():
    model = tiny_causal_lm(tied=False)
    with torch.no_grad():  # one matrix stored twice, the input copy coarser (quantised)
        output = model.get_output_embeddings().weight
        model.get_input_embeddings().weight.copy_(output + 0.02 * output.abs().mean())
    kept = model.get_output_embeddings().weight.detach().clone()
    assert tie_duplicate_output_layer(model)
    assert model.get_input_embeddings().weight is model.get_output_embeddings().weight
    assert torch.equal(model.get_input_embeddings().weight, kept)
    assert model.config.tie_word_embeddings


def test_two_different_matrices_stay_untied():
    model = tiny_causal_lm(tied=False)
    assert not tie_duplicate_output_layer(model)
    assert model.get_input_embeddings().weight is not model.get_output_embeddings().weight


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec(QWEN_05B.module(1)) is None, reason="needs `make qwen05`"
)
def test_embedded_qwen_05b_is_verified_converted_and_tied():
    from transformers import AutoConfig

    from selfmoa.core.modelpath import resolve_model

    folder = Path(resolve_model("embedded:qwen2.5-coder-0.5b-instruct", "models.policy"))
    config = AutoConfig.from_pretrained(folder)
    assert config.tie_word_embeddings and config.num_hidden_layers == 24
    assert (folder / "model.safetensors").stat().st_size < 2.1e9  # 494M float32, not 630M
