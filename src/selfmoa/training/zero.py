"""DeepSpeed ZeRO training (``parallel.mode: deepspeed``, ``parallel.zero_stage``).

The same loop as the other modes (``loop.py``), with DeepSpeed's engine holding the
optimiser: stage 1 partitions the AdamW state over the processes, stage 2 the LoRA
gradients as well, stage 3 the weights too (gathered layer by layer in every forward
and backward; DeepSpeed keeps tensors under ``stage3_param_persistence_threshold``,
1e5 elements, whole on every rank, which is most LoRA matrices). DeepSpeed's own mixed
precision is off: as in the other modes the frozen weights stay in the model's dtype
and PEFT keeps the LoRA weights in fp32, so a bf16 run trains the same adapter (ZeRO-1/2
exactly, ZeRO-3 within bf16 rounding) and fp16 needs no loss scaling that would skip
steps.

What the loop needs from DeepSpeed, and how it is kept equal to one process:

- Gradients are summed over ranks, not averaged: every pair's loss is already its share
  of the whole step (``losses.py``), and DeepSpeed averages, so each backward scales the
  loss by the number of processes.
- The loop runs the decoder and the head itself, so the bookkeeping of the engine's
  forward that accumulation needs is hooked onto the decoder (``wrap``). Not done:
  ZeRO-3's parameter prefetch (its trace is reset by a hook on the whole model's
  forward, which never runs), so every layer is gathered when it is reached.
- DeepSpeed's own gradient accumulation is off (``managed_gradient_accumulation:
  false``): backward only accumulates, ``step()`` reduces and updates, so a step is
  whatever micro-batches the loop ran. Stages 2 and 3 reduce inside every backward, so
  every rank runs as many micro-batches (zero-weight padding, as in ``sharding.py``).
- Clipping is DeepSpeed's (``gradient_clipping``, the same formula as
  ``clip_grad_norm_``); its global gradient norm is read after the step.
- Checkpoints hold whole tensors by parameter name, as in the other modes (the weights
  and AdamW moments gathered with DeepSpeed's fragment API), so a run resumes in any
  mode on any number of processes; loading puts the weights into the model before
  DeepSpeed partitions it and gives each rank its part of the moments.
"""

from __future__ import annotations

import logging
import os

import torch
from torch import nn

from selfmoa.core.errors import SelfMoaError
from selfmoa.training.distributed import rank_and_world

ADAM_MOMENTS = ("exp_avg", "exp_avg_sq")


def import_deepspeed(device: torch.device):
    """DeepSpeed, or a one-line error saying how to install it."""
    if device.type == "cpu":  # without CUDA, DeepSpeed's own probe may pick another device
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    try:
        import deepspeed
    except ImportError as error:
        raise SelfMoaError(
            "parallel.mode=deepspeed needs DeepSpeed: pip install 'selfmoa[deepspeed]' "
            f"(import failed: {error}), or use parallel.mode=fsdp or replicate"
        ) from None
    logging.getLogger("DeepSpeed").setLevel(logging.WARNING)
    return deepspeed


def engine_config(stage: int, max_grad_norm: float) -> dict:
    """The DeepSpeed config of one training stage: ZeRO ``stage``, no accumulation of its own."""
    return {
        "train_micro_batch_size_per_gpu": 1,  # bookkeeping only: the loop feeds the engine
        "gradient_accumulation_steps": 1,
        "managed_gradient_accumulation": False,
        "gradient_clipping": max_grad_norm,
        "zero_optimization": {"stage": stage, "overlap_comm": False},
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 2**31 - 1,
        "wall_clock_breakdown": False,
    }


def wrap(model: nn.Module, optimizer: torch.optim.Optimizer, stage: int, max_grad_norm: float):
    """The DeepSpeed engine around ``model`` (a PEFT model) and its AdamW optimiser."""
    deepspeed = import_deepspeed(next(model.parameters()).device)
    engine, *_ = deepspeed.initialize(
        model=model,
        optimizer=optimizer,
        config=engine_config(stage, max_grad_norm),
        dist_init_required=False,
    )
    # The loop runs the decoder stack and the head itself (logprobs.py), not the engine's
    # forward; the per-forward bookkeeping that forward does (without it stage 3
    # overwrites the gradients of earlier micro-batches instead of adding) runs here.
    clear = getattr(engine.optimizer, "clear_backward_seen_flag", None)
    if clear is not None:  # every ZeRO optimiser (and DeepSpeed's bf16 one) has it
        model.get_base_model().base_model.register_forward_pre_hook(lambda *_: clear())
    return engine


def summed_backward(engine, world: int):
    """The loop's backward under DeepSpeed: its averaged gradients made the ranks' sum."""
    return lambda loss: engine.backward(loss * world)


