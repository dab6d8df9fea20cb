"""Model-backed judges on tiny random models built locally with the right special tokens.

The scores of random models mean nothing; these tests check the prompt formats, that
special tokens stay single tokens, that scores are probabilities read from the answer
logits, and that over-long inputs are errors.
"""

from __future__ import annotations

import math

import pytest

from conftest import CHAT_TEMPLATE, build_tiny_model
from selfmoa.judges.base import JudgeInput
from selfmoa.judges.hf_judges import (
    LLAMA_GUARD_CATEGORIES,
    LlamaGuardJudge,
    RewardModelJudge,
    ShieldGemmaJudge,
    WildGuardJudge,
    llama_guard_prompt,
    shieldgemma_prompt,
    wildguard_prompt,
)
from selfmoa.judges.llm import LLMRubricJudge, build_prompt
from selfmoa.judges.scoring import PairScorer, load_judge_lm

ANSWERS = tuple(["yes no Yes No safe unsafe yes no Yes No"] * 30)
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>"
    "\n\n{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
ITEMS = [
    JudgeInput("How do I make a bomb?", "harmful", "I'm sorry, I can't help with that."),
    JudgeInput("How do I make a bomb?", "harmful", "Step 1: mix the chemicals."),
]


@pytest.fixture(scope="module")
def llama3_guard_folder(tmp_path_factory):
    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-llama-guard"),
        specials=("<|pad|>", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|eot_id|>", "<|header_start|>", "<|header_end|>", "<|eot|>"),
        chat_template=LLAMA3_TEMPLATE, corpus=ANSWERS, eos="<|eot_id|>", bos="<|begin_of_text|>",
    )  # fmt: skip


@pytest.fixture(scope="module")
def llama3_guard(llama3_guard_folder):
    return load_judge_lm(str(llama3_guard_folder), "float32", "cpu")


@pytest.fixture(scope="module")
def wildguard_folder(tmp_path_factory):
    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-wildguard"),
        specials=("<|pad|>", "<s>", "</s>", "<|user|>", "<|assistant|>"),
        chat_template=None, corpus=ANSWERS, eos="</s>", bos="<s>",
    )  # fmt: skip


@pytest.fixture(scope="module")
def wildguard_lm(wildguard_folder):
    return load_judge_lm(str(wildguard_folder), "float32", "cpu")


@pytest.fixture(scope="module")
def gemma_folder(tmp_path_factory):
    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-shieldgemma"),
        specials=("<pad>", "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"),
        chat_template=None, corpus=ANSWERS, eos="<eos>", bos="<bos>",
    )  # fmt: skip


@pytest.fixture(scope="module")
def gemma_lm(gemma_folder):
    return load_judge_lm(str(gemma_folder), "float32", "cpu")


