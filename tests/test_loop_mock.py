"""Loop logic with the mock generator; training runs for real on the tiny Llama."""

import json

from conftest import tiny_loop_config
from selfmoa.core.config import config_from_dict
from selfmoa.core.records import ArchiveEntry, Prompt, Response
from selfmoa.core.rundir import read_records
from selfmoa.pipeline.loop import Loop


def small_config(tmp_path, tiny_model):
    return tiny_loop_config(tiny_model, name="mock", output_dir=str(tmp_path))


def run(data, logs):
    return Loop(config_from_dict(data), log=logs.append).execute()


def test_loop_runs_skips_and_reruns_only_stale_stages(tmp_path, tiny_model):
    data = small_config(tmp_path, tiny_model)
    logs: list[str] = []
    report = run(data, logs)
    assert report.is_file() and report.with_suffix(".json").is_file()
    round0 = tmp_path / "mock" / "round_00"
    prompts = read_records(round0 / "redteam" / "prompts.jsonl", Prompt)
    responses = read_records(round0 / "sample" / "responses.jsonl", Response)
    kept = [p for p in prompts if p.kept]
    assert len(responses) == 2 * len(kept), "one free sample and one prefilled per prompt"
    assert (round0 / "train" / "adapter" / "adapter_config.json").is_file()

    logs.clear()
    run(data, logs)
    assert all(line.startswith("[skip]") for line in logs), logs

    logs.clear()
    data["train"]["learning_rate"] = 1e-3
    run(data, logs)
    reran = sorted(
        line.split("] ", 1)[1].split(":")[0] for line in logs if line.startswith("[rerun")
    )
    assert reran == ["report", "round 0 capability", "round 0 evaluate", "round 0 train"]


def test_second_round_mutates_successful_attacks(tmp_path, tiny_model):
    data = small_config(tmp_path, tiny_model)
    data["rounds"] = 2
    run(data, [])
    round1 = read_records(tmp_path / "mock" / "round_01" / "redteam" / "prompts.jsonl", Prompt)
    progressive = [p for p in round1 if p.source == "progressive"]
    assert len(progressive) == 2, "the mock policy never refuses, so every attack succeeded"
    # before mutating, round 1 re-tested round 0's elites on round 0's adapter
    retested = read_records(
        tmp_path / "mock" / "round_01" / "retest" / "retested.jsonl", ArchiveEntry
    )
    assert retested and all(e.outcomes[-1].policy == "round_00" for e in retested)
    assert {p.parent_id for p in progressive} <= {e.id for e in retested}
    assert not (tmp_path / "mock" / "round_00" / "retest").exists(), "round 0 has no parents"
    assert (tmp_path / "mock" / "round_01" / "train" / "adapter").is_dir()
    manifests = {
        (r, stage): json.loads(
            (tmp_path / "mock" / f"round_0{r}" / stage / "manifest.json").read_text()
        )["counts"]
        for r in (0, 1)
        for stage in ("pairs", "train")
    }
    assert (
        manifests[1, "train"]["pairs"]
        == manifests[0, "pairs"]["pairs"] + manifests[1, "pairs"]["pairs"]
    ), "round 1 replays round 0's pairs"
    report = (tmp_path / "mock" / "report" / "report.md").read_text()
    assert "after round 1" in report and "after round 0" in report
    still = sum(e.outcomes[-1].unsafe_training > 0 for e in retested)
    assert f"| 1 | {len(retested)} ({still}) | " in report, "rounds table shows the re-test"
    assert f"| safety {manifests[1, 'pairs']['safety']}, helpfulness " in report


def test_deleted_stage_reruns_and_downstream_follows_its_content(tmp_path, tiny_model):
    import shutil

    data = small_config(tmp_path, tiny_model)
    run(data, [])
    shutil.rmtree(tmp_path / "mock" / "round_00" / "sample")
    logs: list[str] = []
    run(data, logs)
    started = [line for line in logs if not line.startswith(("[skip]", "[done]"))]
    assert started == ["[start] round 0 sample"], logs
    assert "[skip] round 0 judge: done" in logs, "same samples, so judging is still valid"

    data["evaluate"]["examples_in_report"] = 1
    logs.clear()
    run(data, logs)
    assert [line for line in logs if line.startswith("[rerun")] == [
        "[rerun (inputs changed)] report"
    ]


def test_compare_two_runs_side_by_side(tmp_path, tiny_model, capsys):
    from selfmoa.cli.main import main

    for name in ("one", "two"):
        data = small_config(tmp_path, tiny_model)
        data["name"] = name
        run(data, [])
    page = tmp_path / "compare.html"
    assert main(["compare", str(tmp_path / "one"), str(tmp_path / "two"), "--html", str(page)]) == 0
    table = capsys.readouterr().out
    assert "| one | 1 |" in table and "| two | 1 |" in table and "rephrased" in table
    assert "<table>" in page.read_text()
    assert main(["compare", str(tmp_path / "nope")]) == 2
