"""``selfmoa sweep``: shared stages run once, one trained policy per weight vector."""

import json

import pytest

from conftest import tiny_loop_config
from selfmoa.config import config_from_dict
from selfmoa.errors import SelfMoaError
from selfmoa.sweep import label_of, parse_weights, pareto_front, run_sweep


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
    for bad in ("safety", "harmlessness=1", "safety=x"):
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
    assert "| policy | Pareto |" in table.read_text()
    assert "<svg" in (main / "sweep" / "sweep.html").read_text()

    logs.clear()
    run_sweep(config, vectors, logs.append)  # a finished sweep re-runs nothing
    assert not any(line.startswith("[start]") for line in logs), logs


def test_sweep_refuses_several_rounds_and_bad_vectors(tmp_path, tiny_model):
    two_rounds = config_from_dict(
        tiny_loop_config(tiny_model, output_dir=str(tmp_path), rounds=2)
    )
    with pytest.raises(SelfMoaError, match="rounds=1"):
        run_sweep(two_rounds, [{"safety": 1.0}])
    config = config_from_dict(tiny_loop_config(tiny_model, output_dir=str(tmp_path)))
    with pytest.raises(SelfMoaError, match="at least one objective"):
        run_sweep(config, [{"safety": 0.0, "helpfulness": 0.0}])
    with pytest.raises(SelfMoaError, match="repeats"):
        run_sweep(config, [{"safety": 1.0}, {"safety": 1.0}])
