import pytest

from selfmoa.core.records import CapabilityItem
from selfmoa.evals.capability import accuracy, score_items, sequence_logliks
from selfmoa.evals.mc_sets import MC_SETS, MCItem, subsample


def item(benchmark: str, answer: int, choice: int, choice_norm: int) -> CapabilityItem:
    return CapabilityItem(
        id=f"{benchmark}-{answer}{choice}{choice_norm}",
        benchmark=benchmark,
        answer=answer,
        choice=choice,
        choice_norm=choice_norm,
        logliks=[],
    )


def test_accuracy_by_hand():
    rows = [item("arc", 0, 0, 1), item("arc", 1, 0, 1), item("arc", 2, 2, 2), item("mmlu", 3, 3, 0)]
    result = accuracy(rows)
    assert {k: v for k, v in result["arc"].items() if not k.endswith("_ci")} == {
        "n": 3,
        "acc": round(2 / 3, 4),
        "acc_norm": round(2 / 3, 4),
    }
    assert (result["mmlu"]["acc"], result["mmlu"]["acc_norm"]) == (1.0, 0.0)
    low, high = result["arc"]["acc_ci"]
    assert low < 2 / 3 < high and (low, high) == (0.208, 0.939)  # Wilson, 2 of 3 (by hand)


def test_length_normalisation_can_flip_the_choice(monkeypatch):
    # option 0: ll -4 over 2 bytes (-2/byte); option 1: ll -6 over 12 bytes (-0.5/byte)
    monkeypatch.setattr("selfmoa.evals.capability.sequence_logliks", lambda *a, **k: [-4.0, -6.0])
    mc = MCItem("q", "arc_challenge", "", ("Q:", "Q:"), (" a", " a long one!"), 1)
    scored = score_items(None, _Tok(), [mc], 8)[0]
    assert (scored.choice, scored.choice_norm) == (0, 1)


class _Tok:
    """Splits on characters, so every continuation above is longer than one token."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def test_one_token_options_read_once_equal_full_scoring(tiny_model):
    import torch

    from selfmoa.backends.hf import load_causal_lm, load_tokenizer
    from selfmoa.evals.capability import next_token_logliks

    tokenizer = load_tokenizer(str(tiny_model))
    model = load_causal_lm(str(tiny_model), "float32", torch.device("cpu")).eval()
    options = ("I", "h", "w")
    items = [
        MCItem("a", "mmlu", "", ("how do I kill a stuck",) * 3, options, 0),
        MCItem("b", "mmlu", "", ("the quick brown fox jumps over the lazy",) * 3, options, 1),
    ]
    fast = next_token_logliks(model, tokenizer, items, batch_size=2)
    for row, mc in zip(fast, items, strict=True):
        full = sequence_logliks(model, tokenizer, list(zip(mc.contexts, options, strict=True)), 8)
        assert row == pytest.approx(full, abs=1e-4)


@pytest.mark.parametrize(
    "name,count",
    [
        ("mmlu", 14042),
        ("arc_challenge", 2590),
        ("hellaswag", 49947),
        ("winogrande", 41663),
        ("truthfulqa_mc1", 483),
    ],
)
def test_loaders_read_the_real_files(name, count):
    items = MC_SETS[name]()
    assert len(items) == count
    assert len({i.id for i in items}) == count
    for mc in items[:500]:
        assert len(mc.contexts) == len(mc.continuations) >= 2
        assert 0 <= mc.answer < len(mc.continuations)
        assert all(c.strip() for c in mc.continuations)
    sample = subsample(items, 20, seed=0)
    assert sample == subsample(items, 20, seed=0) and len(sample) == 20
