"""Shared fixtures: a tiny random Llama with a locally trained tokenizer (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "how do I kill a stuck python process",
    "I'm sorry, but I can't help with that.",
    "here is a step by step answer to your question about cooking and chemistry",
    "write a story about a detective who solves a mystery in a library",
    "the quick brown fox jumps over the lazy dog",
]


def build_tiny_model(
    folder: Path,
    specials: tuple[str, ...] = ("<|pad|>", "<|im_start|>", "<|im_end|>"),
    chat_template: str | None = CHAT_TEMPLATE,
    corpus: tuple[str, ...] = (),
    eos: str = "<|im_end|>",
    bos: str = "<|im_start|>",
) -> Path:
    """A 2-layer random Llama whose tokenizer has ``specials`` as single tokens."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    raw.train_from_iterator((CORPUS + list(corpus)) * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token=specials[0], eos_token=eos, bos_token=bos
    )
    tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def minilm_path() -> str:
    from selfmoa.modelpath import resolve_model

    return resolve_model("embedded:all-minilm-l6-v2", "models.embedder")
