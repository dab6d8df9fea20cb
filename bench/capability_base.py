"""Capability of an embedded model, and of a trained adapter on it, on larger fixed
subsamples than the demo's capability stage uses.

Usage:
  .venv/bin/python bench/capability_base.py [ITEMS_PER_SET] [SET ...]
      [--model embedded:NAME] [--adapter runs/NAME/round_00/train/adapter]

Scores the same way as the `capability` stage (option log-likelihood, acc and acc_norm,
Wilson 95% intervals). With ``--adapter``, the base model and the adapted policy answer
the same items and the change in acc is printed with a paired 95% interval (the items are
shared, so the interval uses the per-item differences).
"""

from __future__ import annotations

import argparse
import time

import torch

from selfmoa.backends.hf import load_causal_lm, load_tokenizer
from selfmoa.core.modelpath import resolve_model, safetensors_adapter
from selfmoa.core.stats import paired_difference
from selfmoa.evals.capability import accuracy, score_items
from selfmoa.evals.mc_sets import MC_SETS, subsample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("items", nargs="?", type=int, default=200)
    parser.add_argument("sets", nargs="*", default=list(MC_SETS))
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--adapter", default=None)
    args = parser.parse_args()
    unknown = [n for n in args.sets if n not in MC_SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(MC_SETS)}")
    path = resolve_model(args.model, "models.policy")
    model = load_causal_lm(path, "float32", torch.device("cpu")).eval()
    tokenizer = load_tokenizer(path)
    items = {name: subsample(MC_SETS[name](), args.items, 0) for name in args.sets}
    policy = None
    if args.adapter is not None:
        from peft import PeftModel

        policy = PeftModel.from_pretrained(model, safetensors_adapter(args.adapter)).eval()
    for name, chosen in items.items():  # set by set, so a long run reports as it goes
        started = time.time()
        if policy is None:
            base = score_items(model, tokenizer, chosen, 16)
        else:
            with policy.disable_adapter():
                base = score_items(policy, tokenizer, chosen, 16)
        print(f"base {name}: {accuracy(base)[name]} in {time.time() - started:.0f}s", flush=True)
        if policy is None:
            continue
        started = time.time()
        scored = score_items(policy, tokenizer, chosen, 16)
        change = paired_difference(
            [r.choice == r.answer for r in base], [r.choice == r.answer for r in scored]
        )
        print(
            f"policy {name}: {accuracy(scored)[name]} in {time.time() - started:.0f}s; acc "
            f"change {change['change']:+.3f} [{change['ci_low']:+.3f}, {change['ci_high']:+.3f}]",
            flush=True,
        )


if __name__ == "__main__":
    main()
