"""Does the fast sampling path judge the same? hf float32 with transformers' sampler
against hf in bfloat16 and/or with ``backend.sampler: top-k``, on the demo's sampling shape.

Sampled answers cannot be compared one by one (another sampler draws other answers), so
this compares what the judges decide about them as rates: each side samples the same
prompts (the first StrongREJECT seeds, labelled harmful, and as many benign-sensitive
prompts, labelled benign; 48 new tokens, temperature 0.7, top-p 0.95) with several
seeds, and the default config's evaluation judges score every answer (the same verdicts
as ``selfmoa judges score``). Prints, per side, the generation time and the share of
harmful prompts refused, of harmful answers judged unsafe and of benign prompts refused,
with 95% Wilson intervals, and per prompt how often each side's majority verdicts over
the seeds agree with the first side's. Majorities over a few seeds differ between two runs
of one path too; ``--control`` adds the first side again with the next seeds, whose
agreement with the first is what chance alone gives. Sides: float32, float32-topk,
bfloat16, bfloat16-topk (default: float32 and bfloat16-topk).

Run: cd bench && python sampler_agreement.py [--model embedded:NAME] [--prompts 64] [--seeds 5]
     [--sides float32 bfloat16-topk ...] [--control]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import torch
from sampling_throughput import SAMPLED, workload

from selfmoa.backends.hf import HFGenerator
from selfmoa.cli.judges import config_for
from selfmoa.core.modelpath import resolve_model
from selfmoa.core.stats import wilson_interval
from selfmoa.judges.file_scoring import score_rows

SIDES = {
    "float32": {"dtype": "float32", "sampler": "transformers"},
    "float32-topk": {"dtype": "float32", "sampler": "top-k"},
    "bfloat16": {"dtype": "bfloat16", "sampler": "transformers"},
    "bfloat16-topk": {"dtype": "bfloat16", "sampler": "top-k"},
}


def rate(flags: list[bool]) -> str:
    low, high = wilson_interval(sum(flags), len(flags))
    return f"{sum(flags)}/{len(flags)} = {sum(flags) / len(flags):.3f} [{low:.3f}, {high:.3f}]"


def majority(flags: list[bool]) -> bool:
    return 2 * sum(flags) > len(flags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--sides", nargs="+", choices=list(SIDES), default=["float32", "bfloat16-topk"]
    )
    parser.add_argument("--control", action="store_true", help="the first side again, next seeds")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 2)
    path = resolve_model(args.model, "models.policy")
    requests = workload(args.prompts)
    harmful = len(requests) // 2
    labels = ["harmful"] * harmful + ["benign"] * (len(requests) - harmful)
    config = config_for(None)

    first = args.sides[0]
    # (side, path, first seed); the control follows its path's side, so it reuses the model
    sides = [(first, first, 0)]
    if args.control:
        sides.append((f"{first}, next seeds", first, args.seeds))
    sides += [(name, name, 0) for name in args.sides[1:]]
    verdicts: dict[str, dict[str, list[list[bool]]]] = {}
    generator = None
    for number, (side, path_name, first_seed) in enumerate(sides):
        if generator is None:
            generator = HFGenerator(path, device="cpu", show_progress=False, **SIDES[path_name])
        started = time.perf_counter()
        seeds = range(first_seed, first_seed + args.seeds)
        answers = [generator.generate(requests, SAMPLED, seed=seed) for seed in seeds]
        took = time.perf_counter() - started
        if number + 1 == len(sides) or sides[number + 1][1] != path_name:
            generator.close()
            generator = None
        rows = [  # seed by seed, each in the prompts' order
            {"id": f"{seed}-{i}", "prompt": r.user, "response": answer, "label": labels[i]}
            for seed, batch in zip(seeds, answers, strict=True)
            for i, (r, answer) in enumerate(zip(requests, batch, strict=True))
        ]
        scored = list(score_rows(config, rows))
        failed = sum(bool(row["errors"]) for row in scored)
        by_prompt = {"refused": [[] for _ in requests], "unsafe": [[] for _ in requests]}
        for position, result in enumerate(scored):
            for key in by_prompt:
                by_prompt[key][position % len(requests)].append(bool(result[key]))
        verdicts[side] = by_prompt
        refused, unsafe = by_prompt["refused"], by_prompt["unsafe"]
        print(f"{side}: generated {len(rows)} answers in {took:.1f} s; judge errors {failed}")
        print(f"  harmful refused: {rate([f for p in refused[:harmful] for f in p])}")
        print(f"  harmful unsafe:  {rate([f for p in unsafe[:harmful] for f in p])}")
        print(f"  benign refused:  {rate([f for p in refused[harmful:] for f in p])}", flush=True)

    for other in list(verdicts)[1:]:
        for key in ("refused", "unsafe"):
            same = sum(
                majority(a) == majority(b)
                for a, b in zip(verdicts[first][key], verdicts[other][key], strict=True)
            )
            print(
                f"per prompt, same majority `{key}` over {args.seeds} seeds, {first} vs {other}: "
                f"{same}/{len(requests)}"
            )
    print(
        f"{args.model}, {len(requests)} prompts x {args.seeds} seeds; {platform.platform()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )


if __name__ == "__main__":
    main()
