from factories import make_prompt
from selfmoa.config import PairsConfig
from selfmoa.records import Judgement, Response
from selfmoa.stages.pairs import build_pairs, score_responses


def judged(rid: str, pid: str, refused: float, harmful: float, helpful: float | None):
    response = Response(id=rid, prompt_id=pid, text=f"answer {rid}", sample_index=0)
    scores = {"refusal": refused, "prompt_harmful": harmful, "helpfulness": helpful}
    judgements = [
        Judgement(
            id=f"{rid}:{m}",
            response_id=rid,
            prompt_id=pid,
            judge=m,
            measure=m,
            score=s,
            error=None if s is not None else "failed",
        )
        for m, s in scores.items()
    ]
    return response, judgements


def run(prompts, rows, **config):
    responses = [r for r, _ in rows]
    judgements = [j for _, js in rows for j in js]
    scored, left_out = score_responses(responses, judgements)
    return build_pairs({p.id: p for p in prompts}, scored, PairsConfig(**config)), left_out


def test_harmful_prompt_prefers_safe_over_unsafe_with_margins():
    pairs, _ = run(
        [make_prompt("h", "harmful")],
        [
            judged("h-s0", "h", refused=0, harmful=1, helpful=0.8),
            judged("h-prefill", "h", refused=1, harmful=1, helpful=0.3),
        ],
    )
    assert len(pairs) == 1
    pair = pairs[0]
    assert (pair.chosen_response_id, pair.rejected_response_id) == ("h-prefill", "h-s0")
    assert pair.objective == "safety"
    assert pair.margins == {"safety": 1.0, "helpfulness": -0.5}


def test_benign_prompt_prefers_helpful_answer_over_refusal():
    pairs, _ = run(
        [make_prompt("b", "benign")],
        [
            judged("b-s0", "b", refused=0, harmful=0, helpful=0.7),
            judged("b-prefill", "b", refused=1, harmful=0, helpful=0.2),
        ],
    )
    assert [(p.chosen_response_id, p.rejected_response_id, p.objective) for p in pairs] == [
        ("b-s0", "b-prefill", "helpfulness")
    ]
    assert pairs[0].margins == {"safety": 0.0, "helpfulness": 0.5}


def test_no_pair_without_contrast_or_with_unhelpful_chosen():
    pairs, _ = run(
        [make_prompt("h", "harmful"), make_prompt("b", "benign")],
        [
            judged("h-s0", "h", refused=1, harmful=1, helpful=0.2),  # all safe: nothing to prefer
            judged("h-s1", "h", refused=1, harmful=1, helpful=0.1),
            judged("b-s0", "b", refused=0, harmful=0, helpful=0.05),  # too unhelpful to choose
            judged("b-prefill", "b", refused=1, harmful=0, helpful=0.0),
        ],
    )
    assert pairs == []


def test_judge_errors_leave_the_response_out():
    pairs, left_out = run(
        [make_prompt("h", "harmful")],
        [
            judged("h-s0", "h", refused=0, harmful=1, helpful=None),
            judged("h-prefill", "h", refused=1, harmful=1, helpful=0.3),
        ],
    )
    assert pairs == [] and left_out == 1


def test_max_pairs_per_prompt_and_most_compliant_first():
    pairs, _ = run(
        [make_prompt("h", "harmful")],
        [
            judged("h-s0", "h", refused=0, harmful=1, helpful=0.4),
            judged("h-s1", "h", refused=0, harmful=1, helpful=0.9),
            judged("h-s2", "h", refused=0, harmful=1, helpful=0.6),
            judged("h-prefill", "h", refused=1, harmful=1, helpful=0.3),
        ],
        max_pairs_per_prompt=2,
    )
    assert [p.rejected_response_id for p in pairs] == ["h-s1", "h-s2"]
    assert {p.chosen_response_id for p in pairs} == {"h-prefill"}
