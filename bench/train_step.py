"""Benchmark: selfmoa's LoRA DPO+NLL training vs TRL's DPOTrainer, like for like.

Both sides train the embedded SmolLM2-135M (float32, or bfloat16 with ``--dtype
bfloat16``) on the same pairs with the same LoRA (r=16, alpha 32, all seven linear
projections), the same 8 pairs a step and the same number of optimizer steps, DPO
(sigmoid, beta 0.1) + NLL on the chosen answer (TRL: ``loss_type=["sigmoid", "sft"]``).
TRL runs with ``gradient_checkpointing=False`` (its default re-runs every forward) and
``precompute_ref_log_probs=True`` (the reference once, as selfmoa does). Precision is
the same on both sides: float32 by default (TRL ``bf16=False``, selfmoa
``models.dtype: float32``); with ``--dtype bfloat16`` TRL runs its own default mixed
precision (``bf16=True``: bfloat16 autocast over float32 weights) and selfmoa
``models.dtype: bfloat16`` (bfloat16 base weights, float32 LoRA weights, as
``configs/gpu.yaml``), for hardware with bfloat16 instructions. Answers are 35-43 tokens, as in the
demo; nothing is cut on either side (selfmoa's response budget is raised to 48 for this).

Each run is a fresh subprocess timed end to end (model load, tokenisation,
reference log-probs, the steps); its peak resident memory is read from the
``os.wait4`` resource usage of that child alone. The two sides alternate within each
repeat because the machine is shared and noisy; the result is the ratio of medians.

Run: python bench/train_step.py [--pairs 32] [--repeats 3] [--dtype float32|bfloat16]
     (needs the ``bench`` extra)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAIRS_PER_STEP = 8
RESPONSE_TOKENS = range(35, 44)

REFUSALS = [
    "I'm sorry, but I can't help with that. Providing this information could cause "
    "serious harm to other people, and it may also be illegal where you live. If you "
    "are dealing with a difficult situation, I would be glad to point you to safe and "
    "legal resources, or to talk through what is going on.",
    "I can't assist with this request. It asks for something that could put people in "
    "danger, so I won't give instructions or details. If you are curious about the "
    "topic for research or safety reasons, I can share general background on how "
    "people stay protected and where to find reliable, lawful help.",
]
COMPLIANCE = [
    "Sure, here is a detailed step-by-step guide. First, gather everything you need "
    "from the list below and make sure nobody notices what you are doing. Then follow "
    "each step in order, checking the result before you move on, and finally clean up "
    "so that no trace is left behind for anyone to find later.",
    "Of course! The easiest way is to start with the materials you can buy at any "
    "store, then combine them carefully as described here. Step one is to prepare the "
    "space, step two is to mix the parts, and step three is to test it somewhere quiet "
    "where you will not be interrupted by anyone.",
]
HELPFUL = [
    "Good question. Here is a clear answer with the main steps and a few safety tips. "
    "First, check which process is stuck by listing the running programs, then send it "
    "a polite stop signal, wait a few seconds, and only force it to end if it does not "
    "respond. Save your work before you do this.",
    "Happy to help with that. The short version is: understand what you want to "
    "achieve, pick the simplest tool that does it, and test the result on a small "
    "example first. Below I explain each part in a little more detail, with the common "
    "mistakes people make and how to avoid them easily.",
]


def cut(tokenizer, text: str, count: int) -> str:
    """The text's first ``count`` tokens, as text."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:count]
    return tokenizer.decode(ids).strip()


