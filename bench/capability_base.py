"""Capability of the embedded base model on larger fixed subsamples (README table).

Usage: .venv/bin/python bench/capability_base.py [ITEMS_PER_SET [SET ...]]  (default: all sets)
Scores the same way as the `capability` stage (option log-likelihood, acc and acc_norm).
"""

from __future__ import annotations

import sys
import time

import torch

from selfmoa.backends.hf import load_causal_lm, load_tokenizer
from selfmoa.core.modelpath import resolve_model
from selfmoa.evals.capability import accuracy, score_items
from selfmoa.evals.mc_sets import MC_SETS, subsample


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    path = resolve_model("embedded:smollm2-135m-instruct", "models.policy")
    model = load_causal_lm(path, "float32", torch.device("cpu")).eval()
    tokenizer = load_tokenizer(path)
    names = sys.argv[2:] or list(MC_SETS)
    unknown = [n for n in names if n not in MC_SETS]
    if unknown:
        sys.exit(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(MC_SETS)}")
    for name in names:
        load = MC_SETS[name]
        started = time.time()
        scored = score_items(model, tokenizer, subsample(load(), count, 0), 16)
        print(f"{name}: {accuracy(scored)[name]} in {time.time() - started:.0f}s", flush=True)


if __name__ == "__main__":
    main()
