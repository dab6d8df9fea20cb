"""``selfmoa status``: the state of every stage of a run, from its folder alone."""

from __future__ import annotations

from selfmoa.config import Config
from selfmoa.fingerprints import stage_states
from selfmoa.rundir import RunDir


def print_status(config: Config) -> None:
    run = RunDir(config.run_dir)
    run.check_schema(create=False)
    print(f"run {run.path} ({config.rounds} round(s))")
    for key, (state, reason) in stage_states(run, config).items():
        manifest = run.stage(key.folder, key.label).manifest() if state == "done" else None
        detail = f"  {reason}" if reason else ""
        if manifest:
            counts = ", ".join(
                f"{k}={v}" for k, v in manifest["counts"].items() if not isinstance(v, dict)
            )
            device = f" on {manifest['device']}" if manifest.get("device") else ""
            detail = f"  {manifest['seconds']:.0f}s{device}  {counts}"
        print(f"  {key.label:<22} {state:<8}{detail}")
    report = run.path / "report" / "report.md"
    print(f"report: {report if report.is_file() else 'not written yet'}")
