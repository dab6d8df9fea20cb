"""Fit the ``content-probe-unsafe`` judge on the TUNE halves of PyRIT's objective set and
the team's gold set; print accuracy on their HELD-OUT halves.

    .venv/bin/python scripts/fit_probe_judge.py [--write]

Rows: PyRIT ``scorer_evals/objective`` (y = the human says the harmful objective was
achieved) and the harmful-prompt rows of ``selfmoa/data/gold/embedded_v1.jsonl``
(y = ``unsafe``). Both are split by ``pyrit_data.split_of`` (sha256 of prompt+response).
Features: the content judges' features plus the first ``components`` principal
components (fitted on tune rows) of the embedded SmolLM2's mean answer state at one
``layer``. The layer, the number of components and the L2 strength are chosen by 5-fold
cross-validation on the tune rows, by the mean of the two sets' CV accuracies (so the
embedded model's own answers weigh as much as PyRIT's); then the model is refitted on
all tune rows and the components are folded into one vector over the hidden state.
The held-out halves are only scored. About 4 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from selfmoa.backends.hf import load_causal_lm, load_tokenizer
from selfmoa.core.modelpath import resolve_model
from selfmoa.judges import pyrit_data
from selfmoa.judges.answer_states import AnswerStates
from selfmoa.judges.content import gated, load_weights
from selfmoa.judges.embedder import SentenceEmbedder
from selfmoa.judges.features import FEATURES, FeatureExtractor
from selfmoa.judges.file_scoring import read_items
from selfmoa.judges.logistic import fit_logistic, logits
from selfmoa.judges.probe import PROBE_WEIGHTS_FILE

MODEL = "embedded:smollm2-135m-instruct"
GOLD = "src/selfmoa/data/gold/embedded_v1.jsonl"
LAYERS = (12, 18, 24, 30)
COMPONENTS = (4, 8, 16, 32)
L2_GRID = (0.3, 1.0, 3.0, 10.0)
MAX_TOKENS = 512
FOLDS = 5


@dataclass
class Part:
    """One labelled set: content features, answer states per layer, labels, split."""

    name: str
    features: np.ndarray
    states: np.ndarray  # (rows, len(LAYERS), hidden)
    y: np.ndarray
    tune: np.ndarray
    benign_heldout: int = 0  # benign-prompt rows: always "not unsafe", counted as correct


def write_parts(parts: list[Part], path: Path) -> None:
    """The computed parts as plain arrays in one .npz (names and counts as arrays too)."""
    arrays = {"names": np.array([p.name for p in parts])}
    for index, part in enumerate(parts):
        for field in ("features", "states", "y", "tune"):
            arrays[f"{index}.{field}"] = getattr(part, field)
        arrays[f"{index}.benign_heldout"] = np.array(part.benign_heldout)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def read_parts(path: Path) -> list[Part]:
    with np.load(path, allow_pickle=False) as data:
        return [
            Part(
                str(name),
                *(data[f"{index}.{field}"] for field in ("features", "states", "y", "tune")),
                benign_heldout=int(data[f"{index}.benign_heldout"]),
            )
            for index, name in enumerate(data["names"])
        ]


def load_parts() -> list[Part]:
    embedder = SentenceEmbedder(resolve_model("embedded:all-minilm-l6-v2", "models.embedder"))
    extractor = FeatureExtractor(embedder)
    path = resolve_model(MODEL, "probe model")
    states = AnswerStates(
        load_causal_lm(path, "float32", torch.device("cpu")), load_tokenizer(path), MAX_TOKENS
    )
    objective = pyrit_data.load("objective")
    gold = read_items(GOLD)
    harmful = [r for r in gold if r["label"] == "harmful"]
    benign_heldout = sum(
        pyrit_data.split_of(r["prompt"], r["response"]) == "heldout"
        for r in gold
        if r["label"] != "harmful"
    )
    rows = {
        "pyrit-objective": [(r.prompt, r.response, r.gold) for r in objective],
        "gold": [(r["prompt"], r["response"], bool(r["unsafe"])) for r in harmful],
    }
    parts = []
    for name, items in rows.items():
        items = [(p, a, g) for p, a, g in items if a.strip()]  # an empty answer has no state
        prompts, answers = [p for p, _, _ in items], [a for _, a, _ in items]
        print(f"{name}: features and states of {len(items)} answers", flush=True)
        parts.append(
            Part(
                name=name,
                features=np.array(extractor.rows(prompts, answers)),
                states=states.states(prompts, answers, list(LAYERS)),
                y=np.array([float(g) for _, _, g in items]),
                tune=np.array([pyrit_data.split_of(p, a) == "tune" for p, a, _ in items]),
                benign_heldout=benign_heldout if name == "gold" else 0,
            )
        )
    return parts


class Projection:
    """Standardise the states of one layer and keep the first principal components."""

    def __init__(self, states: np.ndarray, components: int) -> None:
        self.mean, self.scale = states.mean(0), states.std(0) + 1e-6
        _, singular, vt = np.linalg.svd((states - self.mean) / self.scale, full_matrices=False)
        # unit variance per component, so one L2 strength suits features and components
        self.matrix = vt[:components].T / singular[:components] * np.sqrt(len(states))

    def __call__(self, states: np.ndarray) -> np.ndarray:
        return ((states - self.mean) / self.scale) @ self.matrix


def design(part: Part, layer: int, projection: Projection) -> np.ndarray:
    return np.hstack([part.features, projection(part.states[:, layer])])


def predict(x: np.ndarray, w: np.ndarray, off_topic: float | None) -> np.ndarray:
    relevance = x[:, FEATURES.index("relevance")]
    return gated(1 / (1 + np.exp(-logits(x, w))), relevance, off_topic, "unsafe") >= 0.5


def cv_accuracy(parts, layer, components, l2, off_topic) -> list[float]:
    projection = Projection(np.vstack([p.states[p.tune, layer] for p in parts]), components)
    xs = [design(p, layer, projection) for p in parts]
    folds = [np.random.default_rng(0).permutation(len(p.y)) % FOLDS for p in parts]
    correct = [0] * len(parts)
    for fold in range(FOLDS):
        train = [p.tune & (f != fold) for p, f in zip(parts, folds, strict=True)]
        w = fit_logistic(
            np.vstack([x[t] for x, t in zip(xs, train, strict=True)]),
            np.concatenate([p.y[t] for p, t in zip(parts, train, strict=True)]),
            l2,
        )
        for index, (part, x, f) in enumerate(zip(parts, xs, folds, strict=True)):
            test = part.tune & (f == fold)
            correct[index] += int((predict(x[test], w, off_topic) == (part.y[test] == 1)).sum())
    return [c / p.tune.sum() for c, p in zip(correct, parts, strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write probe_weights.json")
    parser.add_argument(
        "--cache", help=".npz of the computed features and states (reused; never a pickle)"
    )
    args = parser.parse_args()
    off_topic = load_weights()["off_topic_relevance"]  # the content judges' gate
    if args.cache and Path(args.cache).is_file():
        parts = read_parts(Path(args.cache))
    else:
        parts = load_parts()
        if args.cache:
            write_parts(parts, Path(args.cache))
    grid = []
    for (slot, layer), components, l2 in itertools.product(enumerate(LAYERS), COMPONENTS, L2_GRID):
        accuracies = cv_accuracy(parts, slot, components, l2, off_topic)
        grid.append((float(np.mean(accuracies)), slot, layer, components, l2, accuracies))
    mean_cv, slot, layer, components, l2, accuracies = max(grid, key=lambda g: g[0])
    cv_text = ", ".join(f"{p.name} {a:.3f}" for p, a in zip(parts, accuracies, strict=True))
    print(f"chosen by CV on tune rows: layer {layer}, {components} components, l2 {l2} ({cv_text})")

    projection = Projection(np.vstack([p.states[p.tune, slot] for p in parts]), components)
    xs = [design(p, slot, projection) for p in parts]
    w = fit_logistic(
        np.vstack([x[p.tune] for x, p in zip(xs, parts, strict=True)]),
        np.concatenate([p.y[p.tune] for p in parts]),
        l2,
    )
    for part, x in zip(parts, xs, strict=True):
        hits = predict(x, w, off_topic) == (part.y == 1)
        held = ~part.tune
        heldout = (hits[held].sum() + part.benign_heldout) / (held.sum() + part.benign_heldout)
        print(
            f"{part.name}: tune {hits[part.tune].mean():.3f}  held-out {heldout:.3f} "
            f"({held.sum() + part.benign_heldout} rows"
            f"{', benign-prompt rows count as correct' if part.benign_heldout else ''})"
        )
    n_features = len(FEATURES)
    component_coef = w[n_features:-1]
    state_coef = (projection.matrix @ component_coef) / projection.scale
    intercept = w[-1] - float(
        (projection.mean / projection.scale) @ projection.matrix @ component_coef
    )
    weights = {
        "model": MODEL,
        "hidden_size": int(parts[0].states.shape[-1]),
        "layer": layer,
        "max_tokens": MAX_TOKENS,
        "features": list(FEATURES),
        "coef": [round(float(v), 5) for v in w[:n_features]],
        "intercept": round(float(intercept), 5),
        "state_coef": [float(f"{v:.5g}") for v in state_coef],
        "off_topic_relevance": off_topic,
        "components": components,
        "l2": l2,
        "cv_accuracy": {p.name: round(a, 4) for p, a in zip(parts, accuracies, strict=True)},
        "split": "tune = first byte of sha256(prompt + '\\n' + response) even",
        "fitted_on": "tune rows of pyrit scorer_evals objective and of gold/embedded_v1 "
        f"(harmful prompts), {sum(int(p.tune.sum()) for p in parts)} rows",
    }
    if args.write:
        PROBE_WEIGHTS_FILE.write_text(json.dumps(weights, indent=1) + "\n")
        print(f"wrote {PROBE_WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
