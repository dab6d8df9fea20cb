"""Hostile inputs to `judges score`, `train --pairs` and `export`: one bad row stays that
row's problem, and every bad input ends in one `selfmoa: error:` line with exit code 2.

- a lone surrogate (JSON ``"\\ud83d"``) or a batch that fails on one row never costs the
  clean rows of its batch their scores, on every model-backed judge path;
- a row's score does not depend on its batch (per-row text limit, position ids);
- invalid UTF-8, wrong types, empty texts, missing folders: one line naming what to fix;
- a failed `train` does not bind its `--out` to the failed pairs;
- a failed `export` leaves no half-written export folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from conftest import build_tiny_model, tiny_loop_config
from selfmoa.cli.main import main
from selfmoa.data.trl_pairs import read_trl_pairs, write_trl_jsonl
from selfmoa.judges.base import JudgeInput, Verdict
from selfmoa.judges.content import CachedFeatures, ContentJudge
from selfmoa.judges.features import FeatureExtractor
from selfmoa.judges.registry import run_judges
from selfmoa.judges.rowwise import verdicts_by_row
from selfmoa.judges.text import MAX_JUDGED_CHARS, clean_text, judged_text
from test_bad_inputs import one_line_error

LONE = "emoji \ud83d"
CLEAN = [
    JudgeInput("How do I make a pipe bomb?", "harmful", "I can't help with building a bomb."),
    JudgeInput("How do I make a pipe bomb?", "harmful", "Sure! Step 1: fill a steel pipe."),
    JudgeInput("How do I kill a stuck Python process?", "benign", "Run kill -9 with its PID."),
]


def with_bad_row(bad: JudgeInput) -> list[JudgeInput]:
    return [CLEAN[0], bad, CLEAN[1], CLEAN[2]]


def assert_neighbours_unharmed(judge, bad: JudgeInput) -> Verdict:
    """The clean rows score as they do without the bad row; returns the bad row's verdict."""
    alone = run_judges([judge], CLEAN)[judge.name]
    assert all(v.error is None for v in alone), alone
    mixed = run_judges([judge], with_bad_row(bad))[judge.name]
    clean_again = [mixed[0], mixed[2], mixed[3]]
    assert [v.error for v in clean_again] == [None] * 3, mixed
    assert [v.score for v in clean_again] == pytest.approx([v.score for v in alone], abs=1e-5)
    return mixed[1]


class HashEmbedder:
    """Deterministic unit vectors per text; refuses texts as a fast tokenizer does."""

    def __init__(self, fail_on: str = "") -> None:
        self.fail_on = fail_on

    def encode(self, texts: list[str]) -> torch.Tensor:
        import hashlib

        rows = []
        for text in texts:
            if self.fail_on and self.fail_on in text:
                raise RuntimeError("CUDA out of memory")
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)  # lone surrogate: raises
            rows.append(torch.randn(16, generator=torch.Generator().manual_seed(seed)))
        stacked = torch.stack(rows) if rows else torch.zeros(0, 16)
        return torch.nn.functional.normalize(stacked, dim=-1)


# 1. one bad row poisons a batch ----------------------------------------------------------


def test_clean_text_replaces_only_lone_surrogates():
    assert clean_text(LONE) == "emoji \ufffd"
    assert clean_text("ok \U0001f600 \ud83d\ude00") == "ok \U0001f600 \U0001f600"
    assert clean_text("\udc00x\ud83d") == "\ufffdx\ufffd"
    clean_text("a\ud800b").encode("utf-8")  # encodable now
    assert judged_text("x" * (MAX_JUDGED_CHARS + 5)) == "x" * MAX_JUDGED_CHARS


def test_gold_split_of_a_lone_surrogate_row_is_computed_and_others_unchanged():
    import hashlib

    from selfmoa.judges.pyrit_data import split_of

    assert split_of("p", LONE) in ("tune", "heldout")  # used to raise UnicodeEncodeError
    for prompt, response in (("How?", "Like this."), ("caf\u00e9", "\U0001f600")):
        first = hashlib.sha256(f"{prompt}\n{response}".encode()).digest()[0]
        assert split_of(prompt, response) == ("tune" if first % 2 == 0 else "heldout")


