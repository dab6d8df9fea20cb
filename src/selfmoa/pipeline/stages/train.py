"""The train stage: the policy's LoRA adapter trained on this round's preference pairs.

Round r trains on its own pairs (and, with ``train.replay_previous_rounds``, on those
of every earlier round), starting from the adapter of round r - 1 (or the safety
reset's, or the policy's own). The training itself is ``selfmoa.training``.
"""

from __future__ import annotations

from typing import Any

from selfmoa.core.errors import SelfMoaError
from selfmoa.core.modelpath import resolve_model
from selfmoa.core.records import PreferencePair
from selfmoa.core.rundir import read_records
from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages.spec import StageKey, StageSpec, in_round, start
from selfmoa.training.loop import TrainPaths, train_preference_lora


def training_rounds(config: Any, r: int) -> range:
    """Rounds whose pairs round r trains on."""
    return range(0 if config.train.replay_previous_rounds else r, r + 1)


def run_train(ctx: StageContext) -> dict[str, Any]:
    r = ctx.round
    assert r is not None
    cfg = ctx.config
    built = [
        pair
        for source in training_rounds(cfg, r)
        for pair in read_records(ctx.folder("pairs", source) / "pairs.jsonl", PreferencePair)
    ]
    if not built:
        raise SelfMoaError(
            f"round {r} produced no preference pairs; raise redteam.seeds_per_round "
            "or sample.samples_per_prompt"
        )
    stats = train_preference_lora(
        resolve_model(cfg.models.policy, "models.policy"),
        built,
        cfg.train,
        TrainPaths(ctx.stage.path),
        dtype=cfg.models.dtype,
        device=cfg.models.device,
        init_adapter=ctx.adapter_after(r - 1),
        seed=cfg.seed + r,
        fault_label=ctx.fault_label,
        parallel=cfg.parallel,
    )
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()}


STAGE = StageSpec(
    "train",
    "round",
    frozenset(
        {"train", "models.policy", "models.policy_adapter", "models.dtype", "seed"}
        | {"reset.enabled"}
    ),
    lambda c, r: (
        [StageKey("pairs", s) for s in training_rounds(c, r)]
        + in_round("train", r - 1)
        + (start(c) if r == 0 else [])
    ),
    ("model:policy",),
    ("adapter", "metrics.jsonl"),
    run_train,
    uses_device=True,
    scratch=("checkpoint.safetensors", "reference_logps.safetensors"),
)
