"""``selfmoa status``: the state of every stage of a run, from its folder alone."""

from __future__ import annotations

from selfmoa.core.config import Config
from selfmoa.core.rundir import RunDir
from selfmoa.core.text_safety import visible
from selfmoa.pipeline.fingerprints import stage_states


def print_status(config: Config) -> None:
    run = RunDir(config.run_dir)
    run.check_schema(create=False)
    print(f"run {run.path} ({config.rounds} round(s))")
    for key, (state, reason) in stage_states(run, config).items():
        manifest = run.stage(key.folder, key.label).manifest() if state == "done" else None
        detail = f"  {reason}" if reason else ""
        if manifest:
            counts = manifest.get("counts")
            shown = ", ".join(
                f"{k}={v}"
                for k, v in (counts.items() if isinstance(counts, dict) else [])
                if not isinstance(v, dict)
            )
            device = f" on {manifest['device']}" if manifest.get("device") else ""
            seconds = manifest.get("seconds")
            took = f"{seconds:.0f}s" if isinstance(seconds, int | float) else "?s"
            detail = f"  {took}{device}  {shown}"
        print(visible(f"  {key.label:<22} {state:<8}{detail}"))  # manifests are data
    report = run.report_file
    print(f"report: {report if report.is_file() else 'not written yet'}")
