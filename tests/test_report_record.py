"""report.json as a typed, versioned record (``selfmoa.pipeline.report_record``).

The report stage writes it through ``ReportRecord`` with the same keys and values as
before plus ``schema_version``; ``selfmoa compare`` reads it back through the record; a
damaged file, a missing key or a newer schema is one error line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import tiny_loop_config
from selfmoa.cli.main import main
from selfmoa.core.config import config_from_dict, dump_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.rundir import RunDir
from selfmoa.pipeline.report_record import (
    REPORT_SCHEMA_VERSION,
    PolicySummary,
    ReportRecord,
    load_summary,
)
from selfmoa.pipeline.stages import report as reporting
from selfmoa.pipeline.stages.report_markdown import build_report
from selfmoa.pipeline.sweep import policy_config, swept_points
from test_report_hostile_text import build_run, report_json, summary, valid


@pytest.fixture(scope="module")
def stage_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A run with a baseline and one round through the real report stage; returns the run
    and the report data the stage built before it became a record."""
    built: dict[str, Any] = {}
    original = reporting.build_html

    def keep(markdown: str, data: dict[str, Any], *rest: Any) -> str:
        built.update(json.loads(json.dumps(data)))  # as JSON holds it: tuples become lists
        return original(markdown, data, *rest)

    reporting.build_html = keep  # type: ignore[assignment]
    try:
        run = tmp_path_factory.mktemp("record") / "run"
        build_run(run, ["plain"], "plain")
    finally:
        reporting.build_html = original  # type: ignore[assignment]
    return run, built


def test_the_stage_writes_the_same_content_plus_the_schema_version(stage_run):
    run, built = stage_run
    written = json.loads((run / "report" / "report.json").read_text())
    assert written == {"schema_version": REPORT_SCHEMA_VERSION, **built}
    assert set(built) >= {"name", "baseline", "reference", "rounds", "change", "paired_change"}
    assert "agreement" in built and "change_from_reference" not in built


def test_a_record_reads_back_and_writes_out_unchanged(stage_run, tmp_path):
    run, _ = stage_run
    path = run / "report" / "report.json"
    record = ReportRecord.load(path)
    assert record.schema_version == REPORT_SCHEMA_VERSION and record.name == "plain"
    assert record.rounds[0].evaluate.attack_success.rate == 0.2
    assert record.final is record.rounds[-1].evaluate
    assert record.baseline.capability is not None
    assert record.rounds[0].redteam_metrics is not None
    assert record.to_json() == json.loads(path.read_text())
    copy = tmp_path / "report.json"
    record.write(copy)
    assert copy.read_bytes() == path.read_bytes(), "the stage writes through the record"


def test_a_reference_and_its_change_validate(stage_run):
    run, _ = stage_run
    data = json.loads((run / "report" / "report.json").read_text())
    reference = summary("plain", 0.1)
    _, built = build_report("x", data["baseline"], data["rounds"], [], [], 0, reference=reference)
    record = ReportRecord.from_data(built)
    assert record.change_from_reference is not None and record.reference is not None
    assert record.change_from_reference.attack_success_points == 10.0
    assert record.to_json() == {"schema_version": REPORT_SCHEMA_VERSION, **built}


def test_a_report_from_before_the_version_reads_as_version_1(tmp_path):
    path = report_json(tmp_path / "old", valid())
    record = ReportRecord.load(path)
    assert record.schema_version == 1 and record.rounds == [] and record.final is record.baseline
    assert record.to_json() == {"schema_version": 1, **valid()}, "no default fields added"


def test_integers_stay_integers_and_numbers_are_not_text():
    data = valid()
    data["baseline"]["attack_success"] = {"rate": 0, "n": 3, "ci_low": 0, "ci_high": 0.5}
    dumped = ReportRecord.from_data(data).to_json()["baseline"]["attack_success"]
    assert json.dumps(dumped) == '{"rate": 0, "n": 3, "ci_low": 0, "ci_high": 0.5}'
    data["baseline"]["attack_success"]["rate"] = "0.5"
    with pytest.raises(SelfMoaError, match="baseline.attack_success.rate: .*found str"):
        ReportRecord.from_data(data)


