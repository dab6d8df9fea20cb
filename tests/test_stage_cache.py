"""Stages shared between runs through the fingerprint-addressed stage cache."""

import json

import pytest

from conftest import tiny_loop_config
from selfmoa.core.config import config_from_dict
from selfmoa.pipeline import stage_cache
from selfmoa.pipeline.loop import Loop
from selfmoa.pipeline.stage_table import plan, spec_of

BASELINE = ("baseline evaluate", "baseline capability")


@pytest.fixture
def shared(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFMOA_STAGE_CACHE", "on")
    monkeypatch.setattr(stage_cache, "cache_dir", lambda: tmp_path / "cache")
    return tmp_path / "cache" / "stages"


def baseline_run(tmp_path, tiny_model, name: str) -> list[str]:
    data = tiny_loop_config(tiny_model, name=name, output_dir=str(tmp_path / "runs"))
    logs: list[str] = []
    Loop(config_from_dict(data), log=logs.append).execute(only=lambda k: k.scope == "baseline")
    return logs


def verbs(logs: list[str]) -> dict[str, str]:
    return {line.split("] ", 1)[1].split(":")[0]: line[1:].split("]")[0] for line in logs}


def test_a_second_run_reuses_the_baseline_and_matches_it(tmp_path, tiny_model, shared):
    first = verbs(baseline_run(tmp_path, tiny_model, "first"))
    assert all(first[label] == "start" for label in BASELINE)
    assert len(list(shared.iterdir())) == len(BASELINE)
    second = verbs(baseline_run(tmp_path, tiny_model, "second"))
    assert all(second[label] == "cached" for label in BASELINE), second
    for folder in ("baseline/evaluate", "baseline/capability"):
        a, b = (tmp_path / "runs" / n / folder for n in ("first", "second"))
        assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
        assert (a / "items.jsonl").read_bytes() == (b / "items.jsonl").read_bytes()
        manifest = json.loads((b / "manifest.json").read_text())
        assert (
            manifest["fingerprint"] == json.loads((a / "manifest.json").read_text())["fingerprint"]
        )
    again = verbs(baseline_run(tmp_path, tiny_model, "second"))
    assert all(again[label] == "skip" for label in BASELINE), "a finished stage is kept"


def test_a_damaged_entry_is_ignored_and_the_stage_runs(tmp_path, tiny_model, shared):
    baseline_run(tmp_path, tiny_model, "first")
    for entry in shared.iterdir():
        with open(entry / "items.jsonl", "a") as handle:
            handle.write('{"planted": true}\n')
    second = verbs(baseline_run(tmp_path, tiny_model, "second"))
    assert all(second[label] == "start" for label in BASELINE), second
    items = (tmp_path / "runs" / "second" / "baseline" / "evaluate" / "items.jsonl").read_text()
    assert "planted" not in items


def test_sharing_can_be_turned_off(tmp_path, tiny_model, shared, monkeypatch):
    monkeypatch.setenv("SELFMOA_STAGE_CACHE", "off")
    baseline_run(tmp_path, tiny_model, "first")
    assert not shared.exists()


def test_only_stages_that_read_no_trained_policy_are_shared():
    """The policy as given (baseline stages) and the judges against human labels."""
    config = config_from_dict({"rounds": 2, "reset": {"enabled": True}})
    shared_labels = [key.label for key in plan(config) if spec_of(key).shared]
    assert shared_labels == [
        "baseline evaluate",
        "baseline reference",
        "baseline capability",
        "agreement",
    ]
