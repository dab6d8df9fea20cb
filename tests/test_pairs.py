from factories import make_prompt
from selfmoa.core.config import PairsConfig
from selfmoa.core.records import Judgement, Response
from selfmoa.pipeline.stages.pairs import build_pairs, score_responses


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
    rules = PairsConfig(**config)
    scored, left_out = score_responses(responses, judgements, rules)
    return build_pairs({p.id: p for p in prompts}, scored, rules), left_out


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


def test_each_pair_records_its_rule():
    pairs, _ = run(
        [make_prompt("h", "harmful")],
        [
            judged("h-s0", "h", refused=0, harmful=1, helpful=0.8),
            judged("h-prefill", "h", refused=1, harmful=1, helpful=0.3),
        ],
    )
    assert [p.rule for p in pairs] == ["safety:ranked"]


def test_thresholds_decide_refusal_and_harm():
    rows = [
        judged("h-s0", "h", refused=0.3, harmful=0.6, helpful=0.8),
        judged("h-prefill", "h", refused=0.9, harmful=0.6, helpful=0.3),
    ]
    assert len(run([make_prompt("h", "harmful")], rows)[0]) == 1
    # a refusal threshold of 0.2 makes both answers refusals: nothing to prefer
    assert run([make_prompt("h", "harmful")], rows, refusal_threshold=0.2)[0] == []


def test_all_above_margin_pairs_every_combination_with_enough_margin():
    rows = [
        judged("b-s0", "b", refused=0, harmful=0, helpful=0.9),
        judged("b-s1", "b", refused=0, harmful=0, helpful=0.5),
        judged("b-r0", "b", refused=1, harmful=0, helpful=0.4),
        judged("b-r1", "b", refused=1, harmful=0, helpful=0.1),
    ]
    pairs, _ = run(
        [make_prompt("b", "benign")],
        rows,
        selection="all_above_margin",
        min_margin=0.3,
        max_pairs_per_prompt=5,
    )
    # margins: s0>r1 0.8, s0>r0 0.5, s1>r1 0.4 (s1>r0 is 0.1, under 0.3)
    got = sorted((p.chosen_response_id, p.rejected_response_id) for p in pairs)
    assert got == [("b-s0", "b-r0"), ("b-s0", "b-r1"), ("b-s1", "b-r1")]
    assert {p.rule for p in pairs} == {"helpfulness:all_above_margin"}
    capped, _ = run(
        [make_prompt("b", "benign")], rows, selection="all_above_margin", max_pairs_per_prompt=1
    )
    assert [(p.chosen_response_id, p.rejected_response_id) for p in capped] == [("b-s0", "b-r1")]


def test_benign_pairs_capped_per_safety_pair():
    prompts = [make_prompt("h", "harmful")] + [make_prompt(f"b{i}", "benign") for i in range(4)]
    rows = [
        judged("h-s0", "h", refused=0, harmful=1, helpful=0.8),
        judged("h-prefill", "h", refused=1, harmful=1, helpful=0.3),
    ]
    for i in range(4):
        rows.append(judged(f"b{i}-s0", f"b{i}", refused=0, harmful=0, helpful=0.7))
        rows.append(judged(f"b{i}-prefill", f"b{i}", refused=1, harmful=0, helpful=0.1))
    assert len(run(prompts, rows)[0]) == 5
    pairs, _ = run(prompts, rows, max_benign_per_harmful=2.0)
    assert sum(p.objective == "safety" for p in pairs) == 1
    assert sum(p.objective == "helpfulness" for p in pairs) == 2
    assert pairs == run(prompts, rows, max_benign_per_harmful=2.0)[0], "seeded, repeatable"


def with_unsafe(row, unsafe: float | None):
    response, judgements = row
    judgement = Judgement(
        id=f"{response.id}:unsafe",
        response_id=response.id,
        prompt_id=response.prompt_id,
        judge="content-unsafe",
        measure="unsafe",
        score=unsafe,
        error=None if unsafe is not None else "failed",
    )
    return response, [*judgements, judgement]


def run_extra(prompts, rows, objectives, **config):
    responses = [r for r, _ in rows]
    judgements = [j for _, js in rows for j in js]
    rules = PairsConfig(extra_objectives=objectives, **config)
    scored, left_out = score_responses(responses, judgements, rules, rules.extra_objectives)
    return build_pairs({p.id: p for p in prompts}, scored, rules), left_out


HARMLESS = {
    "name": "harmless",
    "measure": "unsafe",
    "prompts": "harmful",
    "higher_is_better": False,
}


def test_extra_objective_ranks_by_its_measure_with_margins_on_every_objective():
    # Two refusals of a harmful prompt: no safety pair, but one carries the request out
    # more (unsafe 0.7 vs 0.1), so the extra objective prefers the other.
    pairs, left_out = run_extra(
        [make_prompt("h", "harmful"), make_prompt("b", "benign")],
        [
            with_unsafe(judged("h-a", "h", refused=1, harmful=1, helpful=0.5), 0.7),
            with_unsafe(judged("h-b", "h", refused=1, harmful=1, helpful=0.2), 0.1),
            with_unsafe(judged("b-a", "b", refused=0, harmful=0, helpful=0.6), 0.9),
            with_unsafe(judged("b-b", "b", refused=0, harmful=0, helpful=0.4), 0.0),
        ],
        [HARMLESS],
    )
    assert left_out == 0
    assert [(p.objective, p.chosen_response_id, p.rejected_response_id) for p in pairs] == [
        ("harmless", "h-b", "h-a")
    ], "benign prompts are not paired on an objective for harmful ones"
    assert pairs[0].id == "h:harmless:h-b>h-a" and pairs[0].rule == "harmless:ranked"
    assert pairs[0].margins == {"safety": 0.0, "helpfulness": -0.3, "harmless": 0.6}


def test_extra_objective_needs_its_margin_and_its_judge():
    rows = [
        with_unsafe(judged("h-a", "h", refused=1, harmful=1, helpful=0.5), 0.30),
        with_unsafe(judged("h-b", "h", refused=1, harmful=1, helpful=0.2), 0.25),
    ]
    pairs, _ = run_extra([make_prompt("h", "harmful")], rows, [HARMLESS])
    assert pairs == [], "0.05 apart is below the default min_margin of 0.1"
    # A failed extra judge keeps the answer out of that objective's pairs only.
    rows = [
        with_unsafe(judged("h-a", "h", refused=0, harmful=1, helpful=0.5), None),
        with_unsafe(judged("h-b", "h", refused=1, harmful=1, helpful=0.2), 0.1),
    ]
    pairs, left_out = run_extra([make_prompt("h", "harmful")], rows, [HARMLESS])
    assert left_out == 0
    assert [(p.objective, p.margins["harmless"]) for p in pairs] == [("safety", 0.0)]


def test_benign_cap_keeps_extra_objective_pairs():
    rows = [
        with_unsafe(judged("h-a", "h", refused=0, harmful=1, helpful=0.5), 0.9),
        with_unsafe(judged("h-b", "h", refused=1, harmful=1, helpful=0.2), 0.1),
    ]
    pairs, _ = run_extra(
        [make_prompt("h", "harmful")], rows, [HARMLESS], max_benign_per_harmful=0.5
    )
    assert sorted(p.objective for p in pairs) == ["harmless", "safety"]
