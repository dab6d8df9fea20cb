from selfmoa.config import Config, config_from_dict
from selfmoa.loop import StageKey, stage_fingerprints
from selfmoa.rundir import RunDir


def test_stage_lifecycle(tmp_path):
    stage = RunDir(tmp_path).stage("sample", 0)
    assert stage.state("fp1") == "pending"
    assert stage.begin("fp1") == "pending"
    (stage.path / "responses.jsonl").write_text("{}\n")
    assert stage.state("fp1") == "partial"
    assert stage.begin("fp1") == "partial"
    assert (stage.path / "responses.jsonl").exists(), "a partial stage keeps its work"
    stage.finish("fp1", {"responses": 1}, 1.0)
    assert stage.state("fp1") == "done"
    assert stage.state("fp2") == "stale"
    assert stage.begin("fp2") == "stale"
    assert not (stage.path / "responses.jsonl").exists(), "a stale stage is wiped"
    assert stage.state("fp2") == "partial"


def test_partial_stage_with_other_fingerprint_is_stale(tmp_path):
    stage = RunDir(tmp_path).stage("train", 1)
    stage.begin("old")
    assert stage.state("new") == "stale"
    assert stage.path.name == "train" and stage.path.parent.name == "round_01"


def changed(before: Config, after: Config) -> set[StageKey]:
    a, b = stage_fingerprints(before), stage_fingerprints(after)
    return {key for key in a if a[key] != b[key]}


def test_changing_train_config_stales_train_and_after_only():
    base = config_from_dict({"rounds": 2})
    stale = changed(base, config_from_dict({"rounds": 2, "train": {"learning_rate": 1e-4}}))
    assert StageKey("train", 0) in stale and StageKey("evaluate", 0) in stale
    assert StageKey("sample", 1) in stale, "round 1 samples from round 0's adapter"
    assert StageKey("redteam", 0) not in stale and StageKey("pairs", 0) not in stale
    assert StageKey("redteam", 1) not in stale, "round 1 attacks depend on judged samples"
    assert StageKey("evaluate", None) not in stale


def test_changing_redteam_stales_every_round_stage_but_not_baseline():
    base = config_from_dict({"rounds": 1})
    stale = changed(base, config_from_dict({"rounds": 1, "redteam": {"seeds_per_round": 3}}))
    assert stale == {
        StageKey(name, 0) for name in ("redteam", "sample", "judge", "pairs", "train", "evaluate")
    }


def test_changing_evaluate_stales_only_evaluations():
    base = config_from_dict({"rounds": 1})
    stale = changed(base, config_from_dict({"rounds": 1, "evaluate": {"harmful_limit": 5}}))
    assert stale == {StageKey("evaluate", None), StageKey("evaluate", 0)}


def test_changing_sampling_keeps_the_attacks():
    base = config_from_dict({"rounds": 1})
    stale = changed(base, config_from_dict({"rounds": 1, "sample": {"max_new_tokens": 16}}))
    assert StageKey("redteam", 0) not in stale
    assert StageKey("sample", 0) in stale and StageKey("evaluate", 0) in stale


def test_a_run_directory_takes_one_process_at_a_time(tmp_path):
    import pytest

    from selfmoa.errors import SelfMoaError

    held = RunDir(tmp_path / "run").lock()
    with pytest.raises(SelfMoaError, match="another selfmoa process is running"):
        RunDir(tmp_path / "run").lock()
    held.close()
    RunDir(tmp_path / "run").lock().close()
