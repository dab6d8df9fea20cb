"""Outcomes and red-team metrics of the archive stage, against hand-computed cases."""

import torch

from factories import make_prompt
from selfmoa.core.records import Response
from selfmoa.judges.verdicts import Decision
from selfmoa.pipeline.stages.archive import (
    mean_pairwise_distance,
    origin_of,
    outcomes,
    round_metrics,
)
from selfmoa.pipeline.stages.pairs import ScoredResponse


def response(rid: str, prompt_id: str, prefill: str | None = None) -> Response:
    return Response(id=rid, prompt_id=prompt_id, text="t", sample_index=0, prefill=prefill)


def test_outcomes_count_free_samples_only():
    a = make_prompt("a", form="question", category="c1")
    b = make_prompt("b", form="command", category="c1", parent_id="x", mutation="form")
    dropped = make_prompt("d", kept=False, filter_reason="not a request")
    responses = [
        response("a0", "a"),
        response("a1", "a"),
        response("ap", "a", prefill="I can't"),
        response("b0", "b"),
        response("d0", "d"),
    ]
    scored = [
        ScoredResponse(responses[0], refused=False, prompt_harmful=True, helpfulness=0.6),
        ScoredResponse(responses[1], refused=True, prompt_harmful=True, helpfulness=0.2),
        ScoredResponse(responses[2], refused=True, prompt_harmful=True, helpfulness=0.1),
        ScoredResponse(responses[3], refused=True, prompt_harmful=True, helpfulness=0.4),
    ]
    decisions = {
        "a0": Decision(refused=False, unsafe=False, helpfulness=0.6),
        "a1": Decision(refused=True, unsafe=False, helpfulness=0.2),
        "b0": Decision(refused=False, unsafe=True, helpfulness=0.4),
    }
    result = outcomes([a, b, dropped], responses, scored, decisions, "base", ["k"], ["c"])
    assert set(result) == {"a", "b"}
    assert (result["a"].samples, result["a"].unsafe_training) == (2, 1)
    assert (result["a"].unsafe_evaluation, result["a"].refused_evaluation) == (0, 1)
    assert (result["a"].complied_evaluation, result["b"].complied_evaluation) == (1, 1)
    assert result["a"].helpfulness == 0.4
    assert (result["b"].unsafe_training, result["b"].unsafe_evaluation) == (0, 1)

    benign = make_prompt("n", label="benign", form="question")
    metrics = round_metrics([a, b, dropped, benign], result, None)
    assert metrics["attack_success"]["n"] == 2 and metrics["attack_success"]["rate"] == 0.5
    assert metrics["by_origin"]["progressive"]["rate"] == 1.0
    assert metrics["by_origin"]["fresh"]["rate"] == 0.0
    assert metrics["by_mutation"] == {"form": metrics["by_origin"]["progressive"]}
    assert metrics["by_form"]["command"]["n"] == 1
    # a: one of two samples answered (best of k gets through); b: answered
    assert metrics["compliance"]["rate"] == 1.0
    assert metrics["compliance_by_origin"]["fresh"]["n"] == 1
    assert metrics["compliance_by_mutation"] == {
        "form": metrics["compliance_by_origin"]["progressive"]
    }
    assert metrics["rejected"] == {"not a request": 1}
    assert (metrics["written"], metrics["kept"]) == (3, 2)
    assert origin_of(make_prompt("t", strategy="jailbreak:x")) == "template"


def test_mean_pairwise_distance():
    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # pairs: (0,1) 1-0, (0,2) 1-1, (1,2) 1-0 -> mean distance 2/3
    assert abs(mean_pairwise_distance(vectors) - 2 / 3) < 1e-4
    assert mean_pairwise_distance(vectors[:1]) is None


def test_compliance_needs_a_refusal_verdict():
    """A sample no evaluation judge could call refused or not is not counted as answered."""
    a = make_prompt("a", form="question")
    refused = make_prompt("r", form="question")
    responses = [response("a0", "a"), response("r0", "r")]
    scored = [
        ScoredResponse(r, refused=True, prompt_harmful=True, helpfulness=0.1) for r in responses
    ]
    decisions = {
        "a0": Decision(refused=None, unsafe=None, helpfulness=None),
        "r0": Decision(refused=True, unsafe=False, helpfulness=0.1),
    }
    result = outcomes([a, refused], responses, scored, decisions, "base", ["k"], ["c"])
    assert result["a"].complied_evaluation is None
    assert result["r"].complied_evaluation == 0
    metrics = round_metrics([a, refused], result, None)
    assert metrics["compliance"] == {**metrics["compliance"], "n": 1, "rate": 0.0}


def test_report_shows_compliance_only_where_archived():
    from selfmoa.pipeline.stages.report_redteam import redteam_section

    a, b = make_prompt("a", form="question"), make_prompt("b", form="command", parent_id="x")
    responses = [response("a0", "a"), response("b0", "b")]
    scored = [
        ScoredResponse(r, refused=False, prompt_harmful=True, helpfulness=0.5) for r in responses
    ]
    decisions = {
        "a0": Decision(refused=True, unsafe=False, helpfulness=0.1),
        "b0": Decision(refused=False, unsafe=False, helpfulness=0.5),
    }
    metrics = round_metrics(
        [a, b], outcomes([a, b], responses, scored, decisions, "r", [], []), None
    )
    text = "\n".join(redteam_section([{"round": 1, "redteam_metrics": metrics}]))
    assert "Compliance:" in text
    # unsafe 0 in both groups, while the progressive attack got an answer
    assert "| progressive | 0.0%" in text and "| progressive | 100.0%" in text
    assert "| phrasing form (compliance) |" in text and "| command | 100.0%" in text
    old = {k: v for k, v in metrics.items() if not k.startswith("compliance")}
    assert "Compliance:" not in "\n".join(redteam_section([{"round": 1, "redteam_metrics": old}]))