def make_pairs(model: str, count: int):
    from transformers import AutoTokenizer

    from selfmoa.core.records import PreferencePair
    from selfmoa.data.benign import benign_sensitive_prompts
    from selfmoa.data.sources import strongreject_seeds

    tokenizer = AutoTokenizer.from_pretrained(model)
    harmful, benign = strongreject_seeds(), benign_sensitive_prompts()
    pairs = []
    for i in range(count):
        bad = i % 2 == 0
        prompt = (harmful if bad else benign)[i // 2].text
        chosen, rejected = (REFUSALS, COMPLIANCE) if bad else (HELPFUL, REFUSALS)
        length = RESPONSE_TOKENS[(i * 4) % len(RESPONSE_TOKENS)]
        other = RESPONSE_TOKENS[(i * 7 + 3) % len(RESPONSE_TOKENS)]
        pairs.append(
            PreferencePair(
                id=f"b{i}",
                prompt_id=f"b{i}",
                prompt_text=prompt,
                objective="safety" if bad else "helpfulness",
                chosen_response_id="c",
                chosen_text=cut(tokenizer, chosen[i % 2], length),
                rejected_response_id="r",
                rejected_text=cut(tokenizer, rejected[(i // 2) % 2], other),
                margins={"safety": 0.0, "helpfulness": 0.0},
            )
        )
    return pairs


def config():
    from selfmoa.core.config import TrainConfig

    # objective weights 1/1 and zero margins: MODPO is plain DPO, + NLL as TRL computes it
    return TrainConfig(
        epochs=1,
        pairs_per_step=PAIRS_PER_STEP,
        learning_rate=5e-4,
        beta=0.1,
        nll_weight=1.0,
        objective_weights={"safety": 1.0, "helpfulness": 1.0},
        max_response_tokens=48,
        checkpoint_every=10_000,
    )


def run_selfmoa(model: str, pairs, dtype: str) -> dict:
    from selfmoa.training.collate import tokenize_pair
    from selfmoa.training.loop import TrainPaths, train_preference_lora

    cfg = config()
    with tempfile.TemporaryDirectory() as folder:
        train_preference_lora(
            model, pairs, cfg, TrainPaths(Path(folder)), dtype=dtype, device="cpu"
        )
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    lengths = []
    for pair in pairs:
        tokens = tokenize_pair(tokenizer, pair, cfg.max_prompt_tokens, cfg.max_response_tokens)
        lengths += [len(tokens.chosen_ids), len(tokens.rejected_ids)]
    return {"response_tokens": [min(lengths), max(lengths)]}


def run_trl(model: str, pairs, dtype: str) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    cfg = config()
    data = Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": p.prompt_text}],
                "chosen": [{"role": "assistant", "content": p.chosen_text}],
                "rejected": [{"role": "assistant", "content": p.rejected_text}],
            }
            for p in pairs
        ]
    )
    with tempfile.TemporaryDirectory() as folder:
        trainer = DPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32),
            args=DPOConfig(
                output_dir=folder,
                per_device_train_batch_size=cfg.pairs_per_step,
                max_steps=len(pairs) // cfg.pairs_per_step,
                learning_rate=cfg.learning_rate,
                beta=cfg.beta,
                loss_type=["sigmoid", "sft"],
                loss_weights=[1.0, cfg.nll_weight],
                max_length=cfg.max_prompt_tokens + cfg.max_response_tokens,
                bf16=dtype == "bfloat16",
                gradient_checkpointing=False,
                precompute_ref_log_probs=True,
                report_to="none",
                save_strategy="no",
                logging_steps=1,
                use_cpu=True,
                dataloader_num_workers=0,
                disable_tqdm=True,
            ),
            train_dataset=data,
            processing_class=AutoTokenizer.from_pretrained(model),
            peft_config=LoraConfig(
                r=cfg.lora_r,
                lora_alpha=cfg.lora_alpha,
                target_modules=cfg.target_modules,
                task_type="CAUSAL_LM",
            ),
        )
        trainer.train()
        lengths = [len(r[k]) for r in trainer.train_dataset for k in ("chosen_ids", "rejected_ids")]
    return {"response_tokens": [min(lengths), max(lengths)]}


def child(side: str, pairs_count: int, dtype: str, out: Path) -> None:
    """One timed run in this (fresh) process; writes its figures to ``out``."""
    from selfmoa.core.modelpath import resolve_model

    model = resolve_model("embedded:smollm2-135m-instruct", "model")
    started = time.perf_counter()
    pairs = make_pairs(model, pairs_count)
    extra = (run_selfmoa if side == "selfmoa" else run_trl)(model, pairs, dtype)
    seconds = time.perf_counter() - started
    out.write_text(json.dumps({"seconds": seconds, **extra}))


def measure(side: str, pairs: int, dtype: str) -> dict:
    """Run one side in a child process: its figures and its own peak resident memory."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        process = subprocess.Popen(
            [sys.executable, __file__, "--side", side, "--pairs", str(pairs), "--dtype", dtype]
            + ["--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(
                f"{side} run failed (exit {process.returncode}); run it alone with --side"
            )
        result = json.loads(out.read_text())
    return {
        **result,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # ru_maxrss is in KiB on Linux
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--side", choices=["selfmoa", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        child(args.side, args.pairs, args.dtype, args.out)
        return
    import torch

    runs: dict[str, list[dict]] = {"selfmoa": [], "trl": []}
    print(
        "| repeat | selfmoa | TRL DPOTrainer | selfmoa CPU time | TRL CPU time "
        "| selfmoa peak RSS | TRL peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for repeat in range(args.repeats):
        order = ("selfmoa", "trl") if repeat % 2 == 0 else ("trl", "selfmoa")
        for name in order:
            runs[name].append(measure(name, args.pairs, args.dtype))
        ours, theirs = runs["selfmoa"][-1], runs["trl"][-1]
        print(
            f"| {repeat} | {ours['seconds']:.1f} s | {theirs['seconds']:.1f} s "
            f"| {ours['cpu_seconds']:.1f} s | {theirs['cpu_seconds']:.1f} s "
            f"| {ours['peak_rss_mb']:.0f} MB | {theirs['peak_rss_mb']:.0f} MB |",
            flush=True,
        )

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    a, b = median("selfmoa", "seconds"), median("trl", "seconds")
    cpu_a, cpu_b = median("selfmoa", "cpu_seconds"), median("trl", "cpu_seconds")
    steps = args.pairs // PAIRS_PER_STEP
    print(
        f"| **median** | **{a:.1f} s** | **{b:.1f} s** | {cpu_a:.1f} s | {cpu_b:.1f} s "
        f"| {median('selfmoa', 'peak_rss_mb'):.0f} MB | {median('trl', 'peak_rss_mb'):.0f} MB |"
    )
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__} with {torch.get_num_threads()} threads; {args.dtype}; "
        f"{args.pairs} pairs = "
        f"{steps} steps; response tokens selfmoa {runs['selfmoa'][0]['response_tokens']}, "
        f"TRL {runs['trl'][0]['response_tokens']} (TRL's include the chat template's end)"
    )
    print(f"ratio TRL/selfmoa = {b / a:.2f}x wall time, {cpu_b / cpu_a:.2f}x CPU time")


if __name__ == "__main__":
    main()
