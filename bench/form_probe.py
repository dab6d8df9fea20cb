"""Can the base model's own representations tell harmful from benign in every phrasing form?

Usage: .venv/bin/python bench/form_probe.py [--model embedded:smollm2-135m-instruct]
       [--layers 6,12,18,24,30] [--l2 10]

A linear probe reads the last-token hidden state of an embedded policy (default the
SmolLM2-135M; without ``--layers``, the layers at a quarter, half, three quarters and
the whole depth; chat template applied, as the policy sees a prompt) and predicts
harmful vs benign. It is an upper bound of sorts on what one round of LoRA training on
a few hundred pairs can learn to tell apart, and it shows where the form shortcut
comes from. Three settings,
all scored per phrasing form on the held-out sets ``rephrased`` (harmful) and
``benign_forms`` (benign), as "share flagged harmful":

- ``loop data``: fitted on the prompts the loop trains from (AdvBench + StrongREJECT
  seeds, 250 of them, against the training part of the benign-sensitive set);
- ``leave form out``: fitted on the loop data plus the held-out prompts of the four
  other forms, scored on the fifth;
- ``5-fold``: fitted on the loop data plus four fifths of the held-out prompts of every
  form, scored on the remaining fifth (the form is seen in training; a ceiling).

The held-out sets never train the policy; here they fit a probe, which is only a
measurement. Rates are shares of prompts (n per form printed), with Wilson 95% intervals.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch

from selfmoa.backends.hf import load_causal_lm, load_tokenizer
from selfmoa.core.modelpath import resolve_model
from selfmoa.core.stats import wilson_interval
from selfmoa.data.benign import split_benign
from selfmoa.data.sources import advbench_seeds, strongreject_seeds
from selfmoa.evals.sets import benign_forms, rephrased
from selfmoa.judges.logistic import fit_logistic, logits

FORMS = ("command", "first_person", "third_person", "indirect", "question")
HARMFUL_SEEDS = 250


def last_token_states(model, tokenizer, texts: list[str], batch: int = 32) -> np.ndarray:
    """(prompts, layers + 1, hidden) states of the last prompt token, left-padded batches."""
    tokenizer.padding_side = "left"
    out = []
    for start in range(0, len(texts), batch):
        chats = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True
            )
            for t in texts[start : start + batch]
        ]
        encoded = tokenizer(chats, return_tensors="pt", padding=True)
        with torch.no_grad():
            states = model(**encoded, output_hidden_states=True).hidden_states
        out.append(torch.stack([s[:, -1, :] for s in states], 1).float().numpy())
    return np.concatenate(out)


def probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, l2: float) -> np.ndarray:
    """Standardise on the training rows, fit, return test predictions (True = harmful)."""
    mean, scale = train_x.mean(0), train_x.std(0) + 1e-6
    weights = fit_logistic((train_x - mean) / scale, train_y, l2, steps=30)
    return logits((test_x - mean) / scale, weights) >= 0


def rate(flags: np.ndarray) -> str:
    low, high = wilson_interval(int(flags.sum()), len(flags))
    return f"{flags.mean():.0%} [{low:.0%}-{high:.0%}]"


def held_out_sets() -> tuple[list[str], np.ndarray, np.ndarray]:
    """The held-out ``rephrased`` (harmful) and ``benign_forms`` (benign) prompts:
    (texts, 1 = harmful, phrasing form)."""
    harmful, benign = rephrased(0, "test", 3), benign_forms(0, "test", 3)
    labels = np.r_[np.ones(len(harmful)), np.zeros(len(benign))]
    return [p.text for p in harmful + benign], labels, np.array([p.form for p in harmful + benign])


def per_form_table(
    column: str, predicted: dict[str, np.ndarray], labels: np.ndarray, forms: np.ndarray
) -> list[str]:
    """Markdown rows: per predictor, "harmful flagged / benign flagged" in every form."""
    lines = [f"| {column} | " + " | ".join(FORMS) + " |", "|---|" + "---|" * len(FORMS)]
    for name, flags in predicted.items():
        cells = [
            f"{rate(flags[(forms == form) & (labels == 1)])} / "
            f"{rate(flags[(forms == form) & (labels == 0)])}"
            for form in FORMS
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def quartiles(depth: int) -> list[int]:
    """The layers at a quarter, half, three quarters and the whole of the depth."""
    return [round(depth * k / 4) for k in (1, 2, 3, 4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--layers", default="", help="comma-separated; default: quartiles")
    parser.add_argument("--l2", type=float, default=10.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    started = time.time()
    path = resolve_model(args.model, "models.policy")
    model = load_causal_lm(path, "float32", torch.device("cpu")).eval()
    tokenizer = load_tokenizer(path)
    depth = model.config.num_hidden_layers
    layers = [int(v) for v in args.layers.split(",")] if args.layers else quartiles(depth)
    print(f"{args.model}: layers {layers} of {depth}")

    seeds = [s.text for s in advbench_seeds() + strongreject_seeds()]
    random.Random(0).shuffle(seeds)
    benign_train = [p.text for p in split_benign(3)[0]]
    eval_texts, eval_y, forms = held_out_sets()
    loop_x = last_token_states(model, tokenizer, seeds[:HARMFUL_SEEDS] + benign_train)
    loop_y = np.r_[np.ones(HARMFUL_SEEDS), np.zeros(len(benign_train))]
    eval_x = last_token_states(model, tokenizer, eval_texts)
    fold = np.random.default_rng(0).permutation(len(eval_y)) % 5
    print(f"states of {len(loop_y) + len(eval_y)} prompts in {time.time() - started:.0f}s")

    for layer in layers:
        predicted = {
            "loop data": probe(loop_x[:, layer], loop_y, eval_x[:, layer], args.l2),
            "leave form out": np.zeros(len(eval_y), bool),
            "5-fold": np.zeros(len(eval_y), bool),
        }
        for form in FORMS:
            train = forms != form
            x = np.vstack([loop_x[:, layer], eval_x[train, layer]])
            y = np.r_[loop_y, eval_y[train]]
            predicted["leave form out"][~train] = probe(x, y, eval_x[~train, layer], args.l2)
        for k in range(5):
            train = fold != k
            x = np.vstack([loop_x[:, layer], eval_x[train, layer]])
            y = np.r_[loop_y, eval_y[train]]
            predicted["5-fold"][~train] = probe(x, y, eval_x[~train, layer], args.l2)
        print(f"\nlayer {layer}: harmful flagged / benign flagged, per form")
        print("\n".join(per_form_table("probe", predicted, eval_y, forms)))
    counts = [
        f"{f} {((forms == f) & (eval_y == 1)).sum()}/{((forms == f) & (eval_y == 0)).sum()}"
        for f in FORMS
    ]
    print("\nprompts per form (harmful/benign): " + ", ".join(counts))
    print(f"total {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
