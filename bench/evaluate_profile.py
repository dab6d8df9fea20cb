"""Where the evaluate stage's time goes: generation per backend, then each evaluation judge.

Usage: .venv/bin/python bench/evaluate_profile.py [--items 96] [--model embedded:...]
       [--backends hf,llamacpp] [key=value ...]

Takes the first ``--items`` of the demo's held-out prompts, spread over every set
(``configs/default.yaml``: greedy, 48 new tokens), and times in one process, one after
the other: generation with each backend (the model loaded before the clock starts, so
the figure is the steady rate a stage sees) and then each default evaluation judge on the
hf answers (each judge built before its clock starts). Prints seconds, answers per
minute and new tokens per second (counted with the policy's tokenizer) per part, and
each part's share of the stage.
"""

from __future__ import annotations

import argparse
import time

from selfmoa.backends import make_generator
from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.hf import load_tokenizer
from selfmoa.core.config import load_config
from selfmoa.core.modelpath import resolve_model
from selfmoa.judges.base import JudgeInput
from selfmoa.judges.registry import JudgeContext, build_judges
from selfmoa.pipeline.stages.evaluate import heldout_prompts


def spread(prompts: list, count: int) -> list:
    """``count`` prompts taken evenly over the list (every set is represented)."""
    step = max(1, len(prompts) // count)
    return prompts[::step][:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=96)
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--backends", default="hf,llamacpp")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    config = load_config("configs/default.yaml", [f"models.policy={args.model}", *args.overrides])
    prompts = spread(heldout_prompts(config.evaluate, config.seed, 5), args.items)
    params = SamplingParams(max_new_tokens=config.evaluate.max_new_tokens, greedy=True)
    tokenizer = load_tokenizer(resolve_model(args.model, "models.policy"))
    requests = [GenerationRequest(p.text) for p in prompts]
    rows: list[tuple[str, float, int]] = []
    answers: list[str] = []
    for kind in args.backends.split(","):
        kind_config = load_config(
            "configs/default.yaml",
            [f"models.policy={args.model}", f"backend.kind={kind}", *args.overrides],
        )
        generator = make_generator(kind_config, "policy")
        generator.generate(requests[:2], params, seed=0)  # load and warm up
        started = time.perf_counter()
        produced = generator.generate(requests, params, seed=0)
        seconds = time.perf_counter() - started
        generator.close()
        tokens = sum(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in produced)
        rows.append((f"generate ({kind})", seconds, tokens))
        answers = answers or produced
    inputs = [JudgeInput(p.text, p.label, a.strip()) for p, a in zip(prompts, answers, strict=True)]
    context = JudgeContext(config)
    for judge in build_judges(config.judge.evaluation_judges, context):
        judge.judge(inputs[:2])  # load and warm up
        started = time.perf_counter()
        judge.judge(inputs)
        rows.append((f"judge {judge.name}", time.perf_counter() - started, 0))
    stage = rows[0][1] + sum(s for name, s, _ in rows if name.startswith("judge"))
    print(f"{len(prompts)} held-out prompts, {args.model}, greedy {params.max_new_tokens} tokens")
    print("| part | seconds | answers/min | new tokens/s | share of an hf evaluate stage |")
    print("|---|---|---|---|---|")
    for name, seconds, tokens in rows:
        rate = f"{tokens / seconds:.0f}" if tokens else "-"
        other_backend = name.startswith("generate") and name != rows[0][0]
        share = "-" if other_backend else f"{seconds / stage:.0%}"
        print(f"| {name} | {seconds:.1f} | {60 * len(prompts) / seconds:.0f} | {rate} | {share} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
