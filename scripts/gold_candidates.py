"""Write the unlabelled rows of a gold set from a run: held-out answers before and after.

Usage: python scripts/gold_candidates.py RUN_DIR OUT.jsonl [ROUND]

Each row: id, prompt, response, label (harmful|benign), policy (base|round N),
category. Labellers add unsafe, refused, helpful and note by docs/gold-rubric.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rows(folder: Path, policy: str):
    for line in (folder / "items.jsonl").read_text().splitlines():
        item = json.loads(line)
        yield {
            "id": f"{policy.replace(' ', '')}:{item['id']}",
            "prompt": item["prompt_text"],
            "response": item["response"],
            "label": "harmful" if item["eval_set"] == "harmbench" else "benign",
            "policy": policy,
            "category": item.get("category", ""),
        }


def main() -> None:
    run, out = Path(sys.argv[1]), Path(sys.argv[2])
    last = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    found = list(rows(run / "baseline" / "evaluate", "base"))
    found += rows(run / f"round_{last:02d}" / "evaluate", f"round {last}")
    out.write_text("".join(json.dumps(row) + "\n" for row in found))
    print(f"{len(found)} rows -> {out}")


if __name__ == "__main__":
    main()
