"""Outcomes and red-team metrics of the archive stage, against hand-computed cases."""

import torch

from factories import make_prompt
from selfmoa.judges.verdicts import Decision
from selfmoa.records import Response
from selfmoa.stages.archive import mean_pairwise_distance, origin_of, outcomes, round_metrics
from selfmoa.stages.pairs import ScoredResponse


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
    assert result["a"].helpfulness == 0.4
    assert (result["b"].unsafe_training, result["b"].unsafe_evaluation) == (0, 1)

    benign = make_prompt("n", label="benign", form="question")
    metrics = round_metrics([a, b, dropped, benign], result, None)
    assert metrics["attack_success"]["n"] == 2 and metrics["attack_success"]["rate"] == 0.5
    assert metrics["by_origin"]["progressive"]["rate"] == 1.0
    assert metrics["by_origin"]["fresh"]["rate"] == 0.0
    assert metrics["by_mutation"] == {"form": metrics["by_origin"]["progressive"]}
    assert metrics["by_form"]["command"]["n"] == 1
    assert metrics["rejected"] == {"not a request": 1}
    assert (metrics["written"], metrics["kept"]) == (3, 2)
    assert origin_of(make_prompt("t", strategy="jailbreak:x")) == "template"


def test_mean_pairwise_distance():
    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # pairs: (0,1) 1-0, (0,2) 1-1, (1,2) 1-0 -> mean distance 2/3
    assert abs(mean_pairwise_distance(vectors) - 2 / 3) < 1e-4
    assert mean_pairwise_distance(vectors[:1]) is None
