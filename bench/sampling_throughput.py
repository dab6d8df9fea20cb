"""Benchmark: answers per minute on the demo's sampling workload, every generation path
side by side in one run.

Workload: 64 fixed prompts (the first 32 StrongREJECT seeds and the first 32 of the
team's benign-sensitive prompts), 48 new tokens each, sampled (temperature 0.7,
top-p 0.95), in chunks of 32 as the demo's sample stage does. Paths:

- ``hf-float32`` / ``hf-bfloat16``: selfmoa's ``hf`` backend on the dequantised
  embedded SmolLM2-135M (the demo's path today);
- ``generate-float32``: plain transformers ``generate`` (chat template, left
  padding, batch 32), the peer;
- ``llamacpp-cN``: a llama.cpp server (``xllamacpp``, N slots) serving the
  embedded Q4_1 GGUF, through selfmoa's ``openai`` backend at concurrency N.

Each repeat runs every path once, in the same order, so the machine's background
load (it is shared) falls on all of them; the result is the median per path and
its ratio to ``hf-float32``. Models are loaded once, before timing.

Run: python bench/sampling_throughput.py [--repeats 3] [--prompts 64] [--concurrency 2 4]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import torch

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.hf import HFGenerator, load_tokenizer
from selfmoa.backends.llamacpp_server import LlamaCppServer, embedded_gguf
from selfmoa.backends.openai_compat import OpenAIGenerator
from selfmoa.backends.served import ServedTarget
from selfmoa.core.modelpath import resolve_model
from selfmoa.data.benign import benign_sensitive_prompts
from selfmoa.data.sources import strongreject_seeds

PARAMS = SamplingParams(max_new_tokens=48, temperature=0.7, top_p=0.95)
CHUNK = 32


def workload(count: int) -> list[GenerationRequest]:
    half = count // 2
    texts = [s.text for s in strongreject_seeds()[:half]]
    texts += [s.text for s in benign_sensitive_prompts()[: count - half]]
    return [GenerationRequest(text) for text in texts]


class PlainGenerate:
    """The peer: transformers alone, no selfmoa code."""

    def __init__(self, path: str) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()

    @torch.inference_mode()
    def generate(self, requests: list[GenerationRequest], params: SamplingParams, seed: int):
        torch.manual_seed(seed)
        texts = [
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": r.user}], tokenize=False, add_generation_prompt=True
            )
            for r in requests
        ]
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        out = self.model.generate(
            **batch,
            max_new_tokens=params.max_new_tokens,
            do_sample=True,
            temperature=params.temperature,
            top_p=params.top_p,
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        return self.tokenizer.batch_decode(
            out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
        )

    def close(self) -> None:
        del self.model


def timed(generator, requests: list[GenerationRequest], seed: int) -> tuple[float, int]:
    """Seconds for the whole workload in chunks of CHUNK, and the answer characters."""
    start = time.perf_counter()
    chars = 0
    for i in range(0, len(requests), CHUNK):
        answers = generator.generate(requests[i : i + CHUNK], PARAMS, seed + i)
        assert len(answers) == len(requests[i : i + CHUNK])
        chars += sum(len(a) for a in answers)
    return time.perf_counter() - start, chars


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[2, 4])
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 2)
    path = resolve_model("embedded:smollm2-135m-instruct", "models.policy")
    requests = workload(args.prompts)
    tokenizer = load_tokenizer(path)

    paths: dict[str, Callable[[], object]] = {
        "hf-float32": lambda: HFGenerator(path, dtype="float32", device="cpu", show_progress=False),
        "hf-bfloat16": lambda: HFGenerator(
            path, dtype="bfloat16", device="cpu", show_progress=False
        ),
        "generate-float32": lambda: PlainGenerate(path),
    }
    servers = {}
    for n in args.concurrency:
        servers[n] = LlamaCppServer(embedded_gguf(), slots=n, threads=os.cpu_count() or 2)
        paths[f"llamacpp-c{n}"] = lambda n=n: OpenAIGenerator(
            base_url=servers[n].base_url,
            target=ServedTarget("smollm2"),
            tokenizer=tokenizer,
            concurrency=n,
        )
    generators = {name: make() for name, make in paths.items()}
    for generator in generators.values():  # warm-up: first-call allocations
        generator.generate(requests[:2], SamplingParams(max_new_tokens=4), 0)

    seconds: dict[str, list[float]] = {name: [] for name in generators}
    for repeat in range(args.repeats):
        for name, generator in generators.items():
            took, chars = timed(generator, requests, seed=1000 * repeat)
            seconds[name].append(took)
            print(
                f"repeat {repeat} {name}: {took:.1f} s, {chars / len(requests):.0f} chars/answer",
                flush=True,
            )

    base = statistics.median(seconds["hf-float32"])
    print()
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(
        f"workload: {len(requests)} prompts x {PARAMS.max_new_tokens} new tokens, chunks of "
        f"{CHUNK}, {args.repeats} repeats"
    )
    print()
    print("| path | median s | answers/min (median) | runs (s) | vs hf-float32 |")
    print("|---|---|---|---|---|")
    for name, runs in seconds.items():
        median = statistics.median(runs)
        print(
            f"| {name} | {median:.1f} | {60 * len(requests) / median:.0f} | "
            f"{', '.join(f'{s:.1f}' for s in runs)} | {base / median:.2f}x |"
        )
    for generator in generators.values():
        generator.close()
    for server in servers.values():
        server.close()


if __name__ == "__main__":
    main()