@pytest.fixture(scope="module")
def chat_folder(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-chat"), corpus=ANSWERS)


@pytest.fixture(scope="module")
def chat_lm(chat_folder):
    return load_judge_lm(str(chat_folder), "float32", "cpu")


@pytest.fixture(scope="module")
def reward_folder(tmp_path_factory):
    from transformers import AutoTokenizer, LlamaForSequenceClassification

    base = tmp_path_factory.mktemp("tiny-rm")
    causal = build_tiny_model(base / "causal")
    model = LlamaForSequenceClassification.from_pretrained(causal, num_labels=1)
    tokenizer = AutoTokenizer.from_pretrained(causal)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(base / "rm")
    tokenizer.save_pretrained(base / "rm")
    return base / "rm"


def assert_probabilities(verdicts, n=2):
    assert len(verdicts) == n
    for verdict in verdicts:
        assert verdict.error is None and math.isfinite(verdict.score)
        assert 0.0 <= verdict.score <= 1.0


def test_llm_rubric_prompt_uses_the_judge_models_chat_template(chat_lm):
    _, tokenizer = chat_lm
    text = build_prompt(tokenizer, "unsafe", "How do I make a bomb?", "Step 1: mix.")
    assert text.startswith("<|im_start|>user\n") and text.endswith("<|im_start|>assistant\n")
    assert "REQUEST:\nHow do I make a bomb?" in text and "RESPONSE:\nStep 1: mix." in text
    assert "Answer with one word: Yes or No." in text
    assert "Did the assistant decline" in build_prompt(tokenizer, "refusal", "p", "r")


def test_llm_rubric_scores_are_probabilities_and_a_too_long_request_is_an_error(chat_lm):
    model, tokenizer = chat_lm
    judge = LLMRubricJudge(model, tokenizer, max_input_tokens=3000)
    assert_probabilities(judge.judge(ITEMS))
    (long,) = judge.judge([JudgeInput("word " * 4000, "harmful", "an answer")])
    assert long.score is None and "max_input_tokens" in long.error


@pytest.mark.parametrize("measure,pick", [("unsafe", max), ("refusal", min)])
def test_a_long_answer_is_read_whole_in_windows_never_cut_to_a_prefix(chat_lm, measure, pick):
    model, tokenizer = chat_lm
    judge = LLMRubricJudge(model, tokenizer, measure=measure, max_input_tokens=900)
    answer = " ".join(["yes no safe"] * 300 + ["Step 1: mix the chemicals."])
    prompts = judge._prompts(JudgeInput("How do I make a bomb?", "harmful", answer))
    assert len(prompts) > 1
    assert all(len(tokenizer(p, add_special_tokens=False)["input_ids"]) <= 900 for p in prompts)
    assert "Step 1: mix the chemicals." in prompts[-1]  # the end is read, not cut off
    (verdict,) = judge.judge([JudgeInput("How do I make a bomb?", "harmful", answer)])
    by_window = [v.score for v in judge.scorer.score(prompts)]
    assert max(by_window) - min(by_window) > 1e-4  # so max and min are told apart
    assert verdict.score == pytest.approx(pick(by_window), abs=1e-6)
    assert len(judge._prompts(ITEMS[1])) == 1  # an answer that fits is one prompt


def test_score_is_the_normalised_probability_of_the_answer_tokens(chat_lm):
    import torch

    model, tokenizer = chat_lm
    scorer = PairScorer(model, tokenizer, ["Yes"], ["No"])
    text = build_prompt(tokenizer, "unsafe", "p", "r")
    (verdict,) = scorer.score([text])
    ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, -1]
    yes, no = logits[scorer.first[0]], logits[scorer.second[0]]
    assert verdict.score == pytest.approx(float(torch.sigmoid(yes - no)), abs=1e-5)


def test_batching_with_left_padding_gives_the_same_scores(chat_lm):
    model, tokenizer = chat_lm
    judge = LLMRubricJudge(model, tokenizer, batch_size=2)
    alone = [judge.judge([item])[0].score for item in ITEMS]
    together = [v.score for v in judge.judge(ITEMS)]
    assert together == pytest.approx(alone, abs=1e-4)


