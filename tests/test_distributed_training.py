"""Two CPU processes (gloo) train the same adapter as one process on the same global batch.

What ``torchrun --nproc_per_node 2`` or ``accelerate launch --num_processes 2`` does for
``selfmoa train``: each rank takes its shard of every step, gradients are summed.
"""

import gc
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from selfmoa.core.config import ParallelConfig
from selfmoa.core.tensor_state import load_state
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
        gc.collect()  # the sharded layers go before their process group
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


# parallel.mode=fsdp: decoder layers sharded (sharding.py). 3 pairs a step over 2 ranks:
# steps of 3 and 1 pairs, so rank 1 runs a zero-weight padding micro-batch in each.
# Every step's gradient is clipped (its norm is above 0.05 on the tiny model), so the
# modes' clipping across shards and partitions is compared too.
ODD = CONFIG.model_copy(
    update={
        "pairs_per_step": 3,
        "micro_batch_pairs": 1,
        "loss": "weighted_dpo",
        "max_grad_norm": 0.05,
    }
)


class Killed(Exception):
    pass


def fault_at(die_at: str):
    """A ``fault_point`` that kills training at the point named ``die_at``."""

    def dies(label: str) -> None:
        if label == die_at:
            raise Killed(label)

    return dies


def odd_step_worker(
    rank: int, model: str, folder: str, rendezvous: str, die_at: str, parallel: dict, world: int
) -> None:
    import selfmoa.training.loop as loop

    os.environ["LOCAL_RANK"] = str(rank)  # as torchrun sets it (DeepSpeed reads it)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    try:
        loop.fault_point = fault_at(die_at)
        train_preference_lora(
            model,
            pairs(),
            ODD,
            TrainPaths(Path(folder)),
            device="cpu",
            parallel=ParallelConfig(**parallel),
        )
    finally:
        gc.collect()  # the sharded layers go before their process group
        dist.destroy_process_group()
    # Trained and saved: leave without the interpreter's teardown, where gloo's threads
    # aborted a rank once in ~30 runs (CI, 2026-11-29). The CLI path's exit, with its
    # atexit cleanup, is checked by the accelerate test below (exit code 0).
    os._exit(0)


def spawn_odd_steps(
    tiny_model,
    folder: Path,
    rendezvous: Path,
    die_at: str = "",
    mode: str = "fsdp",
    world: int = 2,
    **more,
) -> None:
    parallel = {"mode": mode, **more}
    mp.spawn(
        odd_step_worker,
        args=(str(tiny_model), str(folder), str(rendezvous), die_at, parallel, world),
        nprocs=world,
        join=True,
    )


@pytest.fixture(scope="module")
def alone(tiny_model, tmp_path_factory) -> TrainPaths:
    """The uninterrupted one-process run on the odd steps, the reference of every test."""
    paths = TrainPaths(tmp_path_factory.mktemp("alone"))
    train_preference_lora(str(tiny_model), pairs(), ODD, paths, device="cpu")
    return paths


def assert_same_adapter(a: TrainPaths, b: TrainPaths) -> None:
    one, two = adapter_tensors(a.adapter), adapter_tensors(b.adapter)
    assert one.keys() == two.keys() and one
    for key in one:
        assert torch.allclose(one[key], two[key], atol=1e-5), key


# fsdp, and DeepSpeed's engine at every ZeRO stage (zero.py), on the same odd steps
@pytest.mark.parametrize(
    "parallel",
    [{"mode": "fsdp"}, *({"mode": "deepspeed", "zero_stage": stage} for stage in (1, 2, 3))],
    ids=["fsdp", "zero1", "zero2", "zero3"],
)
def test_sharded_two_processes_match_one_process(tiny_model, tmp_path, alone, parallel):
    two = TrainPaths(tmp_path / "two")
    two.root.mkdir()
    spawn_odd_steps(tiny_model, two.root, tmp_path / "rendezvous", **parallel)
    assert_same_adapter(alone, two)
    rows_one = [json.loads(x) for x in alone.metrics.read_text().splitlines()]
    rows_two = [json.loads(x) for x in two.metrics.read_text().splitlines()]
    assert len(rows_one) == len(rows_two) == 4
    for a, b in zip(rows_one, rows_two, strict=True):
        assert abs(a["loss"] - b["loss"]) < 1e-5 and abs(a["nll"] - b["nll"]) < 1e-5
    # the checkpoint holds whole tensors: the sharded layout is not on disk
    state = load_state(two.checkpoint)
    assert state["written_by"] == {"processes": 2, **parallel}
    assert all(type(value) is torch.Tensor for value in state["trainable"].values())
    assert len(state["optimizer"]["state"]) == len(state["trainable"])


