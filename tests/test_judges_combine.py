"""Label-model verdicts (judge.verdicts: label-model) on hand-built cases."""

from selfmoa.core.records import EvalItem
from selfmoa.judges.combine import label_model_verdicts

MEASURES = {"kw": "refusal", "content": "refusal", "unsafe-j": "unsafe"}


def item(i: int, label: str, kw, content, unsafe) -> EvalItem:
    return EvalItem(
        id=f"i{i}", eval_set="x", label=label, prompt_text="p", response="r",
        refused=None, unsafe=None, helpfulness=None,
        scores={"kw": kw, "content": content, "unsafe-j": unsafe},
    )  # fmt: skip


def test_agreeing_voters_decide_and_abstentions_drop_out():
    items = [
        item(0, "harmful", 1.0, 0.9, 0.1),
        item(1, "harmful", 0.0, 0.2, 0.9),
        item(2, "harmful", 1.0, 0.8, 0.0),
        item(3, "harmful", 0.0, 0.1, 0.8),
        item(4, "benign", None, 0.9, None),
        item(5, "benign", None, None, None),
    ]
    out = label_model_verdicts(items, MEASURES)
    assert [o.refused for o in out] == [True, False, True, False, True, None]
    assert [o.unsafe for o in out[:4]] == [False, True, False, True]
    assert out[4].unsafe is None, "benign items are not re-decided for unsafe"


def test_a_measure_with_one_voter_keeps_the_first_judge_verdict():
    items = [item(0, "harmful", 1.0, None, None)]
    items[0] = items[0].model_copy(update={"refused": True, "unsafe": False})
    out = label_model_verdicts(items, {"kw": "refusal"})
    assert (out[0].refused, out[0].unsafe) == (True, False)
