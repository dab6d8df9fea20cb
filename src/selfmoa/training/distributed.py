"""Data-parallel training over several processes (``torchrun`` or ``accelerate launch``).

Every process holds the whole model and walks the same seeded order of pairs; within a
step, rank r takes pairs r, r + world, r + 2 world, ... of the step's batch. Each
pair's loss is already its share of the *whole step* (``losses.py``), so the step's
gradient is the sum of the ranks' gradients: an all-reduce SUM, after which every rank
takes the same optimiser step and the weights stay identical. Only rank 0 writes
checkpoints, metrics and the adapter. One process (no launcher): nothing changes.

The launchers set ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; the
process group is started here with gloo on CPU, and on GPUs with NCCL for CUDA tensors
and gloo for the CPU ones (statistics, flags).
"""

from __future__ import annotations

import atexit
import gc
import os

import torch
import torch.distributed as dist


def start_from_launcher(device: torch.device) -> None:
    """Join the launcher's process group when there is one and none is started; it is
    destroyed at exit, before the interpreter tears down what still refers to it."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        # NCCL moves CUDA tensors only; the loop's small statistics are CPU tensors
        dist.init_process_group("cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo")
        atexit.register(_leave_group)


def _leave_group() -> None:
    gc.collect()
    if dist.is_initialized():
        dist.destroy_process_group()


def launcher_device(device: torch.device) -> torch.device:
    """Each process its own GPU (``LOCAL_RANK``) under a launcher; otherwise ``device``."""
    if device.type == "cuda" and device.index is None and rank_and_world()[1] > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def barrier() -> None:
    """Wait for every process (no-op in one process)."""
    if rank_and_world()[1] > 1:
        dist.barrier()


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard(items: list, rank: int, world: int) -> list:
    """This rank's share of one step's batch."""
    return items[rank::world]


def sum_gradients(parameters: list[torch.Tensor]) -> None:
    """Add every rank's gradients together (no-op in one process). Sharded parameters
    (``parallel.mode: fsdp``, ``sharding.py``) arrive averaged over ranks by FSDP's
    reduce-scatter: times the world size makes that the sum (gloo has no pre-multiplied
    sum, so FSDP's divide factor cannot be set to 1)."""
    from selfmoa.training.sharding import is_sharded

    _, world = rank_and_world()
    if world == 1:
        return
    for parameter in parameters:
        if is_sharded(parameter):
            if parameter.grad is not None:
                parameter.grad.to_local().mul_(world)
            continue
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)


def sum_stats(stats: dict[str, float]) -> dict[str, float]:
    """The step's statistics summed over ranks (each rank holds its share)."""
    _, world = rank_and_world()
    if world == 1 or not stats:
        return stats
    names = sorted(stats)
    values = torch.tensor([stats[name] for name in names], dtype=torch.float64)
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return dict(zip(names, values.tolist(), strict=True))
