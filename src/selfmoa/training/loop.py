"""One explicit LoRA training loop for preference pairs, with the loss chosen by name.

Steps: tokenise pairs -> reference log-probs once (same model, adapter
disabled) -> epochs of shuffled mini-batches (seeded per epoch) -> the
``train.loss`` entry of ``losses.LOSSES`` (default MODPO + NLL) -> AdamW on the
LoRA weights only. Every ``checkpoint_every``
steps the adapter, optimiser, scheduler and RNG state are saved atomically, so
a killed run resumes at its last checkpoint and ends where an uninterrupted
run would. Round r+1 starts from round r's adapter; the reference is always the
base model (adapter disabled).
"""

from __future__ import annotations

import gc
import json
import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from selfmoa.backends.hf import load_causal_lm, load_tokenizer, pick_device
from selfmoa.core.atomic import atomic_path, atomic_write_text
from selfmoa.core.config import ParallelConfig, TrainConfig
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.faults import fault_point
from selfmoa.core.modelpath import safetensors_adapter
from selfmoa.core.records import PreferencePair
from selfmoa.core.tensor_state import load_state, save_state
from selfmoa.training import sharding, zero
from selfmoa.training.attention_choice import prefer_eager_attention_for_cpu_bfloat16
from selfmoa.training.collate import TokenizedPair, build_batch, pair_sequences, tokenize_pair
from selfmoa.training.distributed import (
    barrier,
    launcher_device,
    rank_and_world,
    shard,
    start_from_launcher,
    sum_gradients,
    sum_stats,
)
from selfmoa.training.logprobs import pair_logps, response_logps, takes_4d_mask
from selfmoa.training.losses import (
    LOSSES,
    PreferenceTerms,
    log_ratios,
    nll_loss,
)
from selfmoa.training.mixed_precision_lora import fuse_mixed_precision_lora
from selfmoa.training.pair_batch import build_pair_batch
from selfmoa.training.saturation import saturated_share, saturation_warning


@dataclass(frozen=True)
class TrainPaths:
    """Files of one training stage folder."""

    root: Path

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.safetensors"

    @property
    def reference(self) -> Path:
        return self.root / "reference_logps.safetensors"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"


class TrainingDiverged(SelfMoaError):
    """A non-finite loss or gradient: training stops, the last good checkpoint stays."""


def build_peft_model(
    model_path: str,
    dtype: str,
    device: str,
    config: TrainConfig,
    init_adapter: Path | None,
    seed: int,
):
    from peft import LoraConfig, PeftModel, get_peft_model

    torch.manual_seed(seed)
    model = load_causal_lm(model_path, dtype, pick_device(device))
    longest_row = config.max_prompt_tokens + 2 * config.max_response_tokens  # pair_batch.py
    prefer_eager_attention_for_cpu_bfloat16(model, longest_row)
    if init_adapter is not None:
        return PeftModel.from_pretrained(
            model, safetensors_adapter(init_adapter), is_trainable=True
        )
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def batch_logps(model, pairs: list[TokenizedPair], pad_id: int):
    """(chosen sums, rejected sums, chosen token counts, rejected token counts).

    Each prompt is run once for both answers (``pair_batch.py``) where the attention
    implementation takes a 4D mask; otherwise as two sequences per pair.
    """
    causal_lm = model.get_base_model()
    if takes_4d_mask(causal_lm):
        sums, counts = pair_logps(causal_lm, build_pair_batch(pairs, pad_id))
    else:
        sums, counts = response_logps(causal_lm, build_batch(pair_sequences(pairs), pad_id))
    n = len(pairs)
    return sums[:n], sums[n:], counts[:n], counts[n:]


