"""Profile: where transformers generation spends its time, by kind of operator.

Runs selfmoa's ``hf`` backend on one chunk of the demo's prompts (32 prompts, 48 new
tokens, greedy: the evaluation stages' shape) under ``torch.profiler``, once per dtype,
and sums the operators' own CPU time into five groups: matrix products (``aten::mm``,
``addmm``, ``bmm``: the linear layers and the output layer), attention
(``scaled_dot_product_attention`` and its kernels), sampling over the vocabulary (sort,
cumsum, softmax, multinomial's exponential draw), everything else torch runs
(elementwise ops, norms, cache updates, copies), and Python outside any torch operator
(the profiled wall time minus the operators' time). What the matrix products
leave is what a faster backend could still win before reaching the machine's matmul
peak (``bench/sampling_throughput.py`` measures that peak).

``--sampled`` profiles the sample stage's decoding (temperature 0.7, top-p 0.95) and shows
the sampling operators (top-p's sort over the vocabulary, softmax, multinomial) apart.

Run: python bench/generation_profile.py [--model embedded:NAME] [--dtypes float32 bfloat16]
     [--sampled]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from sampling_throughput import GREEDY, SAMPLED, workload
from torch.profiler import ProfilerActivity, profile

from selfmoa.backends.base import SamplingParams
from selfmoa.backends.hf import HFGenerator
from selfmoa.core.modelpath import resolve_model

MATMUL = ("aten::mm", "aten::addmm", "aten::bmm", "aten::_addmm_activation")
SAMPLING = (  # top-p's sort and cumsum, softmax, and multinomial's exponential draw
    "aten::sort",
    "aten::cumsum",
    "aten::softmax",
    "aten::_softmax",
    "aten::multinomial",
    "aten::exponential_",
)
ATTENTION = ("scaled_dot_product", "flash_attention")


def group_of(name: str) -> str:
    if name in MATMUL:
        return "matrix products"
    if any(part in name for part in ATTENTION):
        return "attention"
    if name in SAMPLING:
        return "sampling over the vocabulary"
    return "other torch operators"


def profile_chunk(
    generator: HFGenerator, prompts: int, params: SamplingParams
) -> tuple[float, dict[str, float], list[tuple[str, float]]]:
    """Wall seconds of one chunk, the seconds per operator group and per operator."""
    requests = workload(prompts)
    generator.generate(requests[:2], params, 0)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        generator.generate(requests, params, 0)
        wall = time.perf_counter() - start
    operators = sorted(
        ((event.key, event.self_cpu_time_total / 1e6) for event in prof.key_averages()),
        key=lambda pair: -pair[1],
    )
    groups: dict[str, float] = {}
    for key, seconds in operators:
        groups[group_of(key)] = groups.get(group_of(key), 0.0) + seconds
    groups["Python outside torch operators"] = max(0.0, wall - sum(groups.values()))
    return wall, groups, operators


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="embedded:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--sampled", action="store_true", help="the sample stage's top-p")
    args = parser.parse_args()
    params = SAMPLED if args.sampled else GREEDY
    torch.set_num_threads(os.cpu_count() or 2)
    path = resolve_model(args.model, "models.policy")
    print(
        f"{args.model}, {args.prompts} prompts x {params.max_new_tokens} new tokens, "
        f"{'sampled' if args.sampled else 'greedy'}"
    )
    print()
    costliest: dict[str, list[tuple[str, float]]] = {}
    print("| dtype | wall s | group | seconds | share |")
    print("|---|---|---|---|---|")
    for dtype in args.dtypes:
        generator = HFGenerator(
            path, dtype=dtype, device="cpu", batch_size=args.prompts, show_progress=False
        )
        wall, groups, operators = profile_chunk(generator, args.prompts, params)
        for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
            print(f"| {dtype} | {wall:.1f} | {group} | {seconds:.1f} | {seconds / wall:.0%} |")
        costliest[dtype] = operators[:8]
        generator.close()
    for dtype, operators in costliest.items():
        print(
            f"\ncostliest operators, {dtype}: " + ", ".join(f"{k} {s:.2f} s" for k, s in operators)
        )


if __name__ == "__main__":
    main()
