"""Peak memory and time per process: one process against two, replicated and sharded.

    python bench/parallel_memory.py PAIRS.jsonl [--model embedded:smollm2-135m-instruct]
        [--count 32] [--epochs 1]

Trains the same LoRA adapter on the first ``--count`` preference pairs of a run
(``round_NN/pairs/pairs.jsonl``) several ways, each in fresh processes: one process;
two gloo processes with ``parallel.mode=replicate``; two with ``parallel.mode=fsdp``;
two with ``parallel.mode=deepspeed`` at ZeRO stages 1, 2 and 3.
Each process reports its own peak resident memory (``ru_maxrss``) and training
seconds; the adapters are compared with the one-process adapter (largest absolute
difference). Linux, CPU.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from selfmoa.core.config import ParallelConfig, TrainConfig
from selfmoa.core.modelpath import resolve_model
from selfmoa.core.records import PreferencePair
from selfmoa.core.rundir import read_records
from selfmoa.training.loop import TrainPaths, train_preference_lora


def train_here(
    rank: int, world: int, model: str, pairs: str, config: str, parallel: str, out: str, rdv: str
) -> None:
    import os

    os.environ["LOCAL_RANK"] = str(rank)  # as a launcher sets it (DeepSpeed reads it)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{rdv}", rank=rank, world_size=world)
    torch.set_num_threads(max(1, torch.get_num_threads() // world))
    records = read_records(Path(pairs), PreferencePair)
    start = time.time()
    train_preference_lora(
        model,
        records,
        TrainConfig.model_validate_json(config),
        TrainPaths(Path(out)),
        device="cpu",
        parallel=ParallelConfig.model_validate_json(parallel),
    )
    seconds = time.time() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(out, f"rank{rank}.json").write_text(json.dumps({"peak_mib": peak_mib, "s": seconds}))
    if world > 1:
        dist.destroy_process_group()


def adapter(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter" / "adapter_model.safetensors"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--count", type=int, default=32, help="pairs used (the first ones)")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    model = resolve_model(args.model, "models.policy")
    lines = args.pairs.read_text().splitlines()[: args.count]
    config = TrainConfig(
        epochs=args.epochs,
        pairs_per_step=8,
        loss="weighted_rpo",
        objective_weights={"safety": 1.0, "helpfulness": 0.1},
    ).model_dump_json()
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp, "pairs.jsonl")
        subset.write_text("\n".join(lines) + "\n")
        results = {}
        for name, world, parallel in [
            ("1 process", 1, ParallelConfig()),
            ("2 processes, replicate", 2, ParallelConfig(mode="replicate")),
            ("2 processes, fsdp", 2, ParallelConfig(mode="fsdp")),
            *(
                (
                    f"2 processes, deepspeed ZeRO-{stage}",
                    2,
                    ParallelConfig(mode="deepspeed", zero_stage=stage),
                )
                for stage in (1, 2, 3)
            ),
        ]:
            out = Path(tmp, name.replace(" ", "_").replace(",", "").replace("-", ""))
            out.mkdir()
            rdv = str(Path(tmp, f"rdv-{out.name}"))
            mp.spawn(
                train_here,
                args=(world, model, str(subset), config, parallel.model_dump_json(), str(out), rdv),
                nprocs=world,
                join=True,
            )
            ranks = [json.loads(Path(out, f"rank{r}.json").read_text()) for r in range(world)]
            results[name] = (out, ranks)
        alone = adapter(results["1 process"][0])
        print(f"{len(lines)} pairs, {args.epochs} epoch(s), model {args.model}")
        print(
            "| run | peak RSS per process (MiB) | training s (max over ranks) "
            "| max abs. difference from 1 process |"
        )
        print("|---|---|---|---|")
        for name, (out, ranks) in results.items():
            other = adapter(out)
            diff = max(float((alone[k] - other[k]).abs().max()) for k in alone)
            peaks = " / ".join(f"{r['peak_mib']:.0f}" for r in ranks)
            seconds = max(r["s"] for r in ranks)
            print(f"| {name} | {peaks} | {seconds:.1f} | {diff:.2e} |")


if __name__ == "__main__":
    main()
