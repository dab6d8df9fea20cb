"""The orchestrator: every stage of the stage table in order, skipping what is done.

A stage whose manifest carries its current fingerprint (see ``fingerprints``)
is skipped; a partial one (started, no manifest) resumes; any other is wiped
and re-run. Re-running the same command therefore continues after a kill, and
changing a config key re-runs the stages that read it and those whose inputs
that changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selfmoa.core.atomic import atomic_write_text
from selfmoa.core.config import Config, dump_config
from selfmoa.core.configview import ConfigView
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.faults import fault_point
from selfmoa.core.memory import release_free_memory
from selfmoa.core.rundir import RunDir, StageDir
from selfmoa.core.text_safety import visible
from selfmoa.pipeline import stage_cache
from selfmoa.pipeline.fingerprints import digest, stage_inputs, stage_states
from selfmoa.pipeline.plugin_names import check_plugin_names
from selfmoa.pipeline.stage_context import Resources, StageContext
from selfmoa.pipeline.stage_table import StageKey, plan, spec_of
from selfmoa.pipeline.validation import check_config


def device_name(config: Config) -> str:
    if config.backend.kind == "mock":
        return "none"
    from selfmoa.backends.hf import pick_device

    return str(pick_device(config.models.device))


class Loop:
    def __init__(self, config: Config, log: Callable[[str], None] = print) -> None:
        check_plugin_names(config)
        self.config = config
        self.run = RunDir(config.run_dir)
        self.log = lambda text: log(visible(text))  # counts and devices come from files
        self.resources = Resources()

    def execute(self, only: Callable[[StageKey], bool] | None = None) -> Path:
        """Run every stage (or those ``only`` selects, in order); returns the report path."""
        check_config(self.config)
        self.run.check_schema(create=True)  # refuses a folder selfmoa did not make
        lock = self.run.lock()
        try:
            atomic_write_text(self.run.config_file, dump_config(self.config))
            self.run.log_event("run_start", rounds=self.config.rounds)
            for key in plan(self.config):
                if only is None or only(key):
                    self._stage(key)
            self.run.log_event("run_done")
        finally:
            lock.close()
        return self.run.report_file

    def context(self, key: StageKey, stage: StageDir) -> StageContext:
        view = ConfigView(self.config, spec_of(key).reads_config, key.label)
        return StageContext(view, self.run, stage, key.round, self.resources, key.label)

    def _stage(self, key: StageKey) -> None:
        spec = spec_of(key)
        stage = self.run.stage(key.folder, key.label)
        inputs = stage_inputs(self.run, self.config, key)
        if inputs is None:  # cannot happen in order; guards a hand-edited run folder
            raise SelfMoaError(f"{key.label}: an upstream stage has no manifest")
        expected = digest(inputs)
        device = device_name(self.config) if spec.uses_device else None
        if stage.state(expected) == "done":
            stage.verify_outputs()
            ran_on = (stage.manifest() or {}).get("device")
            note = f" (computed on {ran_on}, kept on {device})" if ran_on != device else ""
            self.log(f"[skip] {key.label}: done{note}")
            return
        prior = stage.begin(expected)
        if spec.shared and self._reuse_shared(key, stage, expected, inputs):
            return
        verb = {"partial": "resume", "stale": "rerun (inputs changed)"}.get(prior, "start")
        self.log(f"[{verb}] {key.label}")
        self.run.log_event("stage_start", stage=key.label, mode=prior)
        fault_point(f"{key.label}:begin")
        started = time.time()
        counts = spec.run(self.context(key, stage))
        seconds = time.time() - started
        release_free_memory()  # the next stage starts from a trimmed heap
        outputs = stage.output_hashes(spec.outputs)
        fault_point(f"{key.label}:outputs-written")
        stage.finish(expected, inputs, outputs, counts, seconds, device)
        if spec.shared:
            warning = stage_cache.store(expected, stage, outputs, counts, seconds, device)
            if warning:
                self.log(warning)
        for name in spec.scratch:
            stage.file(name).unlink(missing_ok=True)
        self.run.log_event("stage_done", stage=key.label, seconds=round(seconds, 2))
        fault_point(f"{key.label}:done")
        shown = ", ".join(f"{k}={v}" for k, v in counts.items() if not isinstance(v, dict))
        self.log(f"[done] {key.label} in {seconds:.0f}s: {shown}")

    def _reuse_shared(
        self, key: StageKey, stage: StageDir, expected: str, inputs: dict[str, Any]
    ) -> bool:
        """Finish ``stage`` from an earlier run's identical stage (``stage_cache``), if any."""
        record = stage_cache.restore(expected, stage, spec_of(key).outputs)
        if record is None:
            return False
        stage.finish(
            expected, inputs, record["outputs"], record["counts"], 0.0, record.get("device")
        )
        self.run.log_event("stage_cached", stage=key.label)
        self.log(f"[cached] {key.label}: outputs of an identical earlier stage ({expected})")
        return True

    def report_only(self) -> Path:
        """Rebuild the report from finished stages; refuse if any of them is stale."""
        self.run.check_schema(create=False)
        states = stage_states(self.run, self.config)
        for key, (state, reason) in states.items():
            if spec_of(key).scope != "run" and state == "stale":
                raise SelfMoaError(
                    f"{key.label} is stale ({reason}); run `selfmoa run` on this config "
                    "before reporting"
                )
        lock = self.run.lock()
        try:
            for key in plan(self.config):
                if spec_of(key).scope == "run":
                    self._report_stage(key, states)
        finally:
            lock.close()
        return self.run.report_file

    def _report_stage(self, key: StageKey, states: dict[StageKey, Any]) -> None:
        if all(states[up][0] == "done" for up in spec_of(key).upstream(self.config, key.round)):
            self._stage(key)  # complete run: the report stage gets its manifest
            return
        stage = self.run.stage(key.folder, key.label)
        if stage.path.exists():
            stage.clear()
        stage.mark_started(None)
        spec_of(key).run(self.context(key, stage))
