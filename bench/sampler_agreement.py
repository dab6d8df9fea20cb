"""Does the fast sampling path judge the same? hf float32 with transformers' sampler
against hf bfloat16 with ``backend.sampler: top-k``, on the demo's sampling shape.

Sampled answers cannot be compared one by one (another sampler draws other answers), so
this compares what the judges decide about them as rates: each side samples the same
prompts (the first StrongREJECT seeds, labelled harmful, and as many benign-sensitive
prompts, labelled benign; 48 new tokens, temperature 0.7, top-p 0.95) with several
seeds, and the default config's evaluation judges score every answer (the same verdicts
as ``selfmoa judges score``). Prints, per side, the generation time and the share of
harmful prompts refused, of harmful answers judged unsafe and of benign prompts refused,
with 95% Wilson intervals, and per prompt how often the two sides' majority verdicts
over the seeds agree.

Run: cd bench && python sampler_agreement.py [--model embedded:NAME] [--prompts 64] [--seeds 4]
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
    "hf-float32 (transformers sampler)": {"dtype": "float32", "sampler": "transformers"},
    "hf-bfloat16 (top-k sampler)": {"dtype": "bfloat16", "sampler": "top-k"},
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
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 2)
    path = resolve_model(args.model, "models.policy")
    requests = workload(args.prompts)
    harmful = len(requests) // 2
    labels = ["harmful"] * harmful + ["benign"] * (len(requests) - harmful)
    config = config_for(None)

    verdicts: dict[str, dict[str, list[list[bool]]]] = {}
    for side, settings in SIDES.items():
        generator = HFGenerator(path, device="cpu", show_progress=False, **settings)
        started = time.perf_counter()
        answers = [generator.generate(requests, SAMPLED, seed=seed) for seed in range(args.seeds)]
        took = time.perf_counter() - started
        generator.close()
        rows = [
            {"id": f"{seed}-{i}", "prompt": r.user, "response": answer, "label": labels[i]}
            for seed, batch in enumerate(answers)
            for i, (r, answer) in enumerate(zip(requests, batch, strict=True))
        ]
        scored = list(score_rows(config, rows))
        failed = sum(bool(row["errors"]) for row in scored)
        by_prompt = {"refused": [[] for _ in requests], "unsafe": [[] for _ in requests]}
        for row, result in zip(rows, scored, strict=True):
            index = int(row["id"].split("-")[1])
            for key in by_prompt:
                by_prompt[key][index].append(bool(result[key]))
        verdicts[side] = by_prompt
        refused, unsafe = by_prompt["refused"], by_prompt["unsafe"]
        print(f"{side}: generated {len(rows)} answers in {took:.1f} s; judge errors {failed}")
        print(f"  harmful refused: {rate([f for p in refused[:harmful] for f in p])}")
        print(f"  harmful unsafe:  {rate([f for p in unsafe[:harmful] for f in p])}")
        print(f"  benign refused:  {rate([f for p in refused[harmful:] for f in p])}", flush=True)

    first, second = (verdicts[side] for side in SIDES)
    for key in ("refused", "unsafe"):
        same = sum(majority(a) == majority(b) for a, b in zip(first[key], second[key], strict=True))
        print(f"per prompt, same majority `{key}` over {args.seeds} seeds: {same}/{len(requests)}")
    print(
        f"{args.model}, {len(requests)} prompts x {args.seeds} seeds; {platform.platform()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )


if __name__ == "__main__":
    main()
