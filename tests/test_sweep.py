"""``selfmoa sweep``: shared stages run once, one trained policy per weight vector."""

import json

import pytest

from conftest import tiny_loop_config
from selfmoa.core.config import config_from_dict
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.records import PreferencePair
from selfmoa.pipeline.sweep import label_of, pareto_front, parse_weights, run_sweep
from selfmoa.training.loop import budget_sample


def point(name, asr, helpfulness, capability):
    return {
        "policy": name,
        "attack_success": {"rate": asr},
        "helpfulness": helpfulness,
        "capability": capability,
    }


def test_pareto_front_marks_the_undominated_policies():
    points = [
        point("base", 0.7, 0.6, 0.30),
        point("safe", 0.2, 0.5, 0.30),  # safer, less helpful: on the front
        point("worse", 0.3, 0.4, 0.29),  # dominated by "safe"
        point("balanced", 0.3, 0.6, 0.31),  # best capability: on the front
        point("tie", 0.2, 0.5, 0.30),  # equal to "safe": neither dominates the other
    ]
    assert pareto_front(points) == [False, True, False, True, True]


def test_weights_parse_and_name_folders():
    weights = parse_weights("safety=1, helpfulness=0.25")
    assert weights == {"safety": 1.0, "helpfulness": 0.25}
    assert label_of(weights) == "safety1_helpfulness0.25"
    for bad in ("safety", "Safety=1", "safety=x"):
        with pytest.raises(SelfMoaError, match="--weights"):
            parse_weights(bad)


def test_sweep_trains_one_policy_per_vector_on_shared_stages(tmp_path, tiny_model):
    config = config_from_dict(tiny_loop_config(tiny_model, output_dir=str(tmp_path)))
    logs: list[str] = []
    vectors = [{"safety": 1.0, "helpfulness": 0.0}, {"safety": 1.0, "helpfulness": 1.0}]
    table = run_sweep(config, vectors, logs.append)
    main = tmp_path / "tiny"
    assert not (main / "round_00" / "train").exists(), "the main run trains nothing"
    # Each policy run skipped every copied stage and ran only its own.
    for label in ("safety1_helpfulness0", "safety1_helpfulness1"):
        policy = main / "sweep" / label
        assert (policy / "round_00" / "train" / "adapter" / "adapter_config.json").is_file()
        for shared in ("redteam", "sample", "judge", "pairs"):
            source = main / "round_00" / shared / "manifest.json"
            copied = policy / "round_00" / shared / "manifest.json"
            assert copied.read_text() == source.read_text()
    ran = [line.split("] ", 1)[1].split(":")[0] for line in logs if line.startswith("[start]")]
    assert ran.count("round 0 sample") == 1 and ran.count("round 0 train") == 2
    counts = [
        json.loads((main / "sweep" / label / "round_00" / "train" / "manifest.json").read_text())
        for label in ("safety1_helpfulness0", "safety1_helpfulness1")
    ]
    left_out = [c["counts"]["pairs_left_out_zero_weight"] for c in counts]
    assert left_out[1] == 0 and left_out[0] > 0, "safety-only training drops helpfulness pairs"
    rows = json.loads((main / "sweep" / "sweep.json").read_text())
    assert [r["policy"] for r in rows] == ["base", "safety1_helpfulness0", "safety1_helpfulness1"]
    assert any(r["pareto"] for r in rows)
    assert "| policy | pairs | Pareto |" in table.read_text()
    assert "<svg" in (main / "sweep" / "sweep.html").read_text()

    logs.clear()
    run_sweep(config, vectors, logs.append)  # a finished sweep re-runs nothing
    assert not any(line.startswith("[start]") for line in logs), logs

    # Pair budgets on the same shared stages: only the new policies train.
    logs.clear()
    run_sweep(config, [], logs.append, pair_budgets=[2, 3])
    ran = [line.split("] ", 1)[1].split(":")[0] for line in logs if line.startswith("[start]")]
    assert "round 0 sample" not in ran and ran.count("round 0 train") == 2
    rows = json.loads((main / "sweep" / "sweep.json").read_text())
    # The table holds every policy swept on these pairs, the earlier sweep's too.
    assert [(r["policy"], r["budget"], r["pairs"]) for r in rows[1:]] == [
        ("safety1_helpfulness0", None, counts[0]["counts"]["pairs"]),
        ("safety1_helpfulness0.5_pairs2", 2, 2),
        ("safety1_helpfulness0.5_pairs3", 3, 3),
        ("safety1_helpfulness1", None, counts[1]["counts"]["pairs"]),
    ]
    assert "Data efficiency" in (main / "sweep" / "sweep.html").read_text()


