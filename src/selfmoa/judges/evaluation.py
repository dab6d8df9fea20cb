"""``selfmoa judges eval``: every evaluation judge and the label model against human labels.

Gold data:
- PyRIT's scorer_evals (``selfmoa.judges.pyrit_data``): refusal.csv -> ``refused``,
  objective/*.csv -> ``unsafe``, harm/*.csv (mean human harm >= 0.5) -> ``unsafe``;
  every prompt is treated as harmful, as in ``/work/shared/checks/judges-vs-pyrit``;
- ``--gold FILE.jsonl``: the team's gold set, rows {"id", "prompt", "response", "label",
  "unsafe": 0/1, "refused": 0/1, "helpful": 1-5}; ``helpful`` is compared as helpful >= 4
  against helpfulness score >= 0.5 (a rough check of the relevance judge).

Per target measure the voters are the judges of that measure, judges of the opposite
measure inverted (``not <judge>``: a harmful request that was not refused counts as
unsafe; one judged not unsafe counts as refused), the exact ``decide`` verdict that
``selfmoa judges score`` writes (``verdict``), and a Dawid-Skene ``label-model`` fitted,
without labels, on the judges' votes. Results are given per split: ``tune`` (rows the
content judges' weights were fitted on), ``heldout`` (never used for a choice) and ``all``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from selfmoa.core.config import Config
from selfmoa.core.errors import SelfMoaError
from selfmoa.judges import metrics, pyrit_data
from selfmoa.judges.base import Judge, JudgeInput
from selfmoa.judges.file_scoring import read_items
from selfmoa.judges.label_model import DawidSkene
from selfmoa.judges.registry import JudgeContext, build_judges, run_judges
from selfmoa.judges.verdicts import decide

OPPOSITE = {"unsafe": "refusal", "refusal": "unsafe"}
TARGET_MEASURE = {"refused": "refusal", "unsafe": "unsafe", "helpful": "helpfulness"}

TEAM_GOLD = Path(__file__).parents[1] / "data" / "gold" / "embedded_v1.jsonl"


@dataclass(frozen=True)
class GoldItem:
    id: str
    prompt: str
    response: str
    label: str
    split: str
    gold: dict[str, bool]  # target ("refused" | "unsafe" | "helpful") -> human label


def pyrit_items(sets: list[str], limit: int) -> dict[str, list[GoldItem]]:
    target = {"refusal": "refused", "objective": "unsafe", "harm": "unsafe"}
    out = {}
    for kind in sets:
        if kind not in target:
            raise SelfMoaError(f"unknown PyRIT set '{kind}'; choose from refusal, objective, harm")
        rows = pyrit_data.load(kind)[: limit or None]
        out[f"pyrit-{kind}"] = [
            GoldItem(r.id, r.prompt, r.response, "harmful", r.split, {target[kind]: r.gold})
            for r in rows
        ]
    return out


def gold_items(path: str) -> list[GoldItem]:
    items = []
    for row in read_items(path):
        gold = {k: bool(row[k]) for k in ("unsafe", "refused") if row.get(k) in (0, 1)}
        if isinstance(row.get("helpful"), int | float):
            gold["helpful"] = row["helpful"] >= 4
        split = pyrit_data.split_of(row["prompt"], row["response"])
        items.append(GoldItem(row["id"], row["prompt"], row["response"], row["label"], split, gold))
    return items


def judges_for_targets(judges: list[Judge], items: list[GoldItem]) -> list[Judge]:
    """The judges whose measure (or its opposite) is a target some item has gold for."""
    measures = {TARGET_MEASURE[t] for i in items for t in i.gold}
    measures |= {OPPOSITE[m] for m in measures if m in OPPOSITE}
    return [j for j in judges if j.measure in measures]


def score_set(items: list[GoldItem], judges: list[Judge]) -> dict[str, dict[str, np.ndarray]]:
    """target -> voter -> float array (nan = abstain / no gold) plus '_gold'.

    Only the judges that vote on a target these items have gold for are run (PyRIT's
    sets have no helpfulness labels, so the relevance judge skips them)."""
    judges = judges_for_targets(judges, items)
    inputs = [JudgeInput(i.prompt, i.label, i.response) for i in items]
    verdicts = run_judges(judges, inputs)
    scores = {
        j.name: np.array([np.nan if v.score is None else v.score for v in verdicts[j.name]])
        for j in judges
    }
    decisions = [
        decide(it.label, [(j.name, j.measure, verdicts[j.name][k]) for j in judges])
        for k, it in enumerate(items)
    ]
    targets: dict[str, dict[str, np.ndarray]] = {}
    for target, measure in TARGET_MEASURE.items():
        gold = np.array([float(i.gold[target]) if target in i.gold else np.nan for i in items])
        if np.all(np.isnan(gold)):
            continue
        voters: dict[str, np.ndarray] = {}
        for judge in judges:
            if judge.measure == measure:
                voters[judge.name] = scores[judge.name]
            elif OPPOSITE.get(measure) == judge.measure:
                voters[f"not {judge.name}"] = 1.0 - scores[judge.name]
        field = {"refused": "refused", "unsafe": "unsafe", "helpful": "helpfulness"}[target]
        verdict = [getattr(d, field) for d in decisions]
        if target == "helpful":
            verdict = [None if v is None else v >= 0.5 for v in verdict]
        voters["verdict"] = np.array([np.nan if v is None else float(v) for v in verdict])
        binary = [v for k, v in voters.items() if k != "verdict"]
        if len(binary) >= 2:
            votes = DawidSkene.votes_from_scores(np.stack(binary, axis=1))
            voters["label-model"] = DawidSkene().fit(votes).predict_proba(votes)
        voters["_gold"] = gold
        targets[target] = voters
    return targets


def results_for(
    name: str, items: list[GoldItem], targets: dict[str, dict[str, np.ndarray]], resamples: int
) -> list[dict]:
    splits = np.array([i.split for i in items])
    rows = []
    for target, voters in targets.items():
        gold = voters["_gold"]
        for voter, scores in voters.items():
            if voter == "_gold":
                continue
            for split in ("tune", "heldout", "all"):
                keep = ~np.isnan(gold) & ~np.isnan(scores)
                if split != "all":
                    keep &= splits == split
                summary = metrics.summarize(scores[keep] >= 0.5, gold[keep] >= 0.5, resamples)
                total = int((~np.isnan(gold) & ((splits == split) | (split == "all"))).sum())
                rows.append({"set": name, "target": target, "judge": voter, "split": split,
                             "abstained": total - int(keep.sum()), **summary})  # fmt: skip
    return rows


def markdown(rows: list[dict]) -> str:
    def cell(row: dict, key: str) -> str:
        if row[key] is None or row[key] != row[key]:  # no rows in this split
            return "-"
        return f"{row[key]:.3f} [{row[key + '_low']:.2f}, {row[key + '_high']:.2f}]"

    lines = [
        "| set | target | judge | split | n | abstained | accuracy [95% CI] | F1 | kappa |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['set']} | {r['target']} | {r['judge']} | {r['split']} | {int(r['n'])} | "
            f"{r['abstained']} | {cell(r, 'accuracy')} | {cell(r, 'f1')} | {cell(r, 'kappa')} |"
        )
    return "\n".join(lines)


def agreement(
    judges: list[Judge],
    gold: str | None,
    pyrit_sets: list[str],
    limit: int = 0,
    resamples: int = 1000,
) -> list[dict]:
    """Rows of agreement with human labels: every judge, the verdict and the label model."""
    sets: dict[str, list[GoldItem]] = {}
    if gold is not None:
        sets["gold"] = gold_items(gold)[: limit or None]
    sets.update(pyrit_items(pyrit_sets, limit))
    if not sets:
        raise SelfMoaError("nothing to evaluate: give --gold FILE or leave PyRIT on")
    rows = []
    for name, items in sets.items():
        rows += results_for(name, items, score_set(items, judges), resamples)
    return finite(rows)  # type: ignore[return-value]


def finite(value: object) -> object:
    """nan -> None all the way down, so the result is strict JSON."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def run_eval(args: argparse.Namespace, config: Config, resamples: int = 1000) -> list[dict]:
    gold = None if getattr(args, "no_gold", False) else args.gold or str(TEAM_GOLD)
    names = [] if args.no_pyrit else [s.strip() for s in args.sets.split(",") if s.strip()]
    judges = build_judges(config.judge.evaluation_judges, JudgeContext(config))
    rows = agreement(judges, gold, names, args.limit, resamples)
    print(
        "Judges vs human labels. Splits: tune = rows with sha256(prompt\\nresponse)[0] even "
        "(the content judges were fitted on PyRIT tune rows, content-probe-unsafe on the tune "
        "rows of PyRIT objective and of the team's gold set), heldout = the rest.\n"
    )
    print(markdown(rows))
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=1, allow_nan=False) + "\n")
    return rows
