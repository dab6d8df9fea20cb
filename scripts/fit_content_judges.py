"""Fit the content judges' logistic weights on the TUNE half of PyRIT's scorer evaluations.

    PYTHONPATH=src python scripts/fit_content_judges.py [--write]

- refusal model: refusal_scorer/refusal.csv, y = human says the answer refused;
- unsafe model:  objective/*.csv, y = human says the harmful objective was achieved.
Rows are split by ``selfmoa.judges.pyrit_data.split_of`` (sha256 of prompt+response,
first byte even = tune). The L2 strength is chosen by 5-fold cross-validation inside
the tune half; then the off-topic relevance gate (see judges/content.py) is chosen from
OFF_TOPIC_GRID by accuracy on the tune half of both sets. The held-out half is only
scored, never used for a choice. With ``--write`` the weights go to
src/selfmoa/judges/content_weights.json. ``--gold FILE.jsonl`` adds the tune-split rows
of a team gold set ({"prompt", "response", "unsafe": 0/1, "refused": 0/1}) to the fit.
Computing the features embeds ~500 answers with all-MiniLM-L6-v2 (a few minutes on CPU).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from selfmoa.core.modelpath import resolve_model
from selfmoa.judges import pyrit_data
from selfmoa.judges.content import WEIGHTS_FILE, gated
from selfmoa.judges.embedder import SentenceEmbedder
from selfmoa.judges.features import FEATURES, FeatureExtractor
from selfmoa.judges.logistic import fit_logistic, logits

L2_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
OFF_TOPIC_GRID = (None, 0.1, 0.15, 0.2, 0.25)


def accuracy(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    return float(((logits(x, w) >= 0) == (y >= 0.5)).mean())


def cv_accuracy(x: np.ndarray, y: np.ndarray, l2: float, folds: int = 5) -> float:
    order = np.random.default_rng(0).permutation(len(y))
    correct = 0.0
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        correct += accuracy(x[test], y[test], fit_logistic(x[train], y[train], l2)) * len(test)
    return correct / len(y)


def gold_rows(path: str, field: str) -> list[pyrit_data.GoldRow]:
    from selfmoa.judges.file_scoring import read_items

    return [
        pyrit_data.GoldRow(
            id=f"gold:{r['id']}", kind="gold", prompt=r["prompt"], response=r["response"],
            gold=bool(r[field]), split=pyrit_data.split_of(r["prompt"], r["response"]),
        )
        for r in read_items(path)
        if r.get(field) in (0, 1)
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write content_weights.json")
    parser.add_argument("--gold", help="team gold set JSONL; its tune rows join the fit")
    args = parser.parse_args()
    embedder = SentenceEmbedder(resolve_model("embedded:all-minilm-l6-v2", "models.embedder"))
    extractor = FeatureExtractor(embedder)
    weights: dict = {"split": "tune = first byte of sha256(prompt + '\\n' + response) even"}
    fitted = {}
    for measure, kind in (("refusal", "refusal"), ("unsafe", "objective")):
        rows = pyrit_data.load(kind)
        if args.gold:
            rows += gold_rows(args.gold, "refused" if measure == "refusal" else "unsafe")
        x = np.array(extractor.rows([r.prompt for r in rows], [r.response for r in rows]))
        y = np.array([float(r.gold) for r in rows])
        tune = np.array([r.split == "tune" for r in rows])
        l2 = max(L2_GRID, key=lambda value: cv_accuracy(x[tune], y[tune], value))
        w = fit_logistic(x[tune], y[tune], l2)
        print(
            f"{measure} ({kind}, {tune.sum()} tune / {(~tune).sum()} held-out rows, l2={l2}): "
            f"tune {accuracy(x[tune], y[tune], w):.3f}  "
            f"held-out {accuracy(x[~tune], y[~tune], w):.3f}  all {accuracy(x, y, w):.3f}"
        )
        weights[measure] = {
            "features": list(FEATURES),
            "coef": [round(float(v), 4) for v in w[:-1]],
            "intercept": round(float(w[-1]), 4),
            "l2": l2,
            "fitted_on": f"pyrit scorer_evals {kind}{' + gold' if args.gold else ''}, "
            f"tune split ({int(tune.sum())} rows)",
        }
        probability = 1 / (1 + np.exp(-logits(x, w)))
        fitted[measure] = (probability, x[:, FEATURES.index("relevance")], y, tune)

    def tune_correct(off_topic: float | None) -> float:
        total = 0.0
        for measure, (p, relevance, y, tune) in fitted.items():
            hits = (gated(p, relevance, off_topic, measure) >= 0.5) == (y >= 0.5)
            total += hits[tune].sum()
        return total

    off_topic = max(OFF_TOPIC_GRID, key=lambda t: (tune_correct(t), t is None))
    weights["off_topic_relevance"] = off_topic
    for measure, (p, relevance, y, tune) in fitted.items():
        hits = (gated(p, relevance, off_topic, measure) >= 0.5) == (y >= 0.5)
        print(
            f"{measure} with off-topic gate {off_topic}: tune {hits[tune].mean():.3f}  "
            f"held-out {hits[~tune].mean():.3f}  all {hits.mean():.3f}"
        )
    if args.write:
        WEIGHTS_FILE.write_text(json.dumps(weights, indent=1) + "\n")
        print(f"wrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
