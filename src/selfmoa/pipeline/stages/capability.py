"""The capability stage: multiple-choice accuracy and drift from the base model.

Run once on the starting policy and once per round on the trained one: the
log-likelihood accuracy on ``evaluate.capability_sets`` (``selfmoa.evals.capability``)
and how far the policy's answers to the held-out benign prompts moved
(``selfmoa.evals.drift``).
"""

from __future__ import annotations

from typing import Any

from selfmoa.core.atomic import atomic_write_json
from selfmoa.core.chunked import run_chunked
from selfmoa.core.modelpath import resolve_model, safetensors_adapter
from selfmoa.core.records import CapabilityItem, EvalItem
from selfmoa.core.rundir import read_records, write_records
from selfmoa.evals.capability import accuracy, score_items
from selfmoa.evals.drift import drift
from selfmoa.evals.mc_sets import MC_SETS, subsample
from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages.spec import StageKey, StageSpec, in_round, start


def run_capability(ctx: StageContext) -> dict[str, Any]:
    """Capability (multiple-choice log-likelihood) and drift from the base model."""
    cfg = ctx.config.evaluate
    items = [
        item
        for name in cfg.capability_sets
        for item in subsample(MC_SETS[name](), cfg.capability_items, ctx.config.seed)
    ]
    policy = LazyScorer(ctx)
    try:
        scored = run_chunked(
            items,
            cfg.capability_batch_size * 2,
            ctx.stage.file("items.jsonl"),
            CapabilityItem,
            lambda chunk, i: score_items(*policy.get(), chunk, cfg.capability_batch_size),
            desc=ctx.stage.label,
            fault_label=ctx.fault_label,
        )
        if not items:  # evaluate.capability_items = 0: drift only, an empty items file
            write_records(ctx.stage.file("items.jsonl"), [])
        folder = ctx.evaluate_folder(ctx.round)
        answered = [
            item
            for item in read_records(folder / "items.jsonl", EvalItem)
            if item.eval_set == "benign_heldout"
        ]
        moved = drift(
            *policy.get(),
            [item.prompt_text for item in answered],
            [item.response for item in answered],
            cfg.capability_batch_size,
        )
    finally:
        policy.close()
    summary = {"accuracy": accuracy(scored), "drift": moved}
    atomic_write_json(ctx.stage.file("summary.json"), summary)
    return {"items": len(scored), **{k: v for k, v in moved.items() if v is not None}}


class LazyScorer:
    """The policy (with its adapter) and tokenizer for scoring, loaded on first use."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.loaded: tuple[Any, Any] | None = None

    def get(self) -> tuple[Any, Any]:
        if self.loaded is None:
            from selfmoa.backends.hf import load_causal_lm, load_tokenizer, pick_device

            cfg = self.ctx.config
            path = resolve_model(cfg.models.policy, "models.policy")
            model = load_causal_lm(path, cfg.models.dtype, pick_device(cfg.models.device))
            adapter = self.ctx.adapter_after(self.ctx.round)
            if adapter is not None:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, safetensors_adapter(adapter))
            self.loaded = (model.eval(), load_tokenizer(path))
        return self.loaded

    def close(self) -> None:
        self.loaded = None


CAPABILITY_KEYS = frozenset(
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
)
CAPABILITY_ASSETS = ("model:policy", "capability_sets")

BASELINE = StageSpec(
    "capability",
    "baseline",
    CAPABILITY_KEYS,
    lambda c, r: [StageKey("evaluate", None, "baseline"), *start(c)],
    CAPABILITY_ASSETS,
    ("items.jsonl", "summary.json"),
    run_capability,
    uses_device=True,
    shared=True,
)
ROUND = StageSpec(
    "capability",
    "round",
    CAPABILITY_KEYS,
    lambda c, r: in_round("train", r) + in_round("evaluate", r),
    CAPABILITY_ASSETS,
    ("items.jsonl", "summary.json"),
    run_capability,
    uses_device=True,
)
