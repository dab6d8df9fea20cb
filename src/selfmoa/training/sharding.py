"""Fully sharded data parallel training (``parallel.mode: fsdp``, PyTorch FSDP2).

Under a launcher, ``replicate`` mode (``distributed.py``) keeps a whole copy of the
model on every process. ``fsdp`` shards every decoder layer over the processes with
``torch.distributed.fsdp.fully_shard``: each rank holds 1/world of the layer weights
(frozen base weights and LoRA weights alike), of the LoRA gradients and of the AdamW
state, which is what DeepSpeed ZeRO stage 3 does; ``parallel.reshard_after_forward:
false`` keeps a layer's gathered weights from its forward to its backward (ZeRO-2-like:
less communication, more memory). The embeddings, final norm and output head stay
whole on every rank: the log-prob code calls the decoder stack and the head
separately (``logprobs.py``), and tied embeddings must live in one piece.

Three things differ from replication, each handled here:

- Gradients must be summed over ranks, not averaged: every pair's loss is already its
  share of the whole step (``losses.py``), as in replicate mode (``distributed.sum_gradients``).
- A sharded layer gathers its weights inside every forward and backward, so every rank
  must run as many micro-batches as the busiest rank; the others run padding
  micro-batches whose loss is multiplied by 0 (``padding_micro_batches``).
- Saving gathers the LoRA shards into whole tensors on every rank (a collective), and
  rank 0 writes them; checkpoints hold whole tensors by parameter name in both modes,
  so a run resumes in either mode on any number of processes, and loading cuts each
  rank's shard back out of them.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks: modules whose class name ends in ``DecoderLayer``."""
    return [m for m in model.modules() if type(m).__name__.endswith("DecoderLayer")]


def shard_decoder_layers(model: nn.Module, reshard_after_forward: bool) -> int:
    """Shard every decoder layer over the process group; returns how many were sharded."""
    from torch.distributed.fsdp import fully_shard

    layers = decoder_layers(model)
    if not layers:
        raise ValueError(
            "parallel.mode=fsdp found no decoder layers (modules named *DecoderLayer) to "
            "shard in this model; use parallel.mode=replicate"
        )
    for layer in layers:
        fully_shard(layer, reshard_after_forward=reshard_after_forward)
    return len(layers)


def is_sharded(tensor: torch.Tensor) -> bool:
    from torch.distributed.tensor import DTensor

    return isinstance(tensor, DTensor)


def padding_micro_batches(step_pairs: int, world: int, mine: int, micro_batch: int) -> int:
    """Micro-batches this rank runs with zero weight so that all ranks run as many."""
    busiest = math.ceil(step_pairs / world)
    return math.ceil(busiest / micro_batch) - math.ceil(mine / micro_batch)


def whole(tensor: torch.Tensor) -> torch.Tensor:
    """A sharded tensor gathered whole (a collective: every rank must call it), or as is."""
    return tensor.full_tensor() if is_sharded(tensor) else tensor


def whole_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every tensor of ``state`` whole, gathered in key order on every rank."""
    return {key: whole(state[key]).detach() for key in sorted(state)}


def load_whole_into(parameter: torch.Tensor, value: torch.Tensor) -> None:
    """Copy a whole tensor into a parameter, keeping only this rank's shard if sharded."""
    from torch.distributed.tensor import distribute_tensor

    with torch.no_grad():
        if is_sharded(parameter):
            piece = distribute_tensor(
                value.to(parameter.dtype), parameter.device_mesh, parameter.placements
            )
            parameter.to_local().copy_(piece.to_local())
        else:
            parameter.copy_(value)


def squared_norm(gradients: list[torch.Tensor]) -> torch.Tensor:
    """Sum of squares of all gradients: shards summed over ranks, whole ones counted once."""
    import torch.distributed as dist

    local = torch.zeros((), dtype=torch.float64)
    replicated = torch.zeros((), dtype=torch.float64)
    for gradient in gradients:
        if is_sharded(gradient):
            local += gradient.to_local().double().pow(2).sum().cpu()
        else:
            replicated += gradient.double().pow(2).sum().cpu()
    if dist.is_initialized():
        dist.all_reduce(local, op=dist.ReduceOp.SUM)
    return local + replicated


def clip_gradients(parameters: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``clip_grad_norm_`` for a mix of sharded and whole gradients; returns the norm."""
    gradients = [p.grad for p in parameters if p.grad is not None]
    norm = squared_norm(gradients).sqrt()
    scale = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
    if torch.isfinite(norm):
        for gradient in gradients:
            target = gradient.to_local() if is_sharded(gradient) else gradient
            target.mul_(scale.to(target.dtype))
    return norm


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters by name, whole (a collective)."""
    return whole_state({n: p for n, p in model.named_parameters() if p.requires_grad})


def whole_lora_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's LoRA entries of ``state_dict()``, whole, for PEFT's ``save_pretrained``."""
    return whole_state({k: v for k, v in model.state_dict().items() if "lora_" in k})


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load whole trainable tensors (``trainable_state``) into a sharded model."""
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            load_whole_into(parameter, state[name])


def _optimizer_parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def whole_optimizer_state(optimizer: torch.optim.Optimizer) -> dict:
    """``optimizer.state_dict()`` with every sharded state tensor whole (a collective)."""
    state = optimizer.state_dict()
    return {
        "state": {
            index: {
                key: whole(value) if isinstance(value, torch.Tensor) else value
                for key, value in sorted(entry.items())
            }
            for index, entry in sorted(state["state"].items())
        },
        "param_groups": state["param_groups"],
    }


def load_whole_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load ``whole_optimizer_state`` output, cutting each rank's shard of every tensor
    shaped like its (sharded) parameter."""
    from torch.distributed.tensor import distribute_tensor

    parameters = _optimizer_parameters(optimizer)
    cut = {}
    for index, entry in state["state"].items():
        parameter = parameters[index]
        cut[index] = {
            key: distribute_tensor(value, parameter.device_mesh, parameter.placements)
            if is_sharded(parameter)
            and isinstance(value, torch.Tensor)
            and value.shape == parameter.shape
            else value
            for key, value in entry.items()
        }
    optimizer.load_state_dict({"state": cut, "param_groups": state["param_groups"]})
