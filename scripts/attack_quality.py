"""Quality of a run's written attacks, measured against hand labels (docs/attack-label-rubric.md).

python scripts/attack_quality.py sample RUN_DIR --out sample.jsonl [--n 100]
    draws kept harmful attacks from every round (seeded), plus up to 20 attacker
    rewrites the "not a request" filter rejected, for labelling by the rubric;
python scripts/attack_quality.py score RUN_DIR --labels bench/attack_labels.jsonl
    joins the labels (checked by the sha256 of each text), and prints: the share of
    kept attacks that are requests and keep their seed's intent (Wilson 95%), the
    precision of the request filter's rejections, near-duplicates among all kept
    attacks (embedding cosine >= 0.9 to another kept attack), and lineage coverage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

from selfmoa.core.records import Prompt
from selfmoa.core.rundir import read_records
from selfmoa.core.stats import wilson_interval

NEAR_DUPLICATE = 0.9


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def attacks(run_dir: Path) -> list[Prompt]:
    prompts = []
    for path in sorted(run_dir.glob("round_*/redteam/prompts.jsonl")):
        prompts += [p for p in read_records(path, Prompt) if p.label == "harmful"]
    return prompts


def draw(run_dir: Path, n: int, seed: int = 0) -> list[dict]:
    prompts = attacks(run_dir)
    kept = [p for p in prompts if p.kept]
    rejected = [p for p in prompts if p.filter_reason == "not a request"]
    rng = random.Random(seed)
    chosen = rng.sample(kept, min(n, len(kept))) + rng.sample(rejected, min(20, len(rejected)))
    return [
        {
            "id": p.id,
            "sha256": sha(p.text),
            "kept": p.kept,
            "strategy": p.strategy,
            "form": p.form,
            "seed": p.seed_text,
            "attack": p.text,
        }
        for p in chosen
    ]


def _rate(flags: list[bool]) -> str:
    low, high = wilson_interval(sum(flags), len(flags))
    return (
        f"{sum(flags)}/{len(flags)} = {sum(flags) / max(1, len(flags)):.1%} [{low:.0%}-{high:.0%}]"
    )


def near_duplicate_share(kept: list[Prompt]) -> float:
    from selfmoa.core.modelpath import resolve_model
    from selfmoa.judges.embedder import SentenceEmbedder

    embedder = SentenceEmbedder(resolve_model("embedded:all-minilm-l6-v2", "models.embedder"))
    vectors = embedder.encode([p.text for p in kept])
    similarity = vectors @ vectors.T
    similarity.fill_diagonal_(-1.0)
    return float((similarity.max(dim=1).values >= NEAR_DUPLICATE).float().mean())


def score(run_dir: Path, labels_path: Path) -> None:
    by_id = {p.id: p for p in attacks(run_dir)}
    labels = [json.loads(line) for line in labels_path.read_text().splitlines() if line.strip()]
    missing = [row["id"] for row in labels if row["id"] not in by_id]
    changed = [
        r["id"] for r in labels if r["id"] in by_id and sha(by_id[r["id"]].text) != r["sha256"]
    ]
    if missing or changed:
        raise SystemExit(
            f"labels do not match this run: missing {missing[:3]}, changed {changed[:3]}"
        )
    kept = [r for r in labels if by_id[r["id"]].kept]
    rejected = [r for r in labels if not by_id[r["id"]].kept]
    print(f"kept attacks labelled: {len(kept)}")
    print("  request:            ", _rate([r["request"] == 1 for r in kept]))
    print("  keeps seed's intent:", _rate([r["intent"] == 1 for r in kept]))
    print("  both:               ", _rate([r["request"] == 1 and r["intent"] == 1 for r in kept]))
    if rejected:
        print(
            "'not a request' rejections that are indeed not requests:",
            _rate([r["request"] == 0 for r in rejected]),
        )
    every = [p for p in by_id.values() if p.kept]
    print(
        f"near-duplicates among {len(every)} kept attacks (cosine >= {NEAR_DUPLICATE}): "
        f"{near_duplicate_share(every):.1%}"
    )
    ids = set(by_id)
    with_lineage = [
        p
        for p in every
        if p.seed_id and p.seed_text and (p.parent_id is None or p.parent_id in ids)
    ]
    print(f"kept attacks with lineage back to a seed: {len(with_lineage)}/{len(every)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["sample", "score"])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--labels", type=Path, default=Path("bench/attack_labels.jsonl"))
    args = parser.parse_args()
    if args.command == "sample":
        rows = draw(args.run_dir, args.n)
        text = "".join(json.dumps(row) + "\n" for row in rows)
        (args.out.write_text(text) if args.out else print(text, end=""))
    else:
        score(args.run_dir, args.labels)


if __name__ == "__main__":
    main()
