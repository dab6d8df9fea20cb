"""Benchmark: selfmoa's bfloat16 training with and without its two CPU bfloat16 changes.

The race's workload (``train_step.py``: 32 pairs, 4 steps of 8, SmolLM2-135M, LoRA r=16
on all seven projections, reference log-probs once) trained by ``train_preference_lora``
with ``models.dtype: bfloat16``, three ways, each run a fresh subprocess, the ways
alternating within each repeat:

- ``peft-sdpa``: PEFT's own LoRA forward (float32 update, casts) and sdpa attention, as
  before ``training/mixed_precision_lora.py`` and ``training/attention_choice.py``;
- ``fused-sdpa``: the fused mixed-precision LoRA forward, sdpa attention;
- ``fused-eager``: both changes (selfmoa's default for bfloat16 on a CPU).

Times the training call alone (model load included) and prints each way's losses, so a
change of numerics shows next to its speed.

Run: python bench/bfloat16_training_paths.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WAYS = ("peft-sdpa", "fused-sdpa", "fused-eager")


def child(way: str) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from train_step import config, make_pairs

    import selfmoa.training.loop as loop
    from selfmoa.core.modelpath import resolve_model

    if way == "peft-sdpa":
        loop.fuse_mixed_precision_lora = lambda model: 0
    if way != "fused-eager":
        loop.prefer_eager_attention_for_cpu_bfloat16 = lambda model, longest_row: False
    model = resolve_model("embedded:smollm2-135m-instruct", "model")
    pairs = make_pairs(model, 32)
    with tempfile.TemporaryDirectory() as folder:
        paths = loop.TrainPaths(Path(folder))
        started = time.perf_counter()
        loop.train_preference_lora(model, pairs, config(), paths, dtype="bfloat16", device="cpu")
        seconds = time.perf_counter() - started
        losses = [json.loads(line)["loss"] for line in paths.metrics.read_text().splitlines()]
    print(json.dumps({"seconds": seconds, "losses": losses}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        child(args.way)
        return
    runs: dict[str, list[dict]] = {way: [] for way in WAYS}
    for repeat in range(args.repeats):
        for way in WAYS if repeat % 2 == 0 else tuple(reversed(WAYS)):
            output = subprocess.run(
                [sys.executable, __file__, "--way", way],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs[way].append(json.loads(output.strip().splitlines()[-1]))
            print(f"repeat {repeat} {way}: {runs[way][-1]['seconds']:.1f} s", flush=True)
    print("| way | training s (runs) | median | vs peft-sdpa | losses of the 4 steps |")
    print("|---|---|---|---|---|")
    base = statistics.median(run["seconds"] for run in runs["peft-sdpa"])
    for way in WAYS:
        times = [run["seconds"] for run in runs[way]]
        median = statistics.median(times)
        listed = ", ".join(f"{t:.1f}" for t in times)
        losses = ", ".join(f"{loss:.3f}" for loss in runs[way][0]["losses"])
        print(f"| {way} | {listed} | {median:.1f} | {base / median:.2f}x | {losses} |")


if __name__ == "__main__":
    main()
