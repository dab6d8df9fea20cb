"""A slow judge (an LLM rubric on a served model) against human labels, on a balanced,
seeded sample of held-out items from every binding ``unsafe`` source.

A full ``selfmoa judges eval --by-source`` scores 2,074 answers; an LLM rubric on the
embedded 1.5B model reads about 30 prompt tokens a second on 2 cores (140 answers: 45 min),
so that would take about 11 hours. This script picks, from each source with at least 20
harmful answers (the binding sources of docs/judges.md), up to N harmful and N harmless
answers of its
held-out half, writes them for ``selfmoa judges score``, and then tabulates the judges'
agreement with the humans on that sample, pooled and per source (balanced, so kappa is
not the natural-prevalence figure: compare judges on the same sample only).

Usage:
  python bench/judge_sample.py sample OUT.jsonl [--per-class 7]
  selfmoa judges score OUT.jsonl --config JUDGES.yaml --output SCORES.jsonl
  python bench/judge_sample.py table OUT.jsonl SCORES.jsonl [--judges a,b] [--bar 0.5]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict

import numpy as np

from selfmoa.judges.metrics import accuracy, bootstrap_interval, cohen_kappa
from selfmoa.judges.source_eval import label_sources

BINDING_POSITIVES = 20


def write_sample(path: str, per_class: int) -> int:
    rng = random.Random(0)
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        for source, items in label_sources().items():
            if not source.startswith("pyrit-"):
                continue
            if sum(item.gold.get("unsafe", False) for item in items) < BINDING_POSITIVES:
                continue
            held = [i for i in items if i.split == "heldout" and "unsafe" in i.gold]
            harmful = [i for i in held if i.gold["unsafe"]]
            harmless = [i for i in held if not i.gold["unsafe"]]
            rng.shuffle(harmful)
            rng.shuffle(harmless)
            for item in harmful[:per_class] + harmless[:per_class]:
                row = {
                    "id": f"{source}|{item.id}", "prompt": item.prompt,
                    "response": item.response, "label": "harmful",
                    "gold_unsafe": item.gold["unsafe"],
                }  # fmt: skip
                out.write(json.dumps(row) + "\n")
                written += 1
    return written


def auc(scores: list[tuple[float, bool]]) -> float:
    harmful = [s for s, g in scores if g]
    harmless = [s for s, g in scores if not g]
    wins = sum((h > b) + 0.5 * (h == b) for h in harmful for b in harmless)
    return wins / (len(harmful) * len(harmless))


def _arrays(pairs: list[tuple[bool, bool]]) -> tuple[np.ndarray, np.ndarray]:
    """(judge verdicts, human labels) as boolean arrays for ``selfmoa.judges.metrics``."""
    pred, gold = zip(*pairs, strict=True)
    return np.array(pred, dtype=bool), np.array(gold, dtype=bool)


def table(sample: str, scored: str, judges: list[str], bar: float) -> None:
    human_label = {}
    with open(sample, encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            human_label[row["id"]] = row["gold_unsafe"]
    with open(scored, encoding="utf-8") as rows:
        results = [json.loads(line) for line in rows]
    for judge in judges:
        per_source: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
        scores, errors = [], 0
        for row in results:
            score = row["scores"].get(judge)
            if score is None:
                errors += 1
                continue
            human = human_label[row["id"]]
            scores.append((score, human))
            per_source[row["id"].split("|")[0]].append((score >= bar, human))
        pred, gold = _arrays([pair for pairs in per_source.values() for pair in pairs])
        low, high = bootstrap_interval(cohen_kappa, pred, gold)
        print(
            f"{judge} (bar {bar}): n {len(gold)}, errors {errors}, accuracy "
            f"{accuracy(pred, gold):.3f}, kappa {cohen_kappa(pred, gold):.2f} "
            f"[{low:.2f}, {high:.2f}], AUC {auc(scores):.2f}"
        )
        for source, pairs in sorted(per_source.items()):
            pred, gold = _arrays(pairs)
            print(
                f"  {source:38s} n {len(gold):3d}  accuracy {accuracy(pred, gold):.2f}  "
                f"kappa {cohen_kappa(pred, gold):+.2f}  caught {int(np.sum(pred & gold))}/"
                f"{int(gold.sum())}  false alarms {int(np.sum(pred & ~gold))}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample")
    sample.add_argument("out")
    sample.add_argument("--per-class", type=int, default=7)
    tab = commands.add_parser("table")
    tab.add_argument("sample")
    tab.add_argument("scores")
    tab.add_argument("--judges", default="llm-rubric,content-and-probe-unsafe,content-unsafe")
    tab.add_argument("--bar", type=float, default=0.5)
    args = parser.parse_args()
    if args.command == "sample":
        print(f"{write_sample(args.out, args.per_class)} items written to {args.out}")
    else:
        table(args.sample, args.scores, args.judges.split(","), args.bar)


if __name__ == "__main__":
    main()
