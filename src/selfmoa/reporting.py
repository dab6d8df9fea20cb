"""Write ``report.md`` and ``report.json`` for a run from what its folder holds."""

from __future__ import annotations

from pathlib import Path

from selfmoa.config import Config
from selfmoa.errors import SelfMoaError
from selfmoa.records import EvalItem
from selfmoa.rundir import RunDir, atomic_write_json, atomic_write_text, read_json, read_records
from selfmoa.stages import report

STAGES = ("redteam", "sample", "judge", "pairs", "train", "evaluate")


def write_report(run: RunDir, config: Config) -> Path:
    """Build report.md and report.json from what the run directory holds."""
    baseline_stage = run.stage("evaluate", None)
    if baseline_stage.manifest() is None:
        raise SelfMoaError(f"{run.path} has no finished baseline evaluation yet")
    rounds = []
    final_items: list[EvalItem] = []
    for r in range(config.rounds):
        manifests = {name: run.stage(name, r).manifest() for name in STAGES}
        if any(m is None for m in manifests.values()):
            break
        entry = {"round": r, **{name: manifests[name]["counts"] for name in STAGES}}  # type: ignore[index]
        entry["evaluate"] = read_json(run.stage("evaluate", r).file("summary.json"))
        rounds.append(entry)
        final_items = read_records(run.stage("evaluate", r).file("items.jsonl"), EvalItem)
    markdown, data = report.build_report(
        config.name,
        read_json(baseline_stage.file("summary.json")),
        rounds,
        read_records(baseline_stage.file("items.jsonl"), EvalItem),
        final_items,
        config.evaluate.examples_in_report,
    )
    atomic_write_text(run.path / "report.md", markdown)
    atomic_write_json(run.path / "report.json", data)
    return run.path / "report.md"