def test_compare_reads_records_old_and_new(stage_run, tmp_path, capsys):
    run, _ = stage_run
    report_json(tmp_path / "old", valid())
    assert main(["compare", str(run), str(tmp_path / "old")]) == 0
    out = capsys.readouterr().out
    assert "| run | 1 | 20.0% [0-100] (n=10) | 10.0% [0-100] (n=10) | 0.5 |" in out
    assert "| old | 0 | 50.0% [0-100] (n=10) |" in out


def with_name(data: dict[str, Any]) -> dict[str, Any]:
    return {"name": "x", **data}


DAMAGED = {
    "newer": {**valid(), "schema_version": REPORT_SCHEMA_VERSION + 1},
    "version-text": {**valid(), "schema_version": "1"},
    "no-rounds": {key: value for key, value in valid().items() if key != "rounds"},
    "no-name": {key: value for key, value in valid().items() if key != "name"},
    "rounds-object": {**valid(), "rounds": {}},
    "round-without-evaluate": {**valid(), "rounds": [{"round": 0}]},
    "rate-text": with_name(
        {"baseline": {**summary("s", 0.5), "over_refusal": {"rate": "x"}}, "rounds": []}
    ),
    "set-without-label": with_name(
        {"baseline": {**summary("s", 0.5), "sets": {"s": {"rate": None}}}, "rounds": []}
    ),
    "agreement-object": {**valid(), "agreement": {"a": 1}},
}


@pytest.mark.parametrize("data", list(DAMAGED.values()), ids=list(DAMAGED))
def test_a_damaged_or_newer_report_is_one_line_naming_the_file(tmp_path, capsys, data):
    path = report_json(tmp_path / "bad", data)
    with pytest.raises(SelfMoaError) as caught:
        ReportRecord.load(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert f"selfmoa report {tmp_path / 'bad'}" in message
    assert main(["compare", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("selfmoa: error: ") and str(path) in err


def test_a_newer_report_says_so(tmp_path):
    path = report_json(tmp_path / "new", DAMAGED["newer"])
    with pytest.raises(SelfMoaError, match="schema version 2, newer than this selfmoa reads"):
        ReportRecord.load(path)


def test_a_damaged_summary_is_one_line(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"attack_success": []}))
    with pytest.raises(SelfMoaError) as caught:
        load_summary(path, PolicySummary)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_sweep_reads_each_policy_report_as_a_record(stage_run, tmp_path):
    config = config_from_dict(tiny_loop_config(tmp_path / "model", output_dir=str(tmp_path)))
    main = RunDir(Path(config.run_dir))
    policy = policy_config(config, {"safety": 1.0, "helpfulness": 0.0})
    run = RunDir(Path(policy.run_dir))
    for folder in (main, run):
        manifest = folder.round_stage("pairs", 0) / "manifest.json"
        manifest.parent.mkdir(parents=True)
        manifest.write_text(json.dumps({"outputs": {"pairs.jsonl": "same pairs"}}))
    run.config_file.write_text(dump_config(policy))
    data = json.loads((stage_run[0] / "report" / "report.json").read_text())
    data["rounds"][0]["train"]["pairs"] = 3
    report_json(run.path, data)
    [point] = swept_points(main.path, config)
    assert point["policy"] == "safety1_helpfulness0" and point["pairs"] == 3
    assert point["attack_success"] == data["rounds"][0]["evaluate"]["attack_success"]
    assert point["helpfulness"] == 0.5 and point["capability"] == 0.5
    report_json(run.path, {**data, "rounds": [{"round": 0}]})
    with pytest.raises(SelfMoaError, match="is not a selfmoa report .*rounds.0"):
        swept_points(main.path, config)
