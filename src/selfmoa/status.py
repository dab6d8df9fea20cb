"""``selfmoa status``: the state of every stage of a run, from its folder alone."""

from __future__ import annotations

from selfmoa.config import Config
from selfmoa.loop import stage_fingerprints
from selfmoa.rundir import RunDir


def print_status(config: Config) -> None:
    run = RunDir(config.run_dir)
    print(f"run {run.path} ({config.rounds} round(s))")
    for key, expected in stage_fingerprints(config).items():
        stage = run.stage(key.name, key.round)
        state = stage.state(expected)
        manifest = stage.manifest() if state == "done" else None
        detail = ""
        if manifest:
            counts = ", ".join(
                f"{k}={v}" for k, v in manifest["counts"].items() if not isinstance(v, dict)
            )
            detail = f"  {manifest['seconds']:.0f}s  {counts}"
        print(f"  {stage.label:<22} {state:<8}{detail}")
    report = run.path / "report.md"
    print(f"report: {report if report.is_file() else 'not written yet'}")
