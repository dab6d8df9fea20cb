"""Stage fingerprints: what a stage's result depends on, hashed.

The inputs of a stage are the values of the config keys it declares, the
content hashes of its upstream stages' outputs (from their manifests), the
identity of the prompt sets and models it reads, and the record schema
version. Two runs whose inputs match compute the same result, so a stage whose
manifest carries the current fingerprint is skipped; any difference re-runs it
and, through its new output hash, exactly the stages whose inputs it changes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from selfmoa.core.config import Config
from selfmoa.core.records import SCHEMA_VERSION
from selfmoa.core.rundir import RunDir, StageState
from selfmoa.pipeline.assets import asset_identity
from selfmoa.pipeline.stage_table import StageKey, plan, spec_of


def config_value(dumped: dict[str, Any], dotted: str) -> Any:
    node: Any = dumped
    for part in dotted.split("."):
        node = node[part]
    return node


def config_inputs(key: StageKey, config: Config) -> dict[str, Any]:
    dumped = {**config.model_dump(mode="json"), "backend": config.backend.fingerprint_dump()}
    return {name: config_value(dumped, name) for name in sorted(spec_of(key).reads_config)}


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def stage_inputs(run: RunDir, config: Config, key: StageKey) -> dict[str, Any] | None:
    """Everything the stage reads, or None while an upstream stage has no manifest."""
    upstream = {}
    for up in spec_of(key).upstream(config, key.round):
        manifest = run.stage(up.folder, up.label).manifest()
        if manifest is None:
            return None
        upstream[up.label] = digest(manifest["outputs"])
    return {
        "stage": key.label,
        "schema": SCHEMA_VERSION,
        "config": config_inputs(key, config),
        "upstream": upstream,
        "assets": {name: asset_identity(name, config.models) for name in spec_of(key).assets},
    }


def stage_states(run: RunDir, config: Config) -> dict[StageKey, tuple[StageState, str]]:
    """State of every stage and why: done, partial, stale or pending."""
    states: dict[StageKey, tuple[StageState, str]] = {}
    for key in plan(config):
        ups = spec_of(key).upstream(config, key.round)
        waiting = [up.label for up in ups if states[up][0] != "done"]
        inputs = None if waiting else stage_inputs(run, config, key)
        state = run.stage(key.folder, key.label).state(None if inputs is None else digest(inputs))
        reason = f"waits for {waiting[0]}" if waiting else ""
        if state == "stale" and not waiting:
            reason = _changed_inputs(run, key, inputs)
        states[key] = (state, reason)
    return states


def _changed_inputs(run: RunDir, key: StageKey, inputs: dict[str, Any] | None) -> str:
    manifest = run.stage(key.folder, key.label).manifest() or {}
    before = manifest.get("inputs") or {}
    if not inputs:
        return "inputs changed"
    changed = [
        part
        for part in ("schema", "config", "upstream", "assets")
        if before.get(part) != inputs[part]
    ]
    return "changed: " + ", ".join(changed) if changed else "inputs changed"
