"""Each stage is one module: its table entry and its body live side by side."""

from __future__ import annotations

import importlib

from selfmoa.pipeline.stage_table import STAGE_TABLE
from selfmoa.pipeline.stages.order import ROUND_STAGES, ROUND_TABLE
from selfmoa.pipeline.stages.report import ROUND_STAGES as REPORTED_ROUND_STAGES


def test_every_stage_exports_its_entry_from_the_module_of_its_body():
    for spec in STAGE_TABLE:
        module = importlib.import_module(spec.run.__module__)
        assert module.__name__.startswith("selfmoa.pipeline.stages."), spec.name
        exported = [value for value in vars(module).values() if value is spec]
        assert exported, f"{spec.name} ({spec.scope}): entry not in {module.__name__}"


def test_each_stage_module_holds_one_stage():
    modules: dict[str, set[str]] = {}
    for spec in STAGE_TABLE:
        modules.setdefault(spec.run.__module__, set()).add(spec.name)
    assert all(len(names) == 1 for names in modules.values()), modules


def test_round_stage_names_come_from_the_table():
    assert REPORTED_ROUND_STAGES is ROUND_STAGES
    assert ROUND_STAGES == tuple(s.name for s in ROUND_TABLE if s.applies is None)
    assert "retest" in {s.name for s in ROUND_TABLE} - set(ROUND_STAGES)
