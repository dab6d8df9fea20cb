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
    from selfmoa.core.modelpath import resolve_model

    return resolve_model("embedded:all-minilm-l6-v2", "models.embedder")


def tiny_loop_config(tiny_model: Path, backend: str = "mock", **sections: dict) -> dict:
    """A whole-loop config on the tiny Llama that runs in seconds; ``sections`` update it."""
    data: dict = {
        "name": "tiny",
        "rounds": 1,
        "models": {"policy": str(tiny_model), "attacker": str(tiny_model)},
        "backend": {"kind": backend, "batch_size": 4},
        "judge": {"agreement_rows": 12},
        "redteam": {
            "seeds_per_round": 4,
            "jailbreak_prompts_per_round": 2,
            "progressive_per_round": 2,
            "benign_per_round": 4,
            "max_new_tokens": 8,
            "max_template_words": 40,
            "min_seed_similarity": -1.0,
        },
        "sample": {"max_new_tokens": 8, "prefill_max_new_tokens": 4},
        "train": {
            "epochs": 1,
            "pairs_per_step": 4,
            "lora_r": 4,
            "lora_alpha": 8,
            "target_modules": ["q_proj", "v_proj"],
            "max_prompt_tokens": 48,
            "max_response_tokens": 12,
        },
        "evaluate": {
            "sets": {"harmbench": 4, "rephrased": 2, "benign_heldout": 4, "rho_overrefusal": 2},
            "max_new_tokens": 8,
            "capability_items": 2,
        },
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return data


@pytest.fixture(autouse=True)
def _no_shared_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run their stages: no reuse across tests through the user's stage cache
    (tests/test_stage_cache.py turns it on with a cache folder of its own)."""
    monkeypatch.setenv("SELFMOA_STAGE_CACHE", "off")