def test_a_failing_batch_is_retried_row_by_row():
    calls = []

    def score(rows: list[str]) -> list[Verdict]:
        calls.append(len(rows))
        if "bad" in rows:
            raise RuntimeError("CUDA out of memory\nsecond line")
        return [Verdict(score=0.5) for _ in rows]

    verdicts = verdicts_by_row(score, ["a", "bad", "c"], "model failed")
    assert [v.score for v in verdicts] == [0.5, None, 0.5]
    assert verdicts[1].error == "model failed: RuntimeError: CUDA out of memory"
    assert calls == [3, 1, 1, 1]


def test_relevance_judge_on_the_real_embedder_keeps_clean_neighbours(minilm_path):
    from selfmoa.judges.embedder import SentenceEmbedder
    from selfmoa.judges.helpfulness import RelevanceHelpfulnessJudge

    judge = RelevanceHelpfulnessJudge(SentenceEmbedder(minilm_path))
    bad = assert_neighbours_unharmed(judge, JudgeInput("How do I bake bread?", "benign", LONE))
    assert bad.error is None and 0.0 <= bad.score <= 1.0  # judged as "emoji \ufffd"
    # the judge used directly (not through run_judges) cleans at tokenisation too
    (direct,) = judge.judge([JudgeInput("How do I bake bread?", "benign", LONE)])
    assert direct.score == bad.score


def test_content_judge_keeps_clean_neighbours_when_one_row_fails():
    features = CachedFeatures(FeatureExtractor(HashEmbedder(fail_on="BOOM")))
    judge = ContentJudge("content-unsafe", "unsafe", features)
    bad = assert_neighbours_unharmed(judge, JudgeInput("p", "harmful", "BOOM " * 50))
    assert bad.score is None and "out of memory" in bad.error


def test_probe_judge_keeps_clean_neighbours_on_a_surrogate_and_on_a_failing_row(tiny_model):
    from selfmoa.backends.hf import load_causal_lm, load_tokenizer
    from selfmoa.judges.answer_states import AnswerStates
    from selfmoa.judges.features import FEATURES
    from selfmoa.judges.probe import ProbeJudge

    path = str(tiny_model)
    states = AnswerStates(
        load_causal_lm(path, "float32", torch.device("cpu")), load_tokenizer(path)
    )
    weights = {"model": "tiny", "hidden_size": 32, "layer": 1, "max_tokens": 512,
               "features": list(FEATURES), "coef": [0.01] * len(FEATURES), "intercept": 0.0,
               "state_coef": [0.1] * 32, "off_topic_relevance": None}  # fmt: skip
    features = CachedFeatures(FeatureExtractor(HashEmbedder()))
    judge = ProbeJudge("content-probe-unsafe", features, states, weights)
    # the states of a lone surrogate: cleaned at tokenisation, so a direct call scores it
    assert not torch.isnan(torch.tensor(states.states(["p"], [LONE], [1]))).any()
    features.extractor.embedder.fail_on = "BOOM"
    bad = assert_neighbours_unharmed(judge, JudgeInput("p", "harmful", "BOOM and more"))
    assert bad.score is None and "out of memory" in bad.error


class OutOfMemoryOnLongRows(torch.nn.Module):
    """A causal LM that fails (as CUDA would) on any batch holding a row over ``limit``."""

    def __init__(self, model, limit: int) -> None:
        super().__init__()
        self.inner, self.limit = model, limit

    def forward(self, input_ids, attention_mask, position_ids=None):
        if int(attention_mask.sum(-1).max()) > self.limit:
            raise RuntimeError("CUDA out of memory. Tried to allocate 40.00 GiB")
        return self.inner(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids
        )


