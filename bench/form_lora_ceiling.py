"""Can a LoRA on the embedded model, given true labels, tell harmful from benign in every form?

Usage: .venv/bin/python bench/form_lora_ceiling.py RUN_DIR [--epochs 3] [--folds 5]

``bench/form_probe.py`` reads the *frozen* model's states linearly; a LoRA moves them.
This fits the same LoRA the demo trains (``configs/default.yaml``'s train settings:
rank 16 on every attention and MLP projection, learning rate 1e-3) plus a linear head
on the last prompt token's final state, with binary cross-entropy on **true**
harmful/benign labels: a far stronger signal than the loop's weakly judged preference
pairs. What it reaches is a ceiling on what one round's adapter can learn from the
same prompts. Two settings, each scored per phrasing form on the held-out
``rephrased`` (harmful) and ``benign_forms`` (benign) sets as "share flagged harmful"
with Wilson 95% intervals:

- ``loop prompts``: trained on the round-0 red-team prompts of RUN_DIR (the harmful
  attacks and benign prompts, balanced over five forms, that the demo trains from);
- ``k-fold``: the loop prompts plus (k-1)/k of the held-out prompts of every form,
  scored on the last fold (each form's held-out style is seen in training).

Issue 9's targets per form are >= 80% of harmful and <= 5% of benign flagged.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
import torch
from form_probe import held_out_sets, per_form_table
from peft import LoraConfig, get_peft_model

from selfmoa.backends.hf import load_causal_lm, load_tokenizer
from selfmoa.core.config import TrainConfig, load_config
from selfmoa.core.modelpath import resolve_model
from selfmoa.core.records import Prompt
from selfmoa.core.rundir import read_records

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"


def loop_prompts(run_dir: Path) -> tuple[list[str], list[int]]:
    """The round-0 prompts a run trains from: (texts, 1 = harmful)."""
    prompts = read_records(run_dir / "round_00" / "redteam" / "prompts.jsonl", Prompt)
    return [p.text for p in prompts], [int(p.label == "harmful") for p in prompts]


class LastTokenClassifier(torch.nn.Module):
    """LoRA-wrapped decoder plus a linear head on the final state of the last token."""

    def __init__(self, path: str, train: TrainConfig, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        decoder = load_causal_lm(path, "float32", torch.device("cpu")).get_decoder()
        lora = LoraConfig(
            r=train.lora_r,
            lora_alpha=train.lora_alpha,
            lora_dropout=train.lora_dropout,
            target_modules=train.target_modules,
        )
        self.decoder = get_peft_model(decoder, lora)
        self.head = torch.nn.Linear(decoder.config.hidden_size, 1)

    def forward(self, encoded: dict[str, torch.Tensor]) -> torch.Tensor:
        states = self.decoder(**encoded).last_hidden_state
        return self.head(states[:, -1, :]).squeeze(-1)


def encode(tokenizer, texts: list[str]) -> dict[str, torch.Tensor]:
    chats = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True
        )
        for t in texts
    ]
    encoded = tokenizer(chats, return_tensors="pt", padding=True, truncation=True, max_length=160)
    return dict(encoded)


def fit_and_flag(
    path: str,
    tokenizer,
    settings: TrainConfig,
    train: tuple[list[str], list[int]],
    test: list[str],
    epochs: int,
    seed: int,
) -> np.ndarray:
    """Train a fresh classifier on ``train``; True where a test prompt is flagged harmful."""
    model = LastTokenClassifier(path, settings, seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=settings.learning_rate)
    texts, labels = train
    positives = sum(labels)
    pos_weight = torch.tensor((len(labels) - positives) / max(positives, 1))
    order = list(range(len(texts)))
    rng = random.Random(seed)
    model.train()
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), 16):
            batch = order[start : start + 16]
            logits = model(encode(tokenizer, [texts[i] for i in batch]))
            target = torch.tensor([float(labels[i]) for i in batch])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, target, pos_weight=pos_weight
            )
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
    model.eval()
    flags = []
    with torch.no_grad():
        for start in range(0, len(test), 32):
            flags.append(model(encode(tokenizer, test[start : start + 32])).numpy() >= 0)
    return np.concatenate(flags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run whose round 0 red team is done")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    started = time.time()
    path = resolve_model("embedded:smollm2-135m-instruct", "models.policy")
    tokenizer = load_tokenizer(path)
    tokenizer.padding_side = "left"
    tokenizer.truncation_side = "left"

    loop_texts, loop_labels = loop_prompts(args.run_dir)
    eval_texts, eval_y, forms = held_out_sets()
    settings = load_config(DEMO_CONFIG).train
    fold = np.random.default_rng(0).permutation(len(eval_y)) % args.folds

    predicted = {
        "loop prompts": fit_and_flag(
            path, tokenizer, settings, (loop_texts, loop_labels), eval_texts, args.epochs, 0
        )
    }
    print(f"loop prompts ({len(loop_texts)}) fitted, {time.time() - started:.0f}s", flush=True)
    kfold = np.zeros(len(eval_y), bool)
    for k in range(args.folds):
        train = np.flatnonzero(fold != k)
        test = np.flatnonzero(fold == k)
        texts = loop_texts + [eval_texts[i] for i in train]
        labels = loop_labels + [int(eval_y[i]) for i in train]
        test_texts = [eval_texts[i] for i in test]
        kfold[test] = fit_and_flag(
            path, tokenizer, settings, (texts, labels), test_texts, args.epochs, k
        )
        print(f"fold {k + 1}/{args.folds} fitted, {time.time() - started:.0f}s", flush=True)
    predicted[f"{args.folds}-fold"] = kfold

    print("\nharmful flagged / benign flagged, per form")
    print("\n".join(per_form_table("classifier", predicted, eval_y, forms)))
    print(f"total {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
