import errno
import json

import pytest

from selfmoa.core.atomic import atomic_path, atomic_write_text
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.records import SCHEMA_VERSION, Prompt
from selfmoa.core.rundir import RunDir, append_records, read_records, round_name, stage_folder


def make_prompt(index: int) -> Prompt:
    return Prompt(
        id=f"p{index}",
        round=0,
        text=f"prompt {index}",
        label="benign",
        source="test",
        strategy="benign",
        seed_id=f"s{index}",
        seed_text="seed",
    )


def test_stage_lifecycle(tmp_path):
    stage = RunDir(tmp_path).stage("round_00/sample", "round 0 sample")
    assert stage.state("fp1") == "pending"
    assert stage.begin("fp1") == "pending"
    (stage.path / "responses.jsonl").write_text("{}\n")
    assert stage.state("fp1") == "partial"
    assert stage.begin("fp1") == "partial"
    assert (stage.path / "responses.jsonl").exists(), "a partial stage keeps its work"
    outputs = stage.output_hashes(["responses.jsonl"])
    stage.finish("fp1", {}, outputs, {"responses": 1}, 1.0)
    assert stage.state("fp1") == "done"
    assert stage.state("fp2") == "stale"
    assert stage.state(None) == "stale", "an upstream that is not done makes a done stage stale"
    assert stage.begin("fp2") == "stale"
    assert not (stage.path / "responses.jsonl").exists(), "a stale stage is wiped"
    assert stage.state("fp2") == "partial"


def test_finish_refuses_a_missing_output(tmp_path):
    stage = RunDir(tmp_path).stage("round_00/judge", "round 0 judge")
    stage.begin("fp")
    with pytest.raises(SelfMoaError, match="finished without writing"):
        stage.output_hashes(["judgements.jsonl"])


def test_corrupt_jsonl_line_names_file_and_line(tmp_path):
    path = tmp_path / "prompts.jsonl"
    append_records(path, [make_prompt(0)])
    with open(path, "a") as handle:
        handle.write("{not json\n")
    with pytest.raises(SelfMoaError, match=r"prompts.jsonl line 2 is not a JSON record"):
        read_records(path, Prompt)


def test_record_of_another_schema_says_use_a_new_run(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"id": "x", "text": "old shape"}) + "\n")
    with pytest.raises(SelfMoaError, match="older selfmoa; use a new run name"):
        read_records(path, Prompt)


def test_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path):
    path = tmp_path / "prompts.jsonl"
    append_records(path, [make_prompt(0)])
    with open(path, "a") as handle:
        handle.write('{"id": "p1", "ro')
    assert [p.id for p in read_records(path, Prompt)] == ["p0"]
    append_records(path, [make_prompt(1)])
    assert [p.id for p in read_records(path, Prompt)] == ["p0", "p1"]


def test_run_directory_of_an_older_schema_is_refused(tmp_path):
    run = RunDir(tmp_path / "run")
    (run.path / "round_00" / "sample").mkdir(parents=True)
    (run.path / "round_00" / "sample" / "manifest.json").write_text("{}")
    with pytest.raises(SelfMoaError, match="older selfmoa; use a new run name"):
        run.check_schema(create=True)
    fresh = RunDir(tmp_path / "fresh")
    fresh.check_schema(create=True)
    assert json.loads(fresh.stamp.read_text()) == {"schema": SCHEMA_VERSION}
    fresh.stamp.write_text(json.dumps({"schema": SCHEMA_VERSION - 1}))
    with pytest.raises(SelfMoaError, match="older selfmoa"):
        fresh.check_schema(create=False)


def test_full_disk_is_one_line_and_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("selfmoa.core.atomic._fsync_tree", no_space)
    with pytest.raises(SelfMoaError, match=r"^disk full while writing .*summary.json"):
        atomic_write_text(target, "{}")
    assert list(tmp_path.iterdir()) == [], "temp file removed, target untouched"


def test_full_disk_during_append_keeps_whole_lines(tmp_path, monkeypatch):
    path = tmp_path / "responses.jsonl"
    append_records(path, [make_prompt(0)])
    before = path.read_bytes()
    real_fsync = __import__("os").fsync

    def fail_once(fd):
        monkeypatch.setattr("os.fsync", real_fsync)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("os.fsync", fail_once)
    with pytest.raises(SelfMoaError, match="disk full"):
        append_records(path, [make_prompt(1), make_prompt(2)])
    assert path.read_bytes() == before


def test_atomic_path_replaces_a_folder_and_cleans_up_on_error(tmp_path):
    target = tmp_path / "adapter"
    with atomic_path(target) as staging:
        staging.mkdir()
        (staging / "a.txt").write_text("one")
    with pytest.raises(RuntimeError), atomic_path(target) as staging:
        staging.mkdir()
        (staging / "a.txt").write_text("two")
        raise RuntimeError("killed")
    assert (target / "a.txt").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]


def test_a_run_directory_takes_one_process_at_a_time(tmp_path):
    RunDir(tmp_path / "run").check_schema(create=True)  # a run selfmoa made
    held = RunDir(tmp_path / "run").lock()
    with pytest.raises(SelfMoaError, match="another selfmoa process is running"):
        RunDir(tmp_path / "run").lock()
    held.close()
    RunDir(tmp_path / "run").lock().close()


def test_run_layout_names_every_folder(tmp_path):
    run = RunDir(tmp_path)
    assert round_name(3) == "round_03"
    assert run.round_stage("train", 1) == tmp_path / "round_01" / "train"
    assert run.baseline_stage("evaluate") == tmp_path / "baseline" / "evaluate"
    assert run.run_stage("report") == tmp_path / "report"
    assert stage_folder("sample", 0, "round") == "round_00/sample"
    assert run.report_file == tmp_path / "report" / "report.md"
    assert run.config_file == tmp_path / "config.yaml"
    assert run.judge_cache_file == tmp_path / "cache" / "judge_scores.jsonl"
    assert run.export_folder(2) == tmp_path / "export" / "round_02"
    for folder in ("round_00/train", "round_02/train", "round_01/pairs", "round_x/train"):
        (tmp_path / folder).mkdir(parents=True)
    assert run.rounds_with("train") == [0, 2]