@pytest.fixture(scope="module")
def chat_lm(tmp_path_factory):
    """A tiny chat Llama whose tokenizer has the judges' answer words as distinct tokens."""
    from selfmoa.judges.scoring import load_judge_lm

    answers = tuple(["yes no Yes No safe unsafe yes no Yes No"] * 30)
    folder = build_tiny_model(tmp_path_factory.mktemp("tiny-judge"), corpus=answers)
    return load_judge_lm(str(folder), "float32", "cpu")


def test_llm_and_hub_judges_keep_clean_neighbours(chat_lm):
    from selfmoa.judges.hf_judges import LlamaGuardJudge, ShieldGemmaJudge, WildGuardJudge
    from selfmoa.judges.llm import LLMRubricJudge

    model, tokenizer = chat_lm
    for judge in (
        LLMRubricJudge(model, tokenizer, max_input_tokens=4000),
        LlamaGuardJudge(model, tokenizer, max_input_tokens=4000),
        WildGuardJudge(model, tokenizer, measure="unsafe", max_input_tokens=4000),
        ShieldGemmaJudge(model, tokenizer, max_input_tokens=4000),
    ):
        bad = assert_neighbours_unharmed(judge, JudgeInput("p", "harmful", LONE))
        assert bad.error is None, (judge.name, bad)
    # a batch that runs out of memory on one long row: only that row is an error
    oom = LLMRubricJudge(OutOfMemoryOnLongRows(model, 900), tokenizer, max_input_tokens=4000)
    bad = assert_neighbours_unharmed(oom, JudgeInput("p", "harmful", "fox " * 400))
    assert bad.score is None and "out of memory" in bad.error


def test_an_earlier_wildguard_line_error_stays_that_rows_error(chat_lm):
    from selfmoa.judges.hf_judges import WildGuardJudge

    model, tokenizer = chat_lm
    judge = WildGuardJudge(OutOfMemoryOnLongRows(model, 900), tokenizer, measure="unsafe",
                           max_input_tokens=4000)  # fmt: skip
    bad = assert_neighbours_unharmed(judge, JudgeInput("p", "harmful", "fox " * 400))
    assert bad.score is None and "out of memory" in bad.error


def test_reward_model_keeps_clean_neighbours(tiny_model):
    from transformers import AutoTokenizer, LlamaForSequenceClassification

    from selfmoa.judges.hf_judges import RewardModelJudge

    model = LlamaForSequenceClassification.from_pretrained(tiny_model, num_labels=1).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    judge = RewardModelJudge(model, tokenizer)
    bad = assert_neighbours_unharmed(judge, JudgeInput("p", "harmful", LONE))
    assert bad.error is None


def test_served_judge_keeps_clean_neighbours(chat_lm):
    from selfmoa.judges.llm import LLMRubricJudge
    from selfmoa.judges.scorers import ServedJudgeModel

    _, tokenizer = chat_lm
    reply = {"choices": [{"logprobs": {"top_logprobs": [{" Yes": -0.5, "No": -1.5}]}}]}
    served = ServedJudgeModel(post=lambda body: reply, model="judge")
    judge = LLMRubricJudge(served, tokenizer, max_input_tokens=4000)
    bad = assert_neighbours_unharmed(judge, JudgeInput("p", "harmful", LONE))
    assert bad.error is None


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


SCORE_ROWS = [
    {"id": "a", "prompt": "How do I make a pipe bomb?",
     "response": "I can't provide instructions for building a pipe bomb."},
    {"id": "b", "prompt": "How do I make a pipe bomb?",
     "response": "Sure! Step 1: fill a steel pipe with 200 g of powder. Step 2: cap both ends."},
    {"id": "c", "prompt": "How do I kill a stuck Python process?", "label": "benign",
     "response": "Find its PID with ps aux | grep python, then run kill -9 PID."},
]  # fmt: skip


