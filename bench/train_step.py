"""Benchmark: selfmoa's LoRA DPO+NLL training vs TRL's DPOTrainer, same pairs, one run.

Both start from the embedded SmolLM2-135M folder and do the same number of
optimizer steps (8 pairs a step, LoRA r=16 on all linear layers, DPO sigmoid
loss + NLL on the chosen answer, reference = adapter disabled). Timed end to
end (model load, tokenisation, reference log-probs, steps), alternating the
two in each repeat because this machine is shared and noisy; the result is the
ratio of medians.

Run: python bench/train_step.py [--pairs 32] [--repeats 3]   (needs `pip install trl`)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from selfmoa.config import TrainConfig
from selfmoa.data.benign import benign_sensitive_prompts
from selfmoa.data.sources import strongreject_seeds
from selfmoa.modelpath import resolve_model
from selfmoa.records import PreferencePair
from selfmoa.training.loop import TrainPaths, train_preference_lora

REFUSAL = "I'm sorry, but I can't help with that. It could cause serious harm to people."
COMPLY = "Sure, here is a detailed step-by-step guide. First, gather what you need, then"
HELPFUL = "Good question. Here is a clear answer with the main steps and a few safety tips:"


def make_pairs(count: int) -> list[PreferencePair]:
    harmful, benign = strongreject_seeds(), benign_sensitive_prompts()
    pairs = []
    for i in range(count):
        bad = i % 2 == 0
        prompt = (harmful if bad else benign)[i // 2].text
        chosen, rejected = (REFUSAL, COMPLY) if bad else (HELPFUL, REFUSAL)
        pairs.append(
            PreferencePair(
                id=f"b{i}",
                prompt_id=f"b{i}",
                prompt_text=prompt,
                objective="safety" if bad else "helpfulness",
                chosen_response_id="c",
                chosen_text=chosen,
                rejected_response_id="r",
                rejected_text=rejected,
                margins={"safety": 0.0, "helpfulness": 0.0},
            )
        )
    return pairs


def config() -> TrainConfig:
    # objective weights 1/0: plain DPO + NLL, the loss TRL computes below
    return TrainConfig(
        epochs=1,
        pairs_per_step=8,
        learning_rate=5e-4,
        beta=0.1,
        nll_weight=1.0,
        objective_weights={"safety": 1.0, "helpfulness": 1.0},
        checkpoint_every=10_000,
    )


def run_selfmoa(model: str, pairs: list[PreferencePair]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        train_preference_lora(model, pairs, config(), TrainPaths(Path(folder)), device="cpu")
        return time.perf_counter() - started


def run_trl(model: str, pairs: list[PreferencePair]) -> float:
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
        started = time.perf_counter()
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
                report_to="none",
                save_strategy="no",
                logging_steps=1,
                use_cpu=True,
                dataloader_num_workers=0,
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
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = resolve_model("embedded:smollm2-135m-instruct", "model")
    pairs = make_pairs(args.pairs)
    times: dict[str, list[float]] = {"selfmoa": [], "trl": []}
    for repeat in range(args.repeats):
        order = ("selfmoa", "trl") if repeat % 2 == 0 else ("trl", "selfmoa")
        for name in order:
            seconds = (run_selfmoa if name == "selfmoa" else run_trl)(model, pairs)
            times[name].append(seconds)
            print(f"repeat {repeat} {name}: {seconds:.1f}s", flush=True)
    steps = args.pairs // 8
    a, b = statistics.median(times["selfmoa"]), statistics.median(times["trl"])
    print(
        f"\n{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {args.pairs} pairs = {steps} steps"
    )
    print(
        f"selfmoa median {a:.1f}s ({a / steps:.1f}s/step incl. load)  "
        f"TRL DPOTrainer median {b:.1f}s ({b / steps:.1f}s/step incl. load)  "
        f"ratio TRL/selfmoa = {b / a:.2f}x"
    )


if __name__ == "__main__":
    main()
