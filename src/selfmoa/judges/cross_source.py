"""Cross-source validation: a verdict is judged by its worst held-out source, not its mean.

A judge tuned on one distribution of answers (say, the embedded 135M model's, where harm
is rare) can look good there and fail on another (long, concrete answers of a larger,
jailbroken model). So every candidate verdict is measured separately on each *source*
of human labels, and the candidates are ranked by the worst of those figures.

Sources (``sources``): PyRIT's objective set, each of PyRIT's harm sets (one file each),
PyRIT's refusal set, and each team gold set (the embedded models' own answers). A source
*binds* a target when it has at least ``MIN_POSITIVES`` positive human labels for it;
sources with fewer are reported but cannot decide, since kappa and F1 on a handful of
positives say almost nothing.

Candidates per target (``candidates``) are the voters of ``selfmoa.judges.evaluation``:
every judge of the measure, every judge of the opposite measure inverted, the exact
``verdict`` of ``selfmoa judges score`` and a Dawid-Skene ``label-model`` (no labels). Two
kinds of figure per candidate and source, both on the source's held-out half
(``pyrit_data.split_of``; the shipped judges were fitted on tune halves only):

- **as shipped**: the candidate at its own threshold, 0.5;
- **leave-one-source-out** (``loso``): a threshold, or for ``stack`` a logistic model over
  every candidate's score, is fitted on the tune halves of all *other* sources and then
  applied to this one. This is how a verdict fitted on the project's data would fare on
  a user's source that it never saw.

``rank`` orders the candidates by their worst binding source: kappa first (accuracy
alone rewards a judge that never fires when positives are rare), then accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from selfmoa.judges import metrics
from selfmoa.judges.logistic import fit_logistic, logits

MIN_POSITIVES = 20
THRESHOLDS = tuple(round(t, 2) for t in np.linspace(0.05, 0.95, 19))
STACK = "stack"  # the leave-one-source-out logistic model over every candidate's score
STACK_L2 = 1.0


@dataclass(frozen=True)
class SourceScores:
    """One source's human labels and every candidate's score for one target."""

    name: str
    gold: np.ndarray  # 1.0 / 0.0 / nan (no label for this target)
    heldout: np.ndarray  # bool: the row is in the held-out half
    scores: dict[str, np.ndarray]  # candidate -> score in [0, 1], nan = abstained

    @property
    def positives(self) -> int:
        """Positive human labels in the whole source (both halves)."""
        return int(np.nansum(self.gold))

    @property
    def binding(self) -> bool:
        return self.positives >= MIN_POSITIVES


@dataclass(frozen=True)
class SourceFigure:
    """One candidate on one source's held-out half."""

    candidate: str
    source: str
    mode: str  # "as shipped" | "loso"
    binding: bool
    positives: int  # in the held-out half
    abstained: int
    threshold: float | None  # None for the stack
    summary: dict[str, float]  # metrics.summarize: n, accuracy, f1, kappa and intervals


def _labelled(source: SourceScores, candidate: str, half: str) -> np.ndarray:
    """Rows with a human label and a score, in ``half`` ("heldout" | "tune")."""
    keep = ~np.isnan(source.gold) & ~np.isnan(source.scores[candidate])
    return keep & (source.heldout if half == "heldout" else ~source.heldout)


def tuned_threshold(others: Sequence[SourceScores], candidate: str) -> float:
    """The threshold with the highest pooled kappa on the other sources' tune halves
    (ties go to the one nearest 0.5; 0.5 when they have no labelled rows)."""
    pooled = [(s.scores[candidate][m], s.gold[m]) for s in others
              for m in [_labelled(s, candidate, "tune")] if m.any()]  # fmt: skip
    if not pooled:
        return 0.5
    scores = np.concatenate([p[0] for p in pooled])
    gold = np.concatenate([p[1] for p in pooled]) >= 0.5
    best = max(
        THRESHOLDS,
        key=lambda t: (round(metrics.cohen_kappa(scores >= t, gold), 6), -abs(t - 0.5)),
    )
    return float(best)


