"""Where selfmoa's training time goes: torch.profiler over ``bench/train_step.py``'s run.

Trains the race's workload (32 pairs, 4 steps of 8, the embedded SmolLM2-135M, LoRA r=16
on all seven projections, reference log-probs once) under ``torch.profiler`` and prints
the operators by their own CPU time, then the matrix products grouped by their inner and
output sizes with the rate each reaches (GFLOP/s, the profiler's FLOP count over the
operator's time), to set against the machine's matmul peak that
``bench/sampling_throughput.py`` measures. The profiler slows every operator a little;
read shares and rates, not wall time.

Run: cd bench && python train_profile.py [--pairs 32] [--dtype float32|bfloat16]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import torch
from train_step import config, make_pairs

from selfmoa.core.modelpath import resolve_model
from selfmoa.training.loop import TrainPaths, train_preference_lora

LORA_RANK = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()
    model = resolve_model("embedded:smollm2-135m-instruct", "model")
    pairs = make_pairs(model, args.pairs)
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities, with_flops=True, record_shapes=True) as run:
        with tempfile.TemporaryDirectory() as folder:
            train_preference_lora(
                model, pairs, config(), TrainPaths(Path(folder)), dtype=args.dtype, device="cpu"
            )
    print(run.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))

    products = [e for e in run.key_averages(group_by_input_shape=True) if e.key == "aten::mm"]
    seconds = sum(e.self_cpu_time_total for e in products) / 1e6
    flop = sum(e.flops for e in products)
    rate = flop / 1e9 / seconds
    print(f"matrix products: {seconds:.1f} s, {flop / 1e12:.2f} TFLOP, {rate:.0f} GFLOP/s")
    by_size: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for event in products:
        left, right = event.input_shapes[:2]
        by_size[(left[1], right[1])][0] += event.self_cpu_time_total / 1e6
        by_size[(left[1], right[1])][1] += event.flops
    lora = sum(t for (inner, out), (t, _) in by_size.items() if LORA_RANK in (inner, out))
    print(f"of which products with a LoRA rank-{LORA_RANK} side: {lora:.1f} s")
    print("| inner x output size | seconds | GFLOP/s |")
    print("|---|---|---|")
    for (inner, out), (took, count) in sorted(by_size.items(), key=lambda kv: -kv[1][0])[:12]:
        print(f"| {inner} x {out} | {took:.2f} | {count / 1e9 / took:.0f} |")


if __name__ == "__main__":
    main()
