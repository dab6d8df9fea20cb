"""Benchmark: answers per minute on the demo's sampling workload, every generation path
side by side in one run.

Workload: 64 fixed prompts (the first 32 StrongREJECT seeds and the first 32 of the
team's benign-sensitive prompts), 48 new tokens each, sampled (temperature 0.7,
top-p 0.95), in chunks of 32 as the demo's sample stage does. Paths:

- ``hf-float32`` / ``hf-bfloat16``: selfmoa's ``hf`` backend on the dequantised
  embedded SmolLM2-135M (the demo's path today);
- ``hf-float32-topk`` / ``hf-bfloat16-topk``: the same with ``backend.sampler: top-k``
  (the sampling distribution drawn among the top 50 tokens, not over the whole
  vocabulary);
- ``generate-float32``: plain transformers ``generate`` (chat template, left
  padding, batch 32), the peer;
- ``llamacpp-cN``: a llama.cpp server (``xllamacpp``, N slots) serving the
  embedded Q4_1 GGUF, through selfmoa's ``openai`` backend at concurrency N.

Each repeat runs every path once, in the same order, so the machine's background
load (it is shared) falls on all of them; the result is the median per path and
its ratio to ``hf-float32``. Models are loaded once, before timing.

Against the machine's limit: the script also times a large float32 and bfloat16 matrix
product in torch (the practical peak of these cores), counts each path's tokens (prompt
tokens read plus new tokens written, by the model's tokenizer) and the model's
multiply-accumulates per token (its linear layers and output layer; attention over these
short contexts adds a few percent and is left out), and prints the share of the peak
each path reaches. ``--model`` picks any embedded model (the Qwen2.5-Coder policies are
served by llama.cpp from their Q4_K_M GGUF); ``--greedy`` uses the evaluation stages'
greedy decoding instead of the sample stage's sampling.

Run: python bench/sampling_throughput.py [--model embedded:NAME] [--repeats 3] [--prompts 64]
     [--concurrency 2 4] [--greedy] [--paths hf-float32 hf-bfloat16 ...]
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
from selfmoa.backends.hf import HFGenerator, chat_prompt, load_tokenizer
from selfmoa.backends.llamacpp_local import model_gguf
from selfmoa.backends.llamacpp_server import LlamaCppServer
from selfmoa.backends.openai_compat import OpenAIGenerator
from selfmoa.backends.served import ServedTarget
from selfmoa.core.modelpath import resolve_model
from selfmoa.data.benign import benign_sensitive_prompts
from selfmoa.data.sources import strongreject_seeds

SAMPLED = SamplingParams(max_new_tokens=48, temperature=0.7, top_p=0.95)
GREEDY = SamplingParams(max_new_tokens=48, greedy=True)
CHUNK = 32


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    """Practical peak of these cores in GFLOP/s: a square matrix product in torch."""
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def flop_per_token(path: str) -> float:
    """Two FLOP per weight of every linear layer and of the output layer, for one token."""
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(path))
    weights = sum(
        module.weight.numel() for module in model.modules() if isinstance(module, torch.nn.Linear)
    )
    return 2.0 * weights


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
        sampling = (
            {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p}
            if not params.greedy
            else {"do_sample": False}
        )
        out = self.model.generate(
            **batch,
            max_new_tokens=params.max_new_tokens,
            **sampling,
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        return self.tokenizer.batch_decode(
            out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
        )

    def close(self) -> None:
        del self.model


def timed(
    generator, requests: list[GenerationRequest], params: SamplingParams, seed: int
) -> tuple[float, list[str]]:
    """Seconds for the whole workload in chunks of CHUNK, and the answers."""
    start = time.perf_counter()
    answers: list[str] = []
    for i in range(0, len(requests), CHUNK):
        chunk = generator.generate(requests[i : i + CHUNK], params, seed + i)
        assert len(chunk) == len(requests[i : i + CHUNK])
        answers += chunk
    return time.perf_counter() - start, answers


def prompt_tokens(tokenizer, requests: list[GenerationRequest]) -> int:
    """Tokens of the chat-formatted prompts, as every path reads them."""
    texts = [chat_prompt(tokenizer, request) for request in requests]
    return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--greedy", action="store_true")
    parser.add_argument("--paths", nargs="+", default=None, help="only these paths")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 2)
    params = GREEDY if args.greedy else SAMPLED
    path = resolve_model(args.model, "models.policy")
    requests = workload(args.prompts)
    tokenizer = load_tokenizer(path)
    read = prompt_tokens(tokenizer, requests)
    per_token = flop_per_token(path)
    peaks = {"float32": matmul_peak(torch.float32), "bfloat16": matmul_peak(torch.bfloat16)}

    paths: dict[str, Callable[[], object]] = {}
    for suffix, sampler in (("", "transformers"), ("-topk", "top-k")):  # selfmoa's hf backend
        for dtype in ("float32", "bfloat16"):
            paths[f"hf-{dtype}{suffix}"] = lambda dtype=dtype, sampler=sampler: HFGenerator(
                path, dtype=dtype, device="cpu", show_progress=False, sampler=sampler
            )
    paths["generate-float32"] = lambda: PlainGenerate(path)
    servers = {}
    for n in args.concurrency:
        paths[f"llamacpp-c{n}"] = lambda n=n: OpenAIGenerator(
            base_url=servers[n].base_url,
            target=ServedTarget(args.model),
            tokenizer=tokenizer,
            concurrency=n,
        )
    if args.paths:
        paths = {name: make for name, make in paths.items() if name in args.paths}
    for n in args.concurrency:
        if f"llamacpp-c{n}" in paths:
            servers[n] = LlamaCppServer(
                model_gguf(args.model), slots=n, threads=os.cpu_count() or 2
            )
    generators = {name: make() for name, make in paths.items()}
    for generator in generators.values():  # warm-up: first-call allocations
        generator.generate(requests[:2], SamplingParams(max_new_tokens=4), 0)

    seconds: dict[str, list[float]] = {name: [] for name in generators}
    written: dict[str, list[int]] = {name: [] for name in generators}
    for repeat in range(args.repeats):
        for name, generator in generators.items():
            took, answers = timed(generator, requests, params, seed=1000 * repeat)
            new = sum(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)
            seconds[name].append(took)
            written[name].append(new)
            print(f"repeat {repeat} {name}: {took:.1f} s, {new} new tokens", flush=True)

    base = statistics.median(seconds.get("hf-float32", [float("nan")]))
    print()
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(
        f"workload: {args.model}, {len(requests)} prompts ({read} prompt tokens) x "
        f"{params.max_new_tokens} new tokens, {'greedy' if params.greedy else 'sampled'}, "
        f"chunks of {CHUNK}, {args.repeats} repeats"
    )
    print(
        f"limit: {per_token / 1e9:.2f} GFLOP per token; torch matmul peak "
        f"{peaks['float32']:.0f} GFLOP/s float32, {peaks['bfloat16']:.0f} GFLOP/s bfloat16 "
        f"= {peaks['float32'] * 1e9 / per_token:.0f} / {peaks['bfloat16'] * 1e9 / per_token:.0f} "
        "tokens/s"
    )
    print()
    print(
        "| path | median s | answers/min | tokens/s (read + written) | new tokens/s "
        "| GFLOP/s | share of float32 / bfloat16 peak | runs (s) | vs hf-float32 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, runs in seconds.items():
        median = statistics.median(runs)
        new = statistics.median(written[name])
        tokens = (read + new) / median
        print(
            f"| {name} | {median:.1f} | {60 * len(requests) / median:.0f} | {tokens:.0f} | "
            f"{new / median:.0f} | {tokens * per_token / 1e9:.0f} | "
            f"{tokens * per_token / 1e9 / peaks['float32']:.0%} / "
            f"{tokens * per_token / 1e9 / peaks['bfloat16']:.0%} | "
            f"{', '.join(f'{s:.1f}' for s in runs)} | {base / median:.2f}x |"
        )
    for generator in generators.values():
        generator.close()
    for server in servers.values():
        server.close()


if __name__ == "__main__":
    main()