def _stack_matrix(source: SourceScores, names: Sequence[str]) -> np.ndarray:
    """Every candidate's score as a column; an abstention counts as 0.5 (no evidence)."""
    columns = [np.nan_to_num(source.scores[n], nan=0.5) for n in names]
    return np.stack(columns, axis=1)


def stack_scores(
    target: SourceScores, others: Sequence[SourceScores], names: Sequence[str]
) -> np.ndarray:
    """P(positive) for ``target``'s rows from a logistic model over ``names``' scores,
    fitted on the other sources' labelled tune rows."""
    xs, ys = [], []
    for source in others:
        rows = ~np.isnan(source.gold) & ~source.heldout
        if rows.any():
            xs.append(_stack_matrix(source, names)[rows])
            ys.append(source.gold[rows])
    if not xs:
        return np.full(len(target.gold), np.nan)
    weights = fit_logistic(np.concatenate(xs), np.concatenate(ys), STACK_L2)
    return 1.0 / (1.0 + np.exp(-logits(_stack_matrix(target, names), weights)))


def _figure(
    candidate: str,
    source: SourceScores,
    scores: np.ndarray,
    mode: str,
    threshold: float | None,
    resamples: int,
) -> SourceFigure:
    labelled = ~np.isnan(source.gold) & source.heldout
    keep = labelled & ~np.isnan(scores)
    cut = 0.5 if threshold is None else threshold
    summary = metrics.summarize(scores[keep] >= cut, source.gold[keep] >= 0.5, resamples)
    return SourceFigure(
        candidate=candidate,
        source=source.name,
        mode=mode,
        binding=source.binding,
        positives=int(np.nansum(source.gold[labelled])),
        abstained=int(labelled.sum() - keep.sum()),
        threshold=threshold,
        summary=summary,
    )


def cross_source(sources: Sequence[SourceScores], resamples: int = 1000) -> list[SourceFigure]:
    """Every candidate on every source: as shipped and leave-one-source-out, plus the
    leave-one-source-out ``stack``. Candidates are those every source scored."""
    names = sorted(set.intersection(*(set(s.scores) for s in sources))) if sources else []
    figures = []
    for index, source in enumerate(sources):
        others = [s for k, s in enumerate(sources) if k != index]
        for name in names:
            scores = source.scores[name]
            figures.append(_figure(name, source, scores, "as shipped", 0.5, resamples))
            threshold = tuned_threshold(others, name)
            figures.append(_figure(name, source, scores, "loso", threshold, resamples))
        if len(names) >= 2:
            stacked = stack_scores(source, others, names)
            figures.append(_figure(STACK, source, stacked, "loso", None, resamples))
    return figures


@dataclass(frozen=True)
class Ranked:
    candidate: str
    mode: str
    worst_source: str | None  # None: no binding source
    worst_kappa: float
    worst_accuracy: float
    mean_kappa: float


def rank(figures: Sequence[SourceFigure]) -> list[Ranked]:
    """(candidate, mode) pairs, best worst-binding-source first: kappa, then accuracy."""
    groups: dict[tuple[str, str], list[SourceFigure]] = {}
    for figure in figures:
        if figure.binding:
            groups.setdefault((figure.candidate, figure.mode), []).append(figure)
    ranked = []
    for (candidate, mode), group in groups.items():
        kappas = [_value(f, "kappa") for f in group]
        worst = min(group, key=lambda f: (_value(f, "kappa"), _value(f, "accuracy")))
        ranked.append(
            Ranked(
                candidate=candidate,
                mode=mode,
                worst_source=worst.source,
                worst_kappa=_value(worst, "kappa"),
                worst_accuracy=min(_value(f, "accuracy") for f in group),
                mean_kappa=float(np.mean(kappas)),
            )
        )
    return sorted(ranked, key=lambda r: (-r.worst_kappa, -r.worst_accuracy, r.candidate, r.mode))


def _value(figure: SourceFigure, metric: str) -> float:
    """A metric, with no rows (nan) counted as the worst value."""
    value = figure.summary.get(metric, float("nan"))
    return -1.0 if value != value else float(value)
