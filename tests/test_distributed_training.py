"""Two CPU processes (gloo) train the same adapter as one process on the same global batch.

What ``torchrun --nproc_per_node 2`` or ``accelerate launch --num_processes 2`` does for
``selfmoa train``: each rank takes its shard of every step, gradients are summed.
"""

import json
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from selfmoa.training.loop import TrainPaths, train_preference_lora
from test_tiny_model import CONFIG, adapter_tensors, pairs

STEP = CONFIG.model_copy(
    update={"pairs_per_step": 4, "micro_batch_pairs": 1, "loss": "weighted_dpo"}
)


def rank_worker(rank: int, model: str, folder: str, rendezvous: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    try:
        train_preference_lora(model, pairs(), STEP, TrainPaths(Path(folder)), device="cpu")
    finally:
        dist.destroy_process_group()


def test_two_processes_match_one_on_the_same_global_batch(tiny_model, tmp_path):
    alone = TrainPaths(tmp_path / "alone")
    alone.root.mkdir()
    train_preference_lora(str(tiny_model), pairs(), STEP, alone, device="cpu")

    shared = TrainPaths(tmp_path / "two")
    shared.root.mkdir()
    mp.spawn(
        rank_worker,
        args=(str(tiny_model), str(shared.root), str(tmp_path / "rendezvous")),
        nprocs=2,
        join=True,
    )
    one, two = adapter_tensors(alone.adapter), adapter_tensors(shared.adapter)
    assert one.keys() == two.keys()
    for key in one:
        assert torch.allclose(one[key], two[key], atol=1e-5), key
    rows_one = [json.loads(x) for x in alone.metrics.read_text().splitlines()]
    rows_two = [json.loads(x) for x in shared.metrics.read_text().splitlines()]
    assert len(rows_one) == len(rows_two) == 2, "rank 1 writes no metric rows"
    for a, b in zip(rows_one, rows_two, strict=True):
        assert abs(a["loss"] - b["loss"]) < 1e-5 and abs(a["nll"] - b["nll"]) < 1e-5
