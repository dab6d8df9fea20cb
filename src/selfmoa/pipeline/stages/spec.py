"""What a stage's table entry is: ``StageKey`` (one stage instance) and ``StageSpec``.

Every stage module in ``pipeline/stages/`` exports its entry (a ``StageSpec``) beside
its body; ``pipeline/stage_table.py`` collects the entries in execution order. The
helpers here name the upstream stages that several entries share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from selfmoa.core.rundir import stage_folder

if TYPE_CHECKING:
    from selfmoa.pipeline.stage_context import StageContext

Scope = Literal["baseline", "round", "run"]


@dataclass(frozen=True)
class StageKey:
    """One stage instance of a run: e.g. ("sample", 0, "round")."""

    name: str
    round: int | None
    scope: Scope = "round"

    @property
    def folder(self) -> str:
        return stage_folder(self.name, self.round, self.scope)

    @property
    def label(self) -> str:
        if self.scope == "round":
            return f"round {self.round} {self.name}"
        return f"baseline {self.name}" if self.scope == "baseline" else self.name


Upstream = Callable[[Any, int | None], list[StageKey]]


@dataclass(frozen=True)
class StageSpec:
    """A stage's table entry: the config keys, upstream stages and assets it reads, the
    outputs it writes, and the body that runs it."""

    name: str
    scope: Scope
    reads_config: frozenset[str]
    upstream: Upstream
    assets: tuple[str, ...]
    outputs: tuple[str, ...]
    run: Callable[[StageContext], dict[str, Any]]
    uses_device: bool = False
    scratch: tuple[str, ...] = ()  # resume state, removed once the stage is done
    # Whether a run with this config has the stage (round r; -1 for baseline stages).
    applies: Callable[[Any, int], bool] | None = None
    # Outputs reused by any run with the same fingerprint (selfmoa/pipeline/stage_cache.py).
    shared: bool = False

    def key(self, round_index: int | None) -> StageKey:
        return StageKey(self.name, round_index, self.scope)


def in_round(name: str, r: int) -> list[StageKey]:
    """Stage ``name`` of round r, or nothing before round 0."""
    return [StageKey(name, r)] if r >= 0 else []


def retests(config: Any, r: int) -> bool:
    """Round r >= 1 re-tests the archive's elites on its policy before mutating them."""
    return r >= 1 and config.redteam.progressive_per_round > 0


def reset_on(config: Any, _: int | None = None) -> bool:
    return bool(config.reset.enabled)


def start(config: Any) -> list[StageKey]:
    """The stage that made the loop's starting policy: the safety reset, when it is on."""
    return [StageKey("reset", None, "baseline")] if reset_on(config) else []


def no_upstream(_config: Any, _round: int | None) -> list[StageKey]:
    return []


def plan_of(table: tuple[StageSpec, ...], config: Any) -> list[StageKey]:
    """The stages of ``table`` a run with ``config`` has, in execution order: baseline,
    every round, then run-level stages."""
    by_scope: dict[Scope, list[StageSpec]] = {"baseline": [], "round": [], "run": []}
    for spec in table:
        by_scope[spec.scope].append(spec)
    keys = [
        spec.key(None)
        for spec in by_scope["baseline"]
        if spec.applies is None or spec.applies(config, -1)
    ]
    keys += [
        spec.key(r)
        for r in range(config.rounds)
        for spec in by_scope["round"]
        if spec.applies is None or spec.applies(config, r)
    ]
    return keys + [spec.key(None) for spec in by_scope["run"]]