@torch.no_grad()
def reference_logps(
    model, pairs: list[TokenizedPair], pad_id: int, batch_pairs: int
) -> torch.Tensor:
    """(n_pairs, 2) reference log-probs: the same model with its adapter disabled."""
    rows = []
    with model.disable_adapter():
        for start in tqdm(
            range(0, len(pairs), batch_pairs), desc="reference log-probs", leave=False
        ):
            chosen, rejected, *_ = batch_logps(model, pairs[start : start + batch_pairs], pad_id)
            rows.append(torch.stack([chosen, rejected], 1).cpu())
    return torch.cat(rows) if rows else torch.zeros(0, 2)


def preference_terms(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    counts: tuple[torch.Tensor, torch.Tensor],
    reference: torch.Tensor,
    pairs: list[TokenizedPair],
    config: TrainConfig,
    step_pairs: list[TokenizedPair] | None = None,
) -> tuple[PreferenceTerms, torch.Tensor, torch.Tensor]:
    """The loss inputs of one batch, and the (chosen, rejected) log-ratios for metrics.

    Objectives are the keys of ``train.objective_weights`` in order; a pair's margin on
    an objective it does not carry counts as 0. ``step_pairs``: every pair of the
    optimiser step when ``pairs`` is one micro-batch of it.
    """
    device = chosen.device
    names = list(config.objective_weights)

    def ranked_of(batch: list[TokenizedPair]) -> torch.Tensor:
        return torch.tensor([names.index(p.objective) for p in batch], device=device)

    chosen_ratio = log_ratios(chosen, reference[:, 0], counts[0], config.length_normalise)
    rejected_ratio = log_ratios(rejected, reference[:, 1], counts[1], config.length_normalise)
    terms = PreferenceTerms(
        h=chosen_ratio - rejected_ratio,
        nll=nll_loss(chosen, counts[0]),
        ranked=ranked_of(pairs),
        margins=torch.tensor(
            [[p.margins.get(name, 0.0) for name in names] for p in pairs], device=device
        ),
        weights=torch.tensor([config.objective_weights[name] for name in names], device=device),
        beta=config.beta,
        nll_weight=config.nll_weight,
        step_ranked=None if step_pairs is None else ranked_of(step_pairs),
    )
    return terms, chosen_ratio.detach(), rejected_ratio.detach()


STEP_STATISTICS = ("loss", "preference_loss", "nll", "reward_accuracy", "reward_margin")