def step(engine) -> float:
    """Reduce, clip and update; returns the global gradient norm before clipping."""
    engine.step()
    norm = engine.get_global_grad_norm()
    return float("nan") if norm is None else float(norm)


def _trainable(engine) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in engine.module.named_parameters() if p.requires_grad]


def whole_trainable_state(engine) -> dict[str, torch.Tensor]:
    """Every trainable weight whole, by parameter name (a collective: every rank calls it)."""
    from deepspeed.utils import safe_get_full_fp32_param

    return {name: safe_get_full_fp32_param(p).detach().cpu() for name, p in _trainable(engine)}


def whole_lora_state(engine) -> dict[str, torch.Tensor]:
    """The LoRA weights whole, in their own dtype, for PEFT's ``save_pretrained``."""
    from deepspeed.utils import safe_get_full_fp32_param

    return {
        name: safe_get_full_fp32_param(p).detach().cpu().to(p.dtype)
        for name, p in _trainable(engine)
        if "lora_" in name
    }


def _base_optimizer(engine) -> torch.optim.Optimizer:
    """The AdamW inside DeepSpeed's ZeRO optimiser: its parameters are the flat partitions."""
    return engine.optimizer.optimizer


def _flat_partitions(engine) -> list[torch.Tensor]:
    """This rank's flat fp32 partitions, the tensors AdamW keeps its state for (stage 3
    hands them to AdamW only while it steps)."""
    stage3 = getattr(engine.optimizer, "fp32_partitioned_groups_flat", None)
    if stage3 is not None:
        return list(stage3)
    return [flat for group in _base_optimizer(engine).param_groups for flat in group["params"]]


def whole_optimizer_state(engine) -> dict:
    """AdamW's state in ``torch.optim.AdamW.state_dict()``'s layout over the trainable
    parameters in order, every moment whole (a collective). The layout of the other
    modes' checkpoints (``sharding.whole_optimizer_state``)."""
    from deepspeed.utils import safe_get_full_optimizer_state

    base = _base_optimizer(engine)
    trainable = _trainable(engine)
    steps = [entry["step"] for entry in base.state.values() if "step" in entry]
    state = {}
    if steps:  # AdamW creates its state at its first step
        for index, (_, parameter) in enumerate(trainable):
            state[index] = {
                key: safe_get_full_optimizer_state(parameter, key).detach().cpu()
                for key in ADAM_MOMENTS
            }
            state[index]["step"] = steps[0].detach().clone().cpu()
    group = {key: value for key, value in base.param_groups[0].items() if key != "params"}
    group["params"] = list(range(len(trainable)))
    return {"state": state, "param_groups": [group]}


def load_whole_state(engine, optimizer_state: dict) -> None:
    """Give every rank its partition of whole AdamW moments (from any mode's checkpoint).
    The weights were loaded into the model before wrapping, and DeepSpeed took its
    partitions of them from there."""
    entries = optimizer_state["state"]
    if not entries:
        return
    base = _base_optimizer(engine)
    step_count = next(iter(entries.values()))["step"]
    for flat in _flat_partitions(engine):  # AdamW's state for them, filled below
        base.state[flat] = {
            "step": step_count.detach().clone().to(torch.float32),
            **{key: torch.zeros_like(flat) for key in ADAM_MOMENTS},
        }
    link = getattr(engine.optimizer, "_lazy_init_hp_params_optimizer_state", None)
    if link is not None:  # stages 1-2: point every parameter's fragment at the new state
        link()
    for index, (_, parameter) in enumerate(_trainable(engine)):
        for key in ADAM_MOMENTS:
            _set_whole_moment(parameter, entries[index][key].float(), key)
    if optimizer_state["param_groups"]:
        for group in base.param_groups:
            group["lr"] = optimizer_state["param_groups"][0]["lr"]


def _set_whole_moment(parameter: nn.Parameter, value: torch.Tensor, key: str) -> None:
    """Stages 1-2: DeepSpeed cuts each rank's fragment. Stage 3: a rank's partition is
    ceil(size / processes) long, the last one zero-padded, which DeepSpeed's whole-tensor
    setter does not do; so this rank's slice of the padded tensor is set locally."""
    from deepspeed.utils import safe_set_full_optimizer_state, safe_set_local_optimizer_state

    if not hasattr(parameter, "ds_id"):
        safe_set_full_optimizer_state(parameter, value, key)
        return
    rank, world = rank_and_world()
    size = parameter.ds_tensor.numel()
    padded = torch.zeros(size * world)
    padded[: value.numel()] = value.flatten()
    safe_set_local_optimizer_state(parameter, padded.narrow(0, size * rank, size), key)
