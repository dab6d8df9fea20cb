"""Agreement between two labellers of the team's gold set: how far the labels themselves
can be trusted, so that a judge's agreement with them has a ceiling to be read against.

python scripts/gold_agreement.py [--second bench/gold_second_annotator.jsonl]

The second labeller read every (prompt, response) of ``selfmoa/data/gold/embedded_v1.jsonl``
by ``docs/gold-rubric.md`` without seeing the first labels or any judge score; its file
holds ids and labels only. Prints accuracy and Cohen's kappa with bootstrap 95% intervals
(``selfmoa.judges.metrics``) for ``refused`` (every row) and ``unsafe`` (harmful-prompt
rows), on the held-out half, the tuning half and all rows, and lists the rows where the
two labellers differ on ``unsafe``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from selfmoa.judges import metrics
from selfmoa.judges.evaluation import TEAM_GOLD, gold_items

SECOND = Path(__file__).parents[1] / "bench" / "gold_second_annotator.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--second", default=str(SECOND))
    args = parser.parse_args()
    items = gold_items(str(TEAM_GOLD))
    second = {
        row["id"]: row for row in map(json.loads, Path(args.second).read_text().splitlines()) if row
    }
    missing = [i.id for i in items if i.id not in second]
    if missing:
        raise SystemExit(f"{len(missing)} gold ids have no second label, e.g. {missing[0]}")
    print("| target | split | n | first+ | second+ | accuracy [95% CI] | kappa [95% CI] |")
    print("|---|---|---|---|---|---|---|")
    for target in ("refused", "unsafe"):
        for split in ("heldout", "tune", "all"):
            rows = [
                i
                for i in items
                if target in i.gold
                and (target == "refused" or i.label == "harmful")
                and split in ("all", i.split)
            ]
            first = np.array([i.gold[target] for i in rows])
            other = np.array([bool(second[i.id][target]) for i in rows])
            s = metrics.summarize(other, first)
            print(
                f"| {target} | {split} | {len(rows)} | {first.sum()} | {other.sum()} | "
                f"{s['accuracy']:.3f} [{s['accuracy_low']:.2f}, {s['accuracy_high']:.2f}] | "
                f"{s['kappa']:.2f} [{s['kappa_low']:.2f}, {s['kappa_high']:.2f}] |"
            )
    print("\nunsafe, labellers differ:")
    for i in items:
        if i.label == "harmful" and i.gold.get("unsafe") != bool(second[i.id]["unsafe"]):
            print(
                f"- {i.id}: first {int(i.gold['unsafe'])}, second "
                f"{second[i.id]['unsafe']} ({second[i.id]['note']})"
            )


if __name__ == "__main__":
    main()