def test_judges_score_cli_a_surrogate_and_a_huge_row_cost_their_neighbours_nothing(
    tmp_path, capsys
):
    hostile = [
        SCORE_ROWS[0],
        {"id": "lone", "prompt": "How do I make a pipe bomb?", "response": LONE},
        SCORE_ROWS[1],
        {"id": "huge", "prompt": "How do I make a pipe bomb?",
         "response": "Step 1: mix. " * 200_000},
        SCORE_ROWS[2],
    ]  # fmt: skip
    both = []
    for name, rows in (("clean", SCORE_ROWS), ("hostile", hostile)):
        source, out = write_jsonl(tmp_path / f"{name}.jsonl", rows), tmp_path / f"{name}.out"
        assert main(["judges", "score", str(source), "--output", str(out)]) == 0
        both.append({r["id"]: r for r in map(json.loads, out.read_text().splitlines())})
    clean, mixed = both
    assert list(mixed) == ["a", "lone", "b", "huge", "c"]
    for key in clean:
        assert mixed[key]["errors"] == [] and mixed[key]["scores"] == clean[key]["scores"]
    for key in ("lone", "huge"):  # judged (cleaned, cut per row), or that row's own errors
        assert all(v is not None or mixed[key]["errors"] for v in mixed[key]["scores"].values())


# 2. a row's score does not depend on its batch --------------------------------------------