def test_sweep_refuses_several_rounds_and_bad_vectors(tmp_path, tiny_model):
    two_rounds = config_from_dict(tiny_loop_config(tiny_model, output_dir=str(tmp_path), rounds=2))
    with pytest.raises(SelfMoaError, match="rounds=1"):
        run_sweep(two_rounds, [{"safety": 1.0}])
    config = config_from_dict(tiny_loop_config(tiny_model, output_dir=str(tmp_path)))
    with pytest.raises(SelfMoaError, match="at least one objective"):
        run_sweep(config, [{"safety": 0.0, "helpfulness": 0.0}])
    with pytest.raises(SelfMoaError, match="repeats"):
        run_sweep(config, [{"safety": 1.0}, {"safety": 1.0}])
    with pytest.raises(SelfMoaError, match="unknown objective 'harmlessness'"):
        run_sweep(config, [{"harmlessness": 1.0}])


def pair(index: int, objective: str) -> PreferencePair:
    return PreferencePair(
        id=f"p{index}",
        prompt_id=f"q{index}",
        prompt_text="prompt",
        objective=objective,
        chosen_response_id="c",
        chosen_text="chosen",
        rejected_response_id="r",
        rejected_text="rejected",
        margins={},
    )


def test_budget_sample_keeps_objective_shares_order_and_seed():
    pairs = [pair(i, "safety" if i % 3 else "helpfulness") for i in range(30)]  # 20 / 10
    kept = budget_sample(pairs, 9, seed=0)
    assert len(kept) == 9
    assert sum(p.objective == "safety" for p in kept) == 6
    positions = [pairs.index(p) for p in kept]
    assert positions == sorted(positions), "kept pairs stay in their original order"
    assert kept == budget_sample(pairs, 9, seed=0)
    assert kept != budget_sample(pairs, 9, seed=1)
    assert budget_sample(pairs, 50, seed=0) == pairs
    # 7 of 30 with shares 14/3 and 7/3: the largest remainder (0.67 vs 0.33) gets the spare.
    assert sum(p.objective == "safety" for p in budget_sample(pairs, 7, seed=0)) == 5


def test_missing_figures_count_as_worst_and_print_as_dashes(tmp_path):
    from selfmoa.core.config import Config
    from selfmoa.pipeline.sweep import write_sweep_report

    points = [
        {**point("base", 0.5, 0.6, 0.3), "pairs": None, "rephrased_attack_success": None},
        {**point("no-help-judge", 0.1, None, 0.3), "pairs": 9, "rephrased_attack_success": None},
    ]
    for row in points:
        row["attack_success"].update(ci_low=0.0, ci_high=1.0, n=4)
        row.update(over_refusal=None, benign_forms_over_refusal=None, kl_per_token=None)
    assert pareto_front(points) == [True, True]
    table = write_sweep_report(tmp_path, points, Config()).read_text()
    assert "| no-help-judge | 9 | yes |" in table and "| - | 0.300 |" in table


def test_stale_or_half_copied_shared_stage_is_replaced(tmp_path):
    from selfmoa.pipeline.stage_table import StageKey
    from selfmoa.pipeline.sweep import seed_from_shared

    main, policy = tmp_path / "main", tmp_path / "policy"
    stage = main / "round_00" / "sample"
    stage.mkdir(parents=True)
    (main / "selfmoa.json").write_text("{}")
    (stage / "manifest.json").write_text('{"fingerprint": "new"}')
    (stage / "responses.jsonl").write_text("new\n")
    old = policy / "round_00" / "sample"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text('{"fingerprint": "old"}')
    (old / "leftover.tmp").write_text("x")
    seed_from_shared(main, policy, [StageKey("sample", 0)])
    assert (old / "responses.jsonl").read_text() == "new\n"
    assert not (old / "leftover.tmp").exists()
    assert not list(policy.rglob("*.copying"))


def test_a_weight_given_twice_is_refused():
    with pytest.raises(SelfMoaError, match="given twice"):
        parse_weights("safety=1,safety=2")
