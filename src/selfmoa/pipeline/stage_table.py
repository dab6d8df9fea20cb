"""The stage table: every stage of a run declared once.

An entry names the stage, where it lives (once before training, once per
round, or once per run), the config keys, upstream stages and data/model
assets it reads, the outputs it writes, and the function that runs it. This
one table drives execution order, fingerprints, ``selfmoa status`` and the
report; adding a stage is adding an entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from selfmoa.pipeline import stage_runners as runners
from selfmoa.pipeline.reporting import run_report

Scope = Literal["baseline", "round", "run"]


@dataclass(frozen=True)
class StageKey:
    """One stage instance of a run: e.g. ("sample", 0, "round")."""

    name: str
    round: int | None
    scope: Scope = "round"

    @property
    def folder(self) -> str:
        if self.scope == "round":
            return f"round_{self.round:02d}/{self.name}"
        return f"baseline/{self.name}" if self.scope == "baseline" else self.name

    @property
    def label(self) -> str:
        if self.scope == "round":
            return f"round {self.round} {self.name}"
        return f"baseline {self.name}" if self.scope == "baseline" else self.name


Upstream = Callable[[Any, int | None], list[StageKey]]


@dataclass(frozen=True)
class StageSpec:
    name: str
    scope: Scope
    reads_config: frozenset[str]
    upstream: Upstream
    assets: tuple[str, ...]
    outputs: tuple[str, ...]
    run: Callable[[runners.StageContext], dict[str, Any]]
    uses_device: bool = False
    scratch: tuple[str, ...] = ()  # resume state, removed once the stage is done
    # Whether a run with this config has the stage (round r; -1 for baseline stages).
    applies: Callable[[Any, int], bool] | None = None
    # Outputs reused by any run with the same fingerprint (selfmoa/pipeline/stage_cache.py).
    shared: bool = False

    def key(self, round_index: int | None) -> StageKey:
        return StageKey(self.name, round_index, self.scope)


def _round(name: str, r: int) -> list[StageKey]:
    return [StageKey(name, r)] if r >= 0 else []


def _retests(config: Any, r: int) -> bool:
    """Round r >= 1 re-tests the archive's elites on its policy before mutating them."""
    return r >= 1 and config.redteam.progressive_per_round > 0


def _reset_on(config: Any, _: int | None = None) -> bool:
    return bool(config.reset.enabled)


def _start(config: Any) -> list[StageKey]:
    """The stage that made the loop's starting policy: the safety reset, when it is on."""
    return [StageKey("reset", None, "baseline")] if _reset_on(config) else []


def _baseline_evaluation(config: Any, _: int | None) -> list[StageKey]:
    return [StageKey("evaluate", None, "baseline"), *_start(config)]


def _report_upstream(config: Any, _: int | None) -> list[StageKey]:
    return [key for key in plan(config) if key.name != "report"]


# The backend keys that decide what generation computes; where it runs (URL,
# concurrency, timeouts, GPUs) are execution keys (configview.EXECUTION_KEYS).
_GENERATION = frozenset(
    {
        "backend.kind",
        "backend.batch_size",
        "backend.mock_script",
        "backend.endpoint",
        "backend.served_models",
        "backend.lora_names",
        "backend.unserved_adapter",
        "models.dtype",
        "seed",
    }
)
# What every judge's score depends on, besides the list of judges a stage uses.
_JUDGING = frozenset(
    {
        "judge.models",
        "judge.served",
        "judge.max_input_tokens",
        "judge.refusal_window_chars",
        "judge.repetition_ngram",
        "models.embedder",
        "models.dtype",
    }
)
_EVALUATION = (
    _GENERATION
    | _JUDGING
    | {
        "evaluate.harmbench_split",
        "evaluate.sets",
        "evaluate.max_new_tokens",
        "benign_heldout_every",
        "judge.evaluation_judges",
        "judge.verdicts",
        "models.policy",
        "models.policy_adapter",
        "reset.enabled",
    }
)
_EVAL_ASSETS = (
    "evaluation_sets",
    "strongreject",
    "advbench",
    "harmbench",
    "jailbreak_templates",
    "benign_sensitive",
    "model:policy",
    "model:embedder",
    "judge_weights",
)