def step_loss(
    model,
    pairs: list[TokenizedPair],
    reference: torch.Tensor,
    config: TrainConfig,
    pad_id: int,
    step_pairs: list[TokenizedPair] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of ``pairs`` as their share of the step (``step_pairs``, default ``pairs``).

    The losses and every statistic are shares of the step's mean, so the values of a
    step's micro-batches add up to those of the whole step in one batch.
    """
    chosen, rejected, chosen_counts, rejected_counts = batch_logps(model, pairs, pad_id)
    reference = reference.to(chosen.device)
    terms, chosen_ratio, rejected_ratio = preference_terms(
        chosen, rejected, (chosen_counts, rejected_counts), reference, pairs, config, step_pairs
    )
    loss, preference = LOSSES[config.loss].compute(terms)
    reward_chosen, reward_rejected = config.beta * chosen_ratio, config.beta * rejected_ratio
    stats = {
        "loss": loss.item(),
        "preference_loss": preference.item(),
        "nll": terms.step_mean(terms.nll).item(),
        "reward_accuracy": terms.step_mean((reward_chosen > reward_rejected).float()).item(),
        "reward_margin": terms.step_mean(reward_chosen - reward_rejected).item(),
    }
    return loss, stats


def accumulate_step_gradients(
    model,
    pairs: list[TokenizedPair],
    reference: torch.Tensor,
    config: TrainConfig,
    pad_id: int,
    step: int,
    paths: TrainPaths,
    step_pairs: list[TokenizedPair] | None = None,
    padding: int = 0,
    collective: bool = False,
    backward: Callable[[torch.Tensor], object] = torch.Tensor.backward,
) -> dict[str, float]:
    """Backward the step's loss in micro-batches of ``train.micro_batch_pairs`` pairs.

    Only one micro-batch's activations are alive at a time; the gradients add up to
    those of the whole step in one batch (``losses.py``). ``step_pairs``: the whole
    step when ``pairs`` is this process's shard of it. A non-finite micro-batch loss is
    not backpropagated and makes the step's summed loss non-finite, which stops
    training before any update on every process alike. ``padding``: micro-batches of
    zero weight run after them, so that sharded layers see as many forwards on every
    process (``sharding.py``); ``collective``: layers are gathered or gradients reduced
    inside backward (fsdp, DeepSpeed), so every loss is backpropagated, a non-finite one
    too, since a skipped backward would skip those collectives on this process only.
    ``backward``: how a loss is backpropagated (DeepSpeed's engine,
    ``zero.summed_backward``). Returns this process's share of the step's statistics.
    """
    # every statistic present even on a rank with no pair this step: ranks sum them
    totals = dict.fromkeys(STEP_STATISTICS, 0.0)
    size = config.micro_batch_pairs
    for start in range(0, len(pairs), size):
        loss, stats = step_loss(
            model,
            pairs[start : start + size],
            reference[start : start + size],
            config,
            pad_id,
            step_pairs=pairs if step_pairs is None else step_pairs,
        )
        if collective or torch.isfinite(loss):  # a non-finite one stops the step after sum_stats
            backward(loss)
        for name, value in stats.items():
            totals[name] += value
    for _ in range(padding):
        chosen, rejected, *_ = batch_logps(model, (step_pairs or pairs)[:1], pad_id)
        backward((chosen.sum() + rejected.sum()) * 0.0)
    return totals


def budget_sample(pairs: list[PreferencePair], budget: int, seed: int) -> list[PreferencePair]:
    """At most ``budget`` pairs, each objective keeping its share (largest remainders),
    drawn with a seeded generator; the kept pairs stay in their original order."""
    if len(pairs) <= budget:
        return pairs
    groups: dict[str, list[int]] = {}
    for index, pair in enumerate(pairs):
        groups.setdefault(pair.objective, []).append(index)
    exact = {name: budget * len(members) / len(pairs) for name, members in groups.items()}
    quota = {name: math.floor(value) for name, value in exact.items()}
    by_remainder = sorted(groups, key=lambda name: quota[name] - exact[name])
    for name in by_remainder[: budget - sum(quota.values())]:
        quota[name] += 1
    chooser = random.Random(seed)
    kept = sorted(
        index for name, members in groups.items() for index in chooser.sample(members, quota[name])
    )
    return [pairs[index] for index in kept]


def schedule(total_steps: int) -> Callable[[int], float]:
    warmup = max(1, total_steps // 10)
    return lambda step: min(1.0, (step + 1) / warmup) * max(0.1, 1 - step / max(1, total_steps))


def epoch_order(n_pairs: int, epoch: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed * 1000 + epoch)
    return torch.randperm(n_pairs, generator=generator).tolist()


def train_preference_lora(
    model_path: str,
    pairs: list[PreferencePair],
    config: TrainConfig,
    paths: TrainPaths,
    *,
    dtype: str = "float32",
    device: str = "auto",
    init_adapter: Path | None = None,
    seed: int = 0,
    fault_label: str = "train",
    parallel: ParallelConfig | None = None,
) -> dict[str, float]:
    """Train (or resume training) a LoRA adapter; writes ``paths.adapter``. Returns stats.

    Pairs ranked on an objective of weight 0 are left out, then at most
    ``config.max_pairs`` are kept (``budget_sample``); both are counted.
    """
    given = len(pairs)
    unweighted = sorted({p.objective for p in pairs} - set(config.objective_weights))
    if unweighted:
        raise SelfMoaError(
            f"pairs ranked on {', '.join(unweighted)}, which train.objective_weights does not "
            "weigh; add a weight (and the objective to pairs.extra_objectives)"
        )
    pairs = [pair for pair in pairs if config.objective_weights[pair.objective] > 0]
    if not pairs:
        raise SelfMoaError(
            "every preference pair is ranked on an objective of weight 0; give "
            "train.objective_weights a weight > 0 for an objective the pairs carry"
        )
    weighted = len(pairs)
    if config.max_pairs is not None:
        pairs = budget_sample(pairs, config.max_pairs, seed)
    tokenizer = load_tokenizer(model_path)
    pad_id = tokenizer.pad_token_id
    tokenized = [
        tokenize_pair(tokenizer, pair, config.max_prompt_tokens, config.max_response_tokens)
        for pair in pairs
    ]
    start_from_launcher(pick_device(device))
    rank, world = rank_and_world()
    writes = rank == 0  # with several processes only rank 0 writes (distributed.py)
    target = launcher_device(pick_device(device))
    model = build_peft_model(model_path, dtype, str(target), config, init_adapter, seed)
    mode = parallel.mode if world > 1 and parallel is not None else "replicate"
    sharded = mode == "fsdp"
    if mode == "replicate":  # DeepSpeed and fsdp gather LoRA weights in hooks of their own
        fuse_mixed_precision_lora(model)
    if sharded:
        sharding.shard_decoder_layers(model, parallel.reshard_after_forward)  # type: ignore[union-attr]
    has_reference = paths.reference.is_file()
    barrier()  # every rank has looked before rank 0 may write it
    if has_reference:
        reference = _load_reference(paths, len(tokenized))
    else:
        reference = reference_logps(model, tokenized, pad_id, config.pairs_per_step)
        if writes:
            save_state(reference, paths.reference)

    has_checkpoint = paths.checkpoint.is_file()
    barrier()  # every rank has looked before rank 0 may write one
    checkpoint = _load_checkpoint(paths) if has_checkpoint else None
    if checkpoint is not None:
        with _foreign_checkpoint(paths):
            _load_weights(model, checkpoint)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(tokenized) / config.pairs_per_step)
    total_steps = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(total_steps))
    engine = None
    if mode == "deepspeed":  # the engine owns the optimiser from here (zero.py)
        engine = zero.wrap(model, optimizer, parallel.zero_stage, config.max_grad_norm)  # type: ignore[union-attr]
    with _foreign_checkpoint(paths):
        step = _resume(checkpoint, optimizer, scheduler, engine)
    _keep_metrics_up_to(paths, step, writes)
    backward = torch.Tensor.backward if engine is None else zero.summed_backward(engine, world)
    written_by = {"mode": mode, "processes": world}
    if engine is not None:
        written_by["zero_stage"] = parallel.zero_stage  # type: ignore[union-attr]
    collective = mode != "replicate"  # layers or gradients reduced inside backward

    model.train()
    with tqdm(
        total=total_steps, initial=step, desc="train", unit="step", disable=not writes
    ) as progress:
        while step < total_steps:
            epoch, position = divmod(step, steps_per_epoch)
            order = epoch_order(len(tokenized), epoch, seed)
            start = position * config.pairs_per_step
            index = order[start : start + config.pairs_per_step]
            batch = [tokenized[i] for i in index]
            mine = shard(index, rank, world)
            padding = (
                sharding.padding_micro_batches(
                    len(batch), world, len(mine), config.micro_batch_pairs
                )
                if collective
                else 0
            )
            last = accumulate_step_gradients(
                model,
                [tokenized[i] for i in mine],
                reference[mine],
                config,
                pad_id,
                step,
                paths,
                step_pairs=batch,
                padding=padding,
                collective=collective,
                backward=backward,
            )
            if engine is None:
                sum_gradients(trainable)
            last = sum_stats(last)
            if not math.isfinite(last["loss"]):
                _diverged(step, f"loss is {last['loss']}", paths)
            _optimizer_step(trainable, optimizer, scheduler, config, step, paths, mode, engine)
            step += 1
            if writes:
                with open(paths.metrics, "a") as handle:
                    handle.write(json.dumps({"step": step, "epoch": epoch, **last}) + "\n")
            if step % config.checkpoint_every == 0 or step == total_steps:
                _save_checkpoint(
                    model, optimizer, scheduler, step, paths, writes, written_by, engine
                )
                fault_point(f"{fault_label}:checkpoint{step}")
            progress.update(1)
            progress.set_postfix(loss=f"{last['loss']:.3f}", acc=f"{last['reward_accuracy']:.2f}")
    _save_adapter(model, paths.adapter, writes, sharded, engine)
    barrier()  # the adapter and metrics are on disk for every rank
    if collective:  # free the sharded layers or the engine (and their hold on
        if engine is not None:  # the process group) now, not at interpreter exit
            engine.destroy()
        del model, optimizer, trainable, engine
        gc.collect()
    share = saturated_share(paths.metrics, steps_per_epoch)
    warning = saturation_warning(share)
    if warning is not None and writes:
        tqdm.write(f"warning: {warning}")
    return {
        "steps": total_steps,
        "pairs": len(tokenized),
        "pairs_left_out_zero_weight": given - weighted,
        "pairs_left_out_budget": weighted - len(pairs),
        **_last_metrics(paths),
        "preference_saturated_share": share,
    }


def _optimizer_step(trainable, optimizer, scheduler, config, step, paths, mode, engine) -> None:
    """Clip and step; a non-finite gradient stops before any update (under DeepSpeed, whose
    norm is known only after its step, before the updated weights are saved)."""
    if engine is not None:
        grad_norm = torch.tensor(zero.step(engine))
    else:
        clip = sharding.clip_gradients if mode == "fsdp" else torch.nn.utils.clip_grad_norm_
        grad_norm = clip(trainable, config.max_grad_norm)
    if not torch.isfinite(grad_norm):
        _diverged(step, f"gradient norm is {grad_norm.item()}", paths)
    if engine is None:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    scheduler.step()


def _diverged(step: int, what: str, paths: TrainPaths) -> None:
    kept = _load_checkpoint(paths)["step"] if paths.checkpoint.is_file() else 0
    raise TrainingDiverged(
        f"training diverged at step {step + 1}: {what}; no adapter was saved and the last good "
        f"checkpoint (step {kept}) is kept. Lower train.learning_rate or train.nll_weight, "
        "then run again"
    )


def _save_checkpoint(model, optimizer, scheduler, step, paths, writes, written_by, engine) -> None:
    """Rank 0 writes the checkpoint: trainable weights and optimiser state as whole tensors
    by parameter name (sharded or partitioned ones gathered first, on every rank), so it
    resumes in any parallel mode on any number of processes. Weights that are no longer
    finite stop training instead (every rank holds them whole, so all stop alike)."""
    if engine is not None:
        weights = zero.whole_trainable_state(engine)
        optimizer_state = zero.whole_optimizer_state(engine)
    else:
        weights = sharding.trainable_state(model)
        optimizer_state = sharding.whole_optimizer_state(optimizer)
    if not all(bool(torch.isfinite(value).all()) for value in weights.values()):
        _diverged(step - 1, "the LoRA weights are no longer finite", paths)
    if writes:
        save_state(
            {
                "step": step,
                "trainable": weights,
                "optimizer": optimizer_state,
                "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(),
                "written_by": written_by,
            },
            paths.checkpoint,
        )


def _load_checkpoint(paths: TrainPaths) -> dict:
    """The checkpoint as written by ``_save_checkpoint`` (safetensors, never a pickle); one
    whose fields are missing or of the wrong type is refused with one line."""
    state = load_state(paths.checkpoint)
    fields = {
        "step": int,
        "trainable": dict,
        "optimizer": dict,
        "scheduler": dict,
        "rng": torch.Tensor,
        "written_by": dict,
    }
    if not isinstance(state, dict) or any(
        not isinstance(state.get(name), kind) for name, kind in fields.items()
    ):
        raise SelfMoaError(
            f"{paths.checkpoint} is not a checkpoint this selfmoa wrote; delete it to train "
            "this stage again"
        )
    return state


def _load_reference(paths: TrainPaths, pairs: int) -> torch.Tensor:
    reference = load_state(paths.reference)
    if not isinstance(reference, torch.Tensor) or reference.shape[:1] != (pairs,):
        raise SelfMoaError(
            f"{paths.reference} does not hold reference log-probs for these {pairs} pairs; "
            "delete it to compute it again"
        )
    return reference


@contextmanager
def _foreign_checkpoint(paths: TrainPaths) -> Iterator[None]:
    """A checkpoint whose tensors do not fit this model or optimiser is one clear line."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as error:
        raise SelfMoaError(
            f"{paths.checkpoint} does not fit this model and training ({type(error).__name__}); "
            "delete it to train this stage again"
        ) from None


def _load_weights(model, state: dict) -> None:
    """The checkpoint's trainable weights into the model (sharded: each rank its shard)."""
    sharding.load_trainable_state(model, state["trainable"])


def _resume(state: dict | None, optimizer, scheduler, engine) -> int:
    """Optimiser, scheduler and RNG state of the checkpoint, if any. Returns its step."""
    if state is None:
        return 0
    if engine is not None:
        zero.load_whole_state(engine, state["optimizer"])
    else:
        sharding.load_whole_optimizer_state(optimizer, state["optimizer"])
    # only the scheduler's own fields: load_state_dict would set any attribute it is given
    known = scheduler.state_dict()
    scheduler.load_state_dict({k: v for k, v in state["scheduler"].items() if k in known})
    torch.set_rng_state(state["rng"])
    return int(state["step"])


def _keep_metrics_up_to(paths: TrainPaths, step: int, writes: bool) -> None:
    """Drop metric rows written after the checkpoint the run resumes from."""
    if writes and paths.metrics.is_file():
        rows = [
            line
            for line in paths.metrics.read_text().splitlines(keepends=True)
            if line.endswith("\n") and json.loads(line)["step"] <= step
        ]
        atomic_write_text(paths.metrics, "".join(rows))


def _last_metrics(paths: TrainPaths) -> dict[str, float]:
    """The last step's metrics and their means over the last epoch (``last_epoch_*``), from
    disk: the same whether or not this process trained. One step holds a few pairs, so its
    loss is noisy; the epoch mean is what the report shows."""
    rows = paths.metrics.read_text().splitlines() if paths.metrics.is_file() else []
    if not rows:
        return {}
    steps = [json.loads(row) for row in rows]
    last = steps[-1]
    epoch = [s for s in steps if s.get("epoch") == last.get("epoch")]
    means = {
        f"last_epoch_{k}": round(sum(s[k] for s in epoch) / len(epoch), 6)
        for k in STEP_STATISTICS
        if all(k in s for s in epoch)
    }
    return {**{k: v for k, v in last.items() if k not in ("step", "epoch")}, **means}


def _save_adapter(model, target: Path, writes: bool, sharded: bool, engine) -> None:
    """Rank 0 writes the adapter; sharded or partitioned LoRA weights are first gathered
    on every rank."""
    if engine is not None:
        state = zero.whole_lora_state(engine)
    else:
        state = sharding.whole_lora_state(model) if sharded else None
    if not writes:
        return
    with atomic_path(target) as staging:
        if state is None:
            model.save_pretrained(str(staging))
        else:
            model.save_pretrained(str(staging), state_dict=state)
        # PEFT keeps target_modules as a set, so its order follows the process's hash
        # seed; sort it so the same training writes the same bytes.
        config_path = staging / "adapter_config.json"
        config = json.loads(config_path.read_text())
        if isinstance(config.get("target_modules"), list):
            config["target_modules"] = sorted(config["target_modules"])
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