def test_fsdp_run_killed_after_a_checkpoint_resumes_on_two_processes_or_one(
    tiny_model, tmp_path, alone
):
    resumed = TrainPaths(tmp_path / "resumed")
    resumed.root.mkdir()
    with pytest.raises(mp.ProcessRaisedException, match="Killed"):
        spawn_odd_steps(tiny_model, resumed.root, tmp_path / "r1", die_at="train:checkpoint2")
    assert load_state(resumed.checkpoint)["step"] == 2
    assert not resumed.adapter.exists()
    moved = TrainPaths(tmp_path / "moved")  # the same checkpoint, resumed in one process
    shutil.copytree(resumed.root, moved.root)
    spawn_odd_steps(tiny_model, resumed.root, tmp_path / "r2")
    assert_same_adapter(alone, resumed)
    steps = [json.loads(line)["step"] for line in resumed.metrics.read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    train_preference_lora(str(tiny_model), pairs(), ODD, moved, device="cpu")
    assert_same_adapter(alone, moved)


def test_replicated_ranks_with_an_empty_share_of_a_step_match_one_process(
    tiny_model, tmp_path, alone
):
    # the 1-pair step leaves rank 1 nothing to train: it still sums its zero statistics
    replicated = TrainPaths(tmp_path / "replicated")
    replicated.root.mkdir()
    spawn_odd_steps(tiny_model, replicated.root, tmp_path / "rendezvous", mode="replicate")
    assert_same_adapter(alone, replicated)
    written_by = load_state(replicated.checkpoint)["written_by"]
    assert written_by == {"mode": "replicate", "processes": 2}


@pytest.mark.parametrize(
    ("overrides", "written_by"),
    [
        (["parallel.mode=fsdp"], {"mode": "fsdp", "processes": 2}),
        (
            ["parallel.mode=deepspeed", "parallel.zero_stage=3"],
            {"mode": "deepspeed", "processes": 2, "zero_stage": 3},
        ),
    ],
)
def test_the_documented_accelerate_config_starts_two_sharded_processes(
    tiny_model, tmp_path, overrides, written_by
):
    # `accelerate launch --config_file configs/accelerate/cpu-2-processes.yaml` as the README
    # gives it; `--num_processes 2` alone would start one process and train unsharded.
    import socket
    import subprocess
    import sys

    from test_export import write_train_inputs

    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable))
    assert accelerate is not None, "accelerate is a dev dependency"
    config, pairs_file = write_train_inputs(tiny_model, tmp_path)
    out = tmp_path / "trained"
    launcher = Path(__file__).parents[1] / "configs" / "accelerate" / "cpu-2-processes.yaml"
    with socket.socket() as probe:  # a free port: the default 29500 may still be held
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    done = subprocess.run(
        [accelerate, "launch", "--config_file", str(launcher), "--main_process_port", port]
        + ["-m", "selfmoa.cli.main", "train"]
        + [str(config), *overrides, "--pairs", str(pairs_file), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert load_state(out / "checkpoint.safetensors")["written_by"] == written_by
    assert (out / "adapter" / "adapter_model.safetensors").is_file()


def test_deepspeed_run_killed_after_a_checkpoint_resumes_in_another_stage_or_one_process(
    tiny_model, tmp_path, alone
):
    # ZeRO-1 writes the checkpoint; ZeRO-2 and one plain process each resume from it to
    # the uninterrupted adapter
    resumed = TrainPaths(tmp_path / "resumed")
    resumed.root.mkdir()
    with pytest.raises(mp.ProcessRaisedException, match="Killed"):
        spawn_odd_steps(
            tiny_model,
            resumed.root,
            tmp_path / "r1",
            "train:checkpoint2",
            "deepspeed",
            zero_stage=1,
        )
    assert load_state(resumed.checkpoint)["step"] == 2
    moved = TrainPaths(tmp_path / "moved")
    shutil.copytree(resumed.root, moved.root)
    spawn_odd_steps(tiny_model, resumed.root, tmp_path / "r2", mode="deepspeed", zero_stage=2)
    assert_same_adapter(alone, resumed)
    steps = [json.loads(line)["step"] for line in resumed.metrics.read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    train_preference_lora(str(tiny_model), pairs(), ODD, moved, device="cpu")
    assert_same_adapter(alone, moved)


def test_one_process_checkpoint_resumes_at_zero_3_on_three_processes(
    tiny_model, tmp_path, alone, monkeypatch
):
    # three processes: ZeRO-3 cuts every tensor into padded thirds (the tiny model's LoRA
    # tensors do not divide by 3), and the AdamW moments come from a plain checkpoint
    import selfmoa.training.loop as loop

    resumed = TrainPaths(tmp_path / "resumed")
    resumed.root.mkdir()
    monkeypatch.setattr(loop, "fault_point", fault_at("train:checkpoint2"))
    with pytest.raises(Killed):
        train_preference_lora(str(tiny_model), pairs(), ODD, resumed, device="cpu")
    monkeypatch.undo()
    assert load_state(resumed.checkpoint)["step"] == 2
    trainable = load_state(resumed.checkpoint)["trainable"]
    lora_sizes = [value.numel() for value in trainable.values()]
    assert any(size % 3 for size in lora_sizes)
    spawn_odd_steps(
        tiny_model, resumed.root, tmp_path / "r", mode="deepspeed", world=3, zero_stage=3
    )
    assert_same_adapter(alone, resumed)


def test_deepspeed_mode_without_deepspeed_says_how_to_install_it(monkeypatch):
    import sys

    from selfmoa.core.errors import SelfMoaError
    from selfmoa.training.zero import import_deepspeed

    monkeypatch.setitem(sys.modules, "deepspeed", None)  # import deepspeed -> ImportError
    with pytest.raises(SelfMoaError, match=r"pip install 'selfmoa\[deepspeed\]'"):
        import_deepspeed(torch.device("cpu"))
