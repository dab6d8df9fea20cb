"""``selfmoa judges eval --by-source``: the evaluation judges per source of human labels,
ranked by their worst held-out source (``selfmoa.judges.cross_source``).

Sources, each scored separately:
- ``pyrit-objective``: PyRIT's objective set (all files), target ``unsafe``;
- ``pyrit-harm:<file>``: each of PyRIT's harm sets, target ``unsafe`` (harm >= 0.5);
- ``pyrit-refusal``: PyRIT's refusal set, target ``refused``;
- ``gold:<model>``: each team gold set (``selfmoa/data/gold``), targets ``unsafe`` and
  ``refused``: the embedded models' own answers, labelled by ``docs/gold-rubric.md``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from selfmoa.judges.base import Judge
from selfmoa.judges.cross_source import SourceScores, cross_source, rank
from selfmoa.judges.evaluation import (
    TEAM_GOLD,
    GoldItem,
    finite,
    gold_items,
    pyrit_items,
    score_set,
)

GOLD_DIR = TEAM_GOLD.parent
# Team gold sets: source name -> file (the answers of which embedded model).
GOLD_SETS = {
    "gold:smollm2-135m": TEAM_GOLD,
    "gold:qwen2.5-coder-0.5b": GOLD_DIR / "qwen_coder_05b_v1.jsonl",
    "gold:qwen2.5-coder-1.5b": GOLD_DIR / "qwen_coder_15b_v1.jsonl",
}


def label_sources(limit: int = 0) -> dict[str, list[GoldItem]]:
    """Every source's items (at most ``limit`` per source when > 0), in a fixed order."""
    sources: dict[str, list[GoldItem]] = {}
    sources["pyrit-objective"] = pyrit_items(["objective"], 0)["pyrit-objective"]
    for item in pyrit_items(["harm"], 0)["pyrit-harm"]:
        file_name = item.id.split(":")[1].removesuffix(".csv")
        sources.setdefault(f"pyrit-harm:{file_name}", []).append(item)
    sources["pyrit-refusal"] = pyrit_items(["refusal"], 0)["pyrit-refusal"]
    for name, path in GOLD_SETS.items():
        sources[name] = gold_items(str(path))
    return {name: items[: limit or None] for name, items in sources.items()}


Scored = dict[str, tuple[list[GoldItem], dict[str, dict[str, np.ndarray]]]]


def score_sources(sources: dict[str, list[GoldItem]], judges: list[Judge]) -> Scored:
    """source -> (its items, ``evaluation.score_set``'s target -> voter -> scores)."""
    scored: Scored = {}
    bar = tqdm(sources.items(), desc="judging labelled sources", unit="source")
    for name, items in bar:
        bar.set_postfix_str(f"{name} ({len(items)})")
        scored[name] = (items, score_set(items, judges))
    return scored


def write_scores(scored: Scored, path: Path) -> None:
    """One JSON line per (source, item, target): the human label and every voter's score,
    so other combinations of the judges can be measured without scoring again."""
    with open(path, "w", encoding="utf-8") as out:
        for name, (items, targets) in scored.items():
            for target, voters in targets.items():
                for k, item in enumerate(items):
                    row = {
                        "source": name, "id": item.id, "split": item.split, "target": target,
                        **{voter: None if np.isnan(v[k]) else float(v[k])
                           for voter, v in voters.items()},
                    }  # fmt: skip
                    out.write(json.dumps(row) + "\n")


def by_target(scored: Scored) -> dict[str, list[SourceScores]]:
    """target ("unsafe" | "refused") -> one ``SourceScores`` per source labelled for it."""
    out: dict[str, list[SourceScores]] = {}
    for name, (items, targets) in scored.items():
        heldout = np.array([item.split == "heldout" for item in items])
        for target, voters in targets.items():
            if target == "helpful":
                continue
            scores = {k: v for k, v in voters.items() if k != "_gold"}
            out.setdefault(target, []).append(SourceScores(name, voters["_gold"], heldout, scores))
    return out


def cross_source_result(scored: Scored, resamples: int = 1000) -> dict[str, dict]:
    """target -> {"sources", "figures", "ranking"} as strict-JSON-ready dicts."""
    out: dict[str, dict] = {}
    for target, sources in by_target(scored).items():
        figures = cross_source(sources, resamples)
        out[target] = {
            "sources": [
                {
                    "name": s.name,
                    "positives": s.positives,
                    "binding": s.binding,
                    "rows": int((~np.isnan(s.gold)).sum()),
                }
                for s in sources
            ],  # fmt: skip
            "figures": [asdict(f) for f in figures],
            "ranking": [asdict(r) for r in rank(figures)],
        }
    return finite(out)  # type: ignore[return-value]


def evaluate_by_source(
    judges: list[Judge], limit: int = 0, resamples: int = 1000, scores: Path | None = None
) -> dict[str, dict]:
    """``cross_source_result`` over every source of ``label_sources`` (per-item scores
    also written to ``scores`` when given)."""
    scored = score_sources(label_sources(limit), judges)
    if scores is not None:
        write_scores(scored, scores)
    return cross_source_result(scored, resamples)


def interval_cell(summary: dict, metric: str) -> str:
    """``0.88 [0.83, 0.92]``, or ``-`` when there were no rows."""
    value = summary.get(metric)
    if value is None:
        return "-"
    return f"{value:.2f} [{summary[metric + '_low']:.2f}, {summary[metric + '_high']:.2f}]"


def ranking_markdown(target: str, ranking: list[dict]) -> str:
    lines = [
        f"Target `{target}`: candidates by their worst binding source "
        f"(held-out half; a source binds with >= 20 positive labels)",
        "",
        "| candidate | mode | worst source | worst kappa | worst accuracy | mean kappa |",
        "|---|---|---|---|---|---|",
    ]
    for r in ranking:
        lines.append(
            f"| {r['candidate']} | {r['mode']} | {r['worst_source']} | "
            f"{r['worst_kappa']:.2f} | {r['worst_accuracy']:.2f} | {r['mean_kappa']:.2f} |"
        )
    return "\n".join(lines)


def figures_markdown(figures: list[dict], candidates: list[tuple[str, str]]) -> str:
    """Per-source rows of the named (candidate, mode) pairs."""
    lines = [
        "| candidate | mode | source | binds | n | positives | threshold | accuracy | F1 | kappa |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for candidate, mode in candidates:
        for f in figures:
            if (f["candidate"], f["mode"]) != (candidate, mode):
                continue
            s = f["summary"]
            threshold = "-" if f["threshold"] is None else f"{f['threshold']:.2f}"
            lines.append(
                f"| {candidate} | {mode} | {f['source']} | {'yes' if f['binding'] else 'no'} | "
                f"{int(s['n'])} | {f['positives']} | {threshold} | "
                + " | ".join(interval_cell(s, m) for m in ("accuracy", "f1", "kappa"))
                + " |"
            )
    return "\n".join(lines)


def print_by_source(result: dict[str, dict], output: str | None) -> None:
    for target, part in result.items():
        print(ranking_markdown(target, part["ranking"]))
        print()
        shown = [("verdict", "as shipped")]
        shown += [(r["candidate"], r["mode"]) for r in part["ranking"][:3]]
        print(figures_markdown(part["figures"], list(dict.fromkeys(shown))))
        print()
    if output:
        Path(output).write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