STAGE_TABLE: tuple[StageSpec, ...] = (
    StageSpec(
        "reset",
        "baseline",
        _GENERATION
        | _JUDGING
        | {"reset", "train", "models.policy", "models.policy_adapter", "seed"},
        lambda c, r: [],
        ("strongreject", "advbench", "model:policy", "model:embedder", "judge_weights"),
        ("answers.jsonl", "pairs.jsonl", "adapter", "metrics.jsonl"),
        runners.run_reset,
        uses_device=True,
        scratch=("checkpoint.safetensors", "reference_logps.safetensors"),
        applies=_reset_on,
    ),
    StageSpec(
        "evaluate",
        "baseline",
        _EVALUATION,
        lambda c, r: _start(c),
        _EVAL_ASSETS,
        ("items.jsonl", "summary.json"),
        runners.run_evaluate,
        uses_device=True,
        shared=True,
    ),
    StageSpec(
        "reference",
        "baseline",
        _EVALUATION,
        lambda c, r: [],
        _EVAL_ASSETS,
        ("items.jsonl", "summary.json"),
        runners.run_reference,
        uses_device=True,
        applies=_reset_on,
        shared=True,
    ),
    StageSpec(
        "retest",
        "round",
        _GENERATION
        | _JUDGING
        | {
            "redteam",
            "sample",
            "judge.training_judges",
            "pairs.refusal_threshold",
            "pairs.harmful_threshold",
            "models.policy",
            "models.policy_adapter",
        },
        lambda c, r: _round("archive", r - 1) + _round("train", r - 1),
        ("model:policy", "model:embedder", "judge_weights"),
        ("retested.jsonl",),
        runners.run_retest,
        uses_device=True,
        applies=_retests,
    ),
    StageSpec(
        "redteam",
        "round",
        _GENERATION | {"redteam", "models.attacker", "models.embedder", "benign_heldout_every"},
        lambda c, r: _round("archive", r - 1) + (_round("retest", r) if _retests(c, r) else []),
        (
            "strongreject",
            "advbench",
            "jailbreak_templates",
            "benign_sensitive",
            "model:attacker",
            "model:embedder",
        ),
        ("prompts.jsonl",),
        runners.run_redteam,
        uses_device=True,
    ),
    StageSpec(
        "sample",
        "round",
        _GENERATION | {"sample", "models.policy", "models.policy_adapter", "reset.enabled"},
        lambda c, r: _round("redteam", r) + _round("train", r - 1) + (_start(c) if r == 0 else []),
        ("model:policy",),
        ("responses.jsonl",),
        runners.run_sample,
        uses_device=True,
    ),
    StageSpec(
        "judge",
        "round",
        _JUDGING | {"judge.training_judges", "backend.batch_size"},
        lambda c, r: _round("redteam", r) + _round("sample", r),
        ("model:embedder", "judge_weights"),
        ("judgements.jsonl",),
        runners.run_judge,
    ),
    StageSpec(
        "archive",
        "round",
        _JUDGING
        | {
            "judge.training_judges",
            "judge.evaluation_judges",
            "pairs.refusal_threshold",
            "pairs.harmful_threshold",
        },
        lambda c, r: (
            _round("archive", r - 1)
            + _round("redteam", r)
            + _round("sample", r)
            + _round("judge", r)
        ),
        ("model:embedder", "judge_weights"),
        ("archive.jsonl", "metrics.json"),
        runners.run_archive,
    ),
    StageSpec(
        "pairs",
        "round",
        frozenset({"pairs"}),
        lambda c, r: _round("redteam", r) + _round("sample", r) + _round("judge", r),
        (),
        ("pairs.jsonl",),
        runners.run_pairs,
    ),
    StageSpec(
        "train",
        "round",
        frozenset(
            {"train", "models.policy", "models.policy_adapter", "models.dtype", "seed"}
            | {"reset.enabled"}
        ),
        lambda c, r: (
            [StageKey("pairs", s) for s in runners.training_rounds(c, r)]
            + _round("train", r - 1)
            + (_start(c) if r == 0 else [])
        ),
        ("model:policy",),
        ("adapter", "metrics.jsonl"),
        runners.run_train,
        uses_device=True,
        scratch=("checkpoint.safetensors", "reference_logps.safetensors"),
    ),
    StageSpec(
        "evaluate",
        "round",
        _EVALUATION,
        lambda c, r: _round("train", r),
        _EVAL_ASSETS,
        ("items.jsonl", "summary.json"),
        runners.run_evaluate,
        uses_device=True,
    ),
    *(
        StageSpec(
            "capability",
            scope,
            frozenset(
                {
                    "evaluate.capability_sets",
                    "evaluate.capability_items",
                    "evaluate.capability_batch_size",
                    "models.policy",
                    "models.policy_adapter",
                    "models.dtype",
                    "reset.enabled",
                    "seed",
                }
            ),
            upstream,
            ("model:policy", "capability_sets"),
            ("items.jsonl", "summary.json"),
            runners.run_capability,
            uses_device=True,
            shared=scope == "baseline",
        )
        for scope, upstream in (
            ("baseline", _baseline_evaluation),
            ("round", lambda c, r: _round("train", r) + _round("evaluate", r)),
        )
    ),
    StageSpec(
        "agreement",
        "run",
        _JUDGING | {"judge.evaluation_judges", "judge.agreement_rows"},
        lambda c, r: [],
        ("judge_weights", "human_labels", "model:embedder"),
        ("agreement.json", "agreement.md"),
        runners.run_agreement,
    ),
    StageSpec(
        "report",
        "run",
        frozenset(
            {
                "evaluate.examples_in_report",
                "rounds",
                "name",
                "judge.evaluation_judges",
                "reset.enabled",
            }
        ),
        _report_upstream,
        (),
        ("report.md", "report.json", "report.html"),
        run_report,
    ),
)
STAGE_BY_KEY = {(spec.name, spec.scope): spec for spec in STAGE_TABLE}


def spec_of(key: StageKey) -> StageSpec:
    return STAGE_BY_KEY[key.name, key.scope]


def plan(config: Any) -> list[StageKey]:
    """Every stage of a run in execution order: baseline, rounds, then run-level stages."""
    by_scope: dict[Scope, list[StageSpec]] = {"baseline": [], "round": [], "run": []}
    for spec in STAGE_TABLE:
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