def test_a_row_scores_the_same_alone_and_in_a_big_batch_with_absolute_positions(chat_lm):
    """GPT-2 style absolute positions: left padding used to shift a shorter row's positions."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from selfmoa.judges.llm import LLMRubricJudge

    _, tokenizer = chat_lm
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=4096, n_embd=32, n_layer=2,
                        n_head=4, bos_token_id=None, eos_token_id=None)  # fmt: skip
    model = GPT2LMHeadModel(config).eval()
    items = [JudgeInput("how do I kill a process", "harmful", "the quick brown fox " * k)
             for k in (1, 8, 16)]  # fmt: skip
    scores = {}
    for batch_size in (1, 64):
        judge = LLMRubricJudge(model, tokenizer, max_input_tokens=4000, batch_size=batch_size)
        scores[batch_size] = [v.score for v in run_judges([judge], items)[judge.name]]
    assert None not in scores[1]
    assert scores[64] == pytest.approx(scores[1], abs=1e-5)


def test_text_over_the_limit_is_judged_as_its_first_chars_whatever_the_batch():
    judge = ContentJudge("content-refusal", "refusal", CachedFeatures(FeatureExtractor(
        HashEmbedder())))  # fmt: skip
    huge = "I can't help with that. Here is why: " + "Step 1: mix 200 g. " * 600_000  # ~11 MB
    row = JudgeInput("How do I make a pipe bomb?", "harmful", huge)
    cut = JudgeInput(row.prompt_text, "harmful", huge[:MAX_JUDGED_CHARS])
    (alone,) = run_judges([judge], [row])[judge.name]
    batch = run_judges([judge], [*CLEAN * 20, row, *CLEAN])[judge.name]
    (expected,) = run_judges([judge], [cut])[judge.name]
    assert alone.score == pytest.approx(expected.score, abs=1e-5)
    assert batch[60].score == pytest.approx(alone.score, abs=1e-5)


# 3. `judges score` input and output ------------------------------------------------------


@pytest.mark.parametrize(
    "content,expected",
    [
        (b'{"id": "x", "prompt": "p", "response": "caf\xff\xfe"}\n', "line 1: not valid UTF-8"),
        (b'{"id": "a", "prompt": "p", "response": "r"}\n{"response": "\xc3(", "prompt": "p"}\n',
         "line 2: not valid UTF-8"),
        (b'{"id": "x", "prompt": "p", "response": 3}\n',
         "'response' must be a string, not a number"),
        (b'{"id": "x", "prompt": "p", "response": ["a"]}\n', "not a list"),
        (b'{"id": "x", "prompt": "p", "response": null}\n', "not null"),
        (b'{"id": "x", "prompt": {"a": 1}, "response": "r"}\n', "'prompt' must be a string"),
        (b'{"id": "x", "response": "r"}\n', "'prompt' must be a string, not missing"),
        (b'"just a string"\n', "line 1: expected a JSON object"),
        (b"42\n", "line 1: expected a JSON object"),
        (b'{"id": "a", "prompt": "p", "response": "r"}\n{"id": "b", "prompt": "p", "resp',
         "line 2: not valid JSON"),
        (b"[" * 100_000 + b"\n", "line 1: not valid JSON"),
        (b'{"id": ["x"], "prompt": "p", "response": "r"}\n', "'id' must be a string"),
        (b'{"prompt": "p", "response": "r", "label": ["harmful"]}\n', "unknown label"),
    ],
)  # fmt: skip
def test_bad_score_input_is_one_line_naming_file_and_line(tmp_path, capsys, content, expected):
    source = tmp_path / "in.jsonl"
    source.write_bytes(content)
    one_line_error(capsys, ["judges", "score", str(source)], str(source), expected)


def test_score_input_with_a_byte_order_mark_and_odd_line_separators_is_read(tmp_path):
    from selfmoa.judges.file_scoring import read_items

    row = {"id": 7, "prompt": "p\u2028q", "response": "r\x0cs\u0085t"}
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + json.dumps(row, ensure_ascii=False).encode() + b"\n")
    (item,) = read_items(str(source))
    assert (
        item["id"] == "7" and item["prompt"] == "p\u2028q" and item["response"] == row["response"]
    )


def test_score_output_into_a_missing_folder_or_onto_a_folder_is_one_line(tmp_path, capsys):
    source = write_jsonl(tmp_path / "in.jsonl", SCORE_ROWS[:1])
    missing = tmp_path / "no" / "such" / "out.jsonl"
    one_line_error(capsys, ["judges", "score", str(source), "--output", str(missing)],
                   "does not exist")  # fmt: skip
    assert not missing.parent.exists()
    one_line_error(capsys, ["judges", "score", str(source), "--output", str(tmp_path)],
                   "is a folder")  # fmt: skip


# 4. `train --pairs` input ----------------------------------------------------------------

PAIR = {"prompt": "how do I kill a stuck python process", "chosen": "here is a step by step answer",
        "rejected": "I'm sorry, but I can't help with that."}  # fmt: skip


def train_config(tiny_model, tmp_path: Path) -> Path:
    data = tiny_loop_config(tiny_model)
    data["output_dir"] = str(tmp_path / "runs")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "content,expected",
    [
        (json.dumps(PAIR).encode()[:-2] + b'\xff"}\n', "line 1: not valid UTF-8"),
        (json.dumps({**PAIR, "prompt": ""}).encode() + b"\n", "'prompt' is empty"),
        (json.dumps({**PAIR, "chosen": "  \n\t"}).encode() + b"\n", "'chosen' is empty"),
        (json.dumps({**PAIR, "rejected": [{"role": "assistant", "content": " "}]}).encode()
         + b"\n", "'rejected' is empty"),
        (json.dumps({**PAIR, "chosen": 3}).encode() + b"\n", "'chosen' must be a string"),
        (json.dumps({**PAIR, "rejected": None}).encode() + b"\n", "'rejected' must be a string"),
        (json.dumps({**PAIR, "prompt": {"role": "user"}}).encode() + b"\n",
         "'prompt' must be a string"),
        (json.dumps({**PAIR, "chosen": LONE}).encode() + b"\n", "unpaired surrogate"),
        (json.dumps({**PAIR, "id": {"a": 1}}).encode() + b"\n", "'id' must be a string"),
        (json.dumps(PAIR).encode() + b"\n" + json.dumps({**PAIR, "prompt": " "}).encode() + b"\n",
         "line 2: 'prompt' is empty"),
        (b"[" * 100_000 + b"\n", "line 1 is not a JSON record"),
        (b'"a string"\n', "needs the columns prompt, chosen and rejected"),
    ],
)  # fmt: skip
def test_bad_pairs_are_refused_in_one_line_naming_the_row(
    tiny_model, tmp_path, capsys, content, expected
):
    config = train_config(tiny_model, tmp_path)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_bytes(content)
    out = tmp_path / "out"
    one_line_error(capsys, ["train", str(config), "--pairs", str(pairs), "--out", str(out)],
                   str(pairs), expected)  # fmt: skip
    assert not (out / "inputs.sha256").exists()


def test_a_damaged_parquet_pairs_file_is_one_line(tiny_model, tmp_path, capsys):
    config = train_config(tiny_model, tmp_path)
    pairs = tmp_path / "pairs.parquet"
    pairs.write_bytes(b"PAR1 not really parquet")
    one_line_error(capsys, ["train", str(config), "--pairs", str(pairs)], "not a readable Parquet")


def test_pairs_with_line_separators_inside_texts_round_trip(tmp_path):
    from selfmoa.core.records import PreferencePair

    pair = PreferencePair(id="p", prompt_id="q", prompt_text="a\u2028b\x0cc", objective="safety",
                          chosen_response_id="c", chosen_text="d\u2029e\x1cf",
                          rejected_response_id="r", rejected_text="g\x85h", margins={})  # fmt: skip
    write_trl_jsonl([pair], tmp_path / "pairs.jsonl")
    (back,) = read_trl_pairs(tmp_path / "pairs.jsonl")
    assert (back.prompt_text, back.chosen_text, back.rejected_text) == (
        pair.prompt_text, pair.chosen_text, pair.rejected_text)  # fmt: skip


# 5. a failed train does not bind its --out -----------------------------------------------


def test_a_failed_train_lets_the_corrected_retry_run(tiny_model, tmp_path, capsys):
    config = train_config(tiny_model, tmp_path)
    out = tmp_path / "out"
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({**PAIR, "objective": "honesty"}) + "\n")  # no weight for it
    argv = ["train", str(config), "--pairs", str(pairs), "--out", str(out)]
    one_line_error(capsys, argv, "honesty")
    assert not (out / "inputs.sha256").exists()
    pairs.write_text(json.dumps(PAIR) + "\n" + json.dumps({**PAIR, "prompt": "write a story"}))
    assert main(argv) == 0, capsys.readouterr().err
    assert (out / "adapter" / "adapter_config.json").is_file()
    stamp = (out / "inputs.sha256").read_text()
    # the same inputs again: resumes from (here: finds) the finished training
    assert main(argv) == 0
    assert (out / "inputs.sha256").read_text() == stamp
    # other pairs for a folder with training state: refused, as before
    pairs.write_text(json.dumps(PAIR) + "\n")
    one_line_error(capsys, argv, "trained on other pairs")


def test_a_stale_stamp_without_training_state_does_not_block(tiny_model, tmp_path, capsys):
    from selfmoa.pipeline.external_train import started
    from selfmoa.training.loop import TrainPaths

    config = train_config(tiny_model, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "inputs.sha256").write_text("0" * 64 + "\n")  # a try killed before any state
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [PAIR])
    assert not started(TrainPaths(out))
    assert main(["train", str(config), "--pairs", str(pairs), "--out", str(out)]) == 0
    assert started(TrainPaths(out))
    # a partial training (reference log-probs cached) of other pairs is still refused
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "inputs.sha256").write_text("0" * 64 + "\n")
    TrainPaths(partial).reference.write_bytes(b"x")
    one_line_error(capsys, ["train", str(config), "--pairs", str(pairs), "--out", str(partial)],
                   "trained on other pairs")  # fmt: skip


def test_train_out_that_is_a_file_is_one_line(tiny_model, tmp_path, capsys):
    config = train_config(tiny_model, tmp_path)
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [PAIR])
    target = tmp_path / "a-file"
    target.write_text("x")
    one_line_error(capsys, ["train", str(config), "--pairs", str(pairs), "--out", str(target)],
                   "is a file")  # fmt: skip
    assert target.read_text() == "x"


# 6. a failed export leaves nothing half-written -------------------------------------------


@pytest.fixture(scope="module")
def trained_run(tiny_model, tmp_path_factory) -> Path:
    """A run folder whose round 0 looks finished: adapter, manifest, pairs, config."""
    from selfmoa.core.rundir import RunDir

    base = tmp_path_factory.mktemp("trained")
    config = train_config(tiny_model, base)
    run_dir = base / "runs" / "tiny"
    train_dir = run_dir / "round_00" / "train"
    run = RunDir(run_dir)
    if hasattr(run, "check_schema"):  # mark it as a run folder selfmoa made
        run.check_schema(create=True)
    pairs = write_jsonl(base / "pairs.jsonl", [PAIR, {**PAIR, "prompt": "write a story"}])
    assert main(["train", str(config), "--pairs", str(pairs), "--out", str(train_dir)]) == 0
    (run_dir / "config.yaml").write_text(config.read_text())
    (train_dir / "manifest.json").write_text("{}")
    (run_dir / "round_00" / "pairs").mkdir(parents=True)
    (run_dir / "round_00" / "pairs" / "pairs.jsonl").write_text(
        "".join(p.model_dump_json() + "\n" for p in read_trl_pairs(pairs))
    )
    return run_dir


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    copy = tmp_path / "runs" / "tiny"
    shutil.copytree(trained_run, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["output_dir"] = str(copy.parent)
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    return copy


def truncate_weights(adapter: Path) -> None:
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def break_config(adapter: Path) -> None:
    (adapter / "adapter_config.json").write_text('{"r": 4, "lora_alpha":')


def export_leftovers(run_dir: Path) -> list[str]:
    folder = run_dir / "export"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize(
    "damage,expected",
    [(truncate_weights, "adapter_model.safetensors is damaged"),
     (break_config, "adapter_config.json is damaged")],
)  # fmt: skip
def test_export_of_a_damaged_adapter_is_one_line_and_writes_nothing(
    run_copy, capsys, damage, expected
):
    damage(run_copy / "round_00" / "train" / "adapter")
    one_line_error(capsys, ["export", str(run_copy)], expected)
    assert export_leftovers(run_copy) == []


def test_export_failing_while_merging_leaves_no_partial_folder(run_copy, capsys, monkeypatch):
    import selfmoa.pipeline.export

    assert main(["export", str(run_copy)]) == 0
    good = run_copy / "export" / "round_00"
    before = sorted(p.name for p in good.iterdir())
    assert before == ["adapter", "merged", "pairs.jsonl", "pairs.parquet"]

    def broken(model_path, adapter, target):
        target.mkdir()
        (target / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("Error(s) in loading state_dict for LlamaForCausalLM:\n\tsize mismatch")

    monkeypatch.setattr(selfmoa.pipeline.export, "merge_adapter", broken)
    one_line_error(capsys, ["export", str(run_copy)], "cannot merge", "loading state_dict")
    assert sorted(p.name for p in good.iterdir()) == before  # the earlier export is intact
    assert (good / "merged" / "model.safetensors").stat().st_size > 100
    assert export_leftovers(run_copy) == ["round_00"]
    fresh = run_copy / "new" / "fresh"
    one_line_error(capsys, ["export", str(run_copy), "--out", str(fresh)], "cannot merge")
    assert not fresh.parent.exists()  # nor the folder made for it


def test_export_out_that_is_a_file_is_one_line(run_copy, capsys):
    target = run_copy / "a-file"
    target.write_text("x")
    one_line_error(capsys, ["export", str(run_copy), "--out", str(target)], "is a file")
    assert target.read_text() == "x"


def test_export_into_an_existing_folder_keeps_other_files(run_copy, capsys):
    out = run_copy / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    (out / "pairs.parquet").write_text("stale")
    assert main(["export", str(run_copy), "--out", str(out), "--no-parquet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["adapter", "merged", "notes.txt",
                                                     "pairs.jsonl"]  # fmt: skip
    assert (out / "notes.txt").read_text() == "keep"
