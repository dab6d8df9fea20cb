"""Shared fixtures: a tiny random Llama with a locally trained tokenizer (no downloads);
and the test tiers: which tests need a real model, several processes, a browser or a server."""

from __future__ import annotations

import importlib.util
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
        "judge": {"agreement_rows": 3},  # rows per labelled source (16 sources)
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


# --- test tiers (docs/testing.md) --------------------------------------------------------
# Every test is `unit` unless this table or MODEL_FIXTURES puts it in another tier: a file
# maps to the tiers of all its tests, or to its tests that have tiers (every parameter).
Tiers = tuple[str, ...]
TIERS: dict[str, Tiers | dict[str, Tiers]] = {
    "test_distributed_training.py": ("multiprocess",),
    "test_fault_injection.py": ("multiprocess",),
    "test_integration_real.py": ("model", "multiprocess"),
    "test_llamacpp_server.py": ("model", "server", "multiprocess"),
    "test_serve_cli.py": {
        "test_serve_answers_on_loopback_until_ctrl_c_stops_it_cleanly": (
            "model",
            "server",
            "multiprocess",
        ),
    },
    "test_hostile_judge_train_export.py": {
        "test_judges_score_cli_a_surrogate_and_a_huge_row_cost_their_neighbours_nothing": (
            "model",
        ),
    },
    "test_judges_cli.py": {
        "test_score_writes_one_verdict_line_per_input": ("model",),
        "test_eval_against_a_gold_file": ("model",),
        "test_eval_on_a_few_pyrit_rows_writes_valid_json": ("model",),
        "test_eval_by_source_scores_every_source_and_writes_json_and_scores": ("model",),
    },
    "test_judges_probe.py": {
        "test_probe_dtype_sets_the_probe_model_and_the_cache_key": ("model",),
    },
    "test_judges_models.py": {
        "test_contract_every_registered_judge_builds_by_name_and_keeps_the_protocol": ("model",),
    },
    "test_llamacpp_backend.py": {
        "test_the_served_policy_repeats_its_answers_and_uses_its_adapter": ("model", "server"),
    },
    "test_lora_gguf.py": {
        "test_llamacpp_serving_the_converted_adapter_matches_transformers": ("model", "server"),
    },
    "test_merged_gguf.py": {
        "test_the_served_merged_policy_answers_as_the_transformers_policy_does": (
            "model",
            "server",
        ),
    },
    "test_report_html.py": {"test_the_page_renders_in_a_headless_browser": ("browser",)},
    "test_split_gguf.py": {"test_embedded_qwen_05b_is_verified_converted_and_tied": ("model",)},
}
# Unit tests over 3 s each on 2 CPU cores (pytest --durations, docs/testing.md): whole-loop
# runs on the tiny model and CLI subprocesses. Marked `slow`, so `make test-fast` leaves
# them out; `make test` runs them.
SLOW_UNIT_TESTS: dict[str, frozenset[str]] = {
    "test_backend_requests.py": frozenset(
        {"test_vllm_prompts_are_chat_templated_token_ids_ending_in_the_prefill"}
    ),
    "test_capability.py": frozenset({"test_loaders_read_the_real_files"}),
    "test_data.py": frozenset({"test_jailbreak_templates_have_one_prompt_slot"}),
    "test_eval_sets.py": frozenset(
        {
            "test_attacked_prompts_wrap_the_behaviour_in_every_strategy",
            "test_every_set_loads_its_real_file",
        }
    ),
    "test_hostile_judge_train_export.py": frozenset(
        {"test_llm_and_hub_judges_keep_clean_neighbours"}
    ),
    "test_hostile_properties.py": frozenset({"test_validate_answers_any_override_in_one_line"}),
    "test_loop_mock.py": frozenset(
        {
            "test_compare_two_runs_side_by_side",
            "test_deleted_stage_reruns_and_downstream_follows_its_content",
            "test_loop_runs_skips_and_reruns_only_stale_stages",
            "test_second_round_mutates_successful_attacks",
        }
    ),
    "test_redteam_cli.py": frozenset(
        {"test_redteam_command_writes_attacks_with_outcomes_and_prints_the_table"}
    ),
    "test_safety_reset.py": frozenset(
        {"test_a_run_with_the_reset_starts_from_it_and_reports_the_reference"}
    ),
    "test_stage_cache.py": frozenset(
        {
            "test_a_damaged_entry_is_ignored_and_the_stage_runs",
            "test_a_second_run_reuses_the_baseline_and_matches_it",
            "test_sharing_can_be_turned_off",
        }
    ),
    "test_sweep.py": frozenset({"test_sweep_trains_one_policy_per_vector_on_shared_stages"}),
}
# A test that asks for one of these fixtures loads a real embedded model.
MODEL_FIXTURES = frozenset({"minilm_path"})
# DeepSpeed's tests: these, and any test of the file parametrized with a DeepSpeed mode.
DEEPSPEED_FILE = "test_distributed_training.py"
DEEPSPEED_TESTS = frozenset(
    {
        "test_deepspeed_run_killed_after_a_checkpoint_resumes_in_another_stage_or_one_process",
        "test_one_process_checkpoint_resumes_at_zero_3_on_three_processes",
    }
)
NO_DEEPSPEED = pytest.mark.skip(reason="deepspeed is not installed: pip install -e '.[deepspeed]'")


def _test_name(item: pytest.Item) -> str:
    return getattr(item, "originalname", item.name)


def _table_tiers(item: pytest.Item) -> set[str]:
    entry = TIERS.get(item.path.name, ())
    return set(entry.get(_test_name(item), ()) if isinstance(entry, dict) else entry)


def _needs_deepspeed(item: pytest.Item) -> bool:
    if item.path.name != DEEPSPEED_FILE:
        return False
    callspec = getattr(item, "callspec", None)
    parameters = repr(callspec.params) if callspec is not None else ""
    return _test_name(item) in DEEPSPEED_TESTS or "deepspeed" in parameters


def _check_table(items: list[pytest.Item]) -> None:
    """A file or test the table names must exist: a renamed test would otherwise fall
    silently into the unit tier."""
    folder = Path(__file__).parent
    modules = {item.path.name: item.getparent(pytest.Module) for item in items}
    named = [
        (file, test) for file, entry in TIERS.items() if isinstance(entry, dict) for test in entry
    ]
    named += [(DEEPSPEED_FILE, test) for test in DEEPSPEED_TESTS]
    named += [(file, test) for file, tests in SLOW_UNIT_TESTS.items() for test in tests]
    for file in {*TIERS, *SLOW_UNIT_TESTS, DEEPSPEED_FILE}:
        if not (folder / file).is_file():
            raise pytest.UsageError(f"tests/conftest.py TIERS: no test file {file}")
    for file, test in named:
        module = modules.get(file)
        if module is not None and not hasattr(module.obj, test):
            raise pytest.UsageError(f"tests/conftest.py TIERS: no test {file}::{test}")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by the markers added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test with its tiers (`unit` when it needs no real model, no other
    process, no browser and no server) and skips DeepSpeed's tests, saying why, when
    DeepSpeed is missing."""
    _check_table(items)
    deepspeed_missing = importlib.util.find_spec("deepspeed") is None
    for item in items:
        tiers = _table_tiers(item)
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            tiers.add("model")
        for tier in sorted(tiers) or ["unit"]:
            item.add_marker(getattr(pytest.mark, tier))
        if _test_name(item) in SLOW_UNIT_TESTS.get(item.path.name, ()):
            item.add_marker(pytest.mark.slow)
        if deepspeed_missing and _needs_deepspeed(item):
            item.add_marker(NO_DEEPSPEED)