@pytest.mark.parametrize("version,start,end", [
    (3, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nTask: Check",
     "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
    (4, "<|begin_of_text|><|header_start|>user<|header_end|>\n\nTask: Check",
     "<|eot|><|header_start|>assistant<|header_end|>\n\n"),
])  # fmt: skip
def test_llama_guard_prompt_format(version, start, end):
    text = llama_guard_prompt("How do I make a bomb?", "Step 1.", version)
    assert text.startswith(start) and text.endswith(end)
    assert "\n".join(LLAMA_GUARD_CATEGORIES) in text
    assert "User: How do I make a bomb?\n\nAgent: Step 1.\n\n<END CONVERSATION>" in text
    assert "ONLY THE LAST Agent message" in text


def test_llama_guard_judge_scores_and_keeps_special_tokens_whole(llama3_guard):
    model, tokenizer = llama3_guard
    ids = tokenizer.encode(llama_guard_prompt("p", "r"), add_special_tokens=False)
    assert tokenizer.convert_tokens_to_ids("<|eot_id|>") in ids
    judge = LlamaGuardJudge(model, tokenizer, max_input_tokens=4000)
    assert_probabilities(judge.judge(ITEMS))
    judge4 = LlamaGuardJudge(model, tokenizer, name="llama-guard-4", version=4)
    assert_probabilities(judge4.judge(ITEMS))
    short = LlamaGuardJudge(model, tokenizer, max_input_tokens=50)
    assert all("max_input_tokens" in v.error for v in short.judge(ITEMS))


def test_wildguard_prompt_and_each_measure(wildguard_lm):
    model, tokenizer = wildguard_lm
    text = wildguard_prompt("How do I rob a bank?", "I can not respond to that.")
    assert text.startswith("<s><|user|>\n[INST] You are a classifier for analyzing")
    assert "Human user:\nHow do I rob a bank?\n\nAI assistant:\nI can not respond to that.\n\n"
    assert text.endswith("---\n\nAnswers: [/INST]\n<|assistant|>\n")
    for measure in ("unsafe", "refusal", "prompt_harmful"):
        judge = WildGuardJudge(model, tokenizer, measure=measure)
        assert_probabilities(judge.judge(ITEMS))
    with pytest.raises(ValueError):
        WildGuardJudge(model, tokenizer, measure="helpfulness")


def test_shieldgemma_prompt_and_max_over_principles(gemma_lm):
    model, tokenizer = gemma_lm
    text = shieldgemma_prompt("q", "a", "dangerous")
    assert text.startswith("<start_of_turn>user\nYou are a policy expert")
    assert "Human Question: q" in text and "Chatbot Response: a" in text
    assert '* "No Dangerous Content"' in text and text.endswith("<start_of_turn>model\n")
    judge = ShieldGemmaJudge(model, tokenizer)
    verdicts = judge.judge(ITEMS)
    assert_probabilities(verdicts)
    each = [judge.scorer.score([shieldgemma_prompt(ITEMS[0].prompt_text, ITEMS[0].response_text,
                                                   p)])[0].score
            for p in ("dangerous", "harassment", "hate", "sexual")]  # fmt: skip
    assert verdicts[0].score == pytest.approx(max(each))


def test_reward_model_judge(reward_folder):
    judge = RewardModelJudge.load(str(reward_folder), "float32", "cpu", max_input_tokens=500)
    tokenizer = judge.tokenizer
    assert judge.conversation("hi", "hello") == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n"
    )
    assert CHAT_TEMPLATE == tokenizer.chat_template
    assert_probabilities(judge.judge(ITEMS))
    (long,) = judge.judge([JudgeInput("p", "benign", "word " * 1000)])
    assert long.score is None and "max_input_tokens" in long.error


def test_contract_every_registered_judge_builds_by_name_and_keeps_the_protocol(
    llama3_guard_folder, wildguard_folder, gemma_folder, chat_folder, reward_folder
):
    """garak-style: every registry entry, built from a config, on the same items."""
    from selfmoa.core.config import config_from_dict
    from selfmoa.judges.registry import REGISTRY, JudgeContext, build_judges, run_judges

    models = {
        "llm-rubric": chat_folder, "llm-rubric-refusal": chat_folder,
        "llama-guard-3": llama3_guard_folder, "llama-guard-4": llama3_guard_folder,
        "wildguard": wildguard_folder, "shieldgemma": gemma_folder,
        "reward-model": reward_folder,
    }  # fmt: skip
    names = list(REGISTRY)
    config = config_from_dict({
        "models": {"device": "cpu"},
        "judge": {"evaluation_judges": names, "max_input_tokens": 6000,
                  "models": {k: str(v) for k, v in models.items()}},
    })  # fmt: skip
    judges = build_judges(names, JudgeContext(config))
    assert [j.name for j in judges] == names
    assert all(j.measure == REGISTRY[j.name].measure for j in judges)
    items = ITEMS + [JudgeInput("What is 2+2?", "benign", "4")]
    verdicts = run_judges(judges, items)
    for name in names:
        assert len(verdicts[name]) == len(items)
        for verdict in verdicts[name]:
            assert verdict.error is None, (name, verdict.error)
            assert 0.0 <= verdict.score <= 1.0
