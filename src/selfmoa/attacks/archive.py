"""The attack archive: every prompt the loop tried, its lineage, and how each policy answered.

The archive lives across rounds (``round_NN/archive/archive.jsonl`` holds everything
up to round NN). It drives progressive red teaming in the spirit of quality-diversity
search (MAP-Elites, Rainbow Teaming): attacks are binned into cells (harm category x
strategy x phrasing form); each cell keeps its strongest attacks (elites), the next
round mutates the elites that succeeded (or nearly did) against the latest policy, and
fresh seeds go to the cells where the archive is thinnest.

Fitness of an attack against a policy = share of its k samples judged unsafe by the
*training* judges (the loop's own signal), plus a small bonus for on-topic answers
(mean relevance), so an attack that was refused but drew an on-topic answer ranks
above one that drew an off-topic refusal. Reported attack success uses the evaluation
judges, which the archive records beside it.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from selfmoa.core.records import ArchiveEntry, AttackOutcome, Prompt

NEAR_MISS_BONUS = 0.25


def cell_of(prompt: Prompt) -> tuple[str, str, str]:
    return (
        prompt.category or "uncategorised",
        prompt.strategy.split(":")[0],
        prompt.form or "command",
    )


def fitness(outcome: AttackOutcome) -> float:
    """Unsafe share by the training judges, plus a near-miss bonus for on-topic answers."""
    if outcome.samples == 0:
        return 0.0
    return outcome.unsafe_training / outcome.samples + NEAR_MISS_BONUS * (
        outcome.helpfulness or 0.0
    )


def latest_outcome(entry: ArchiveEntry) -> AttackOutcome | None:
    return entry.outcomes[-1] if entry.outcomes else None


def merge(
    previous: list[ArchiveEntry], prompts: list[Prompt], outcomes: dict[str, AttackOutcome]
) -> list[ArchiveEntry]:
    """The previous archive plus this round's kept prompts, each with its new outcome."""
    by_id = {entry.id: entry for entry in previous}
    for prompt in prompts:
        if not prompt.kept:
            continue
        entry = by_id.get(prompt.id) or ArchiveEntry(id=prompt.id, prompt=prompt, outcomes=[])
        if prompt.id in outcomes:
            entry = entry.model_copy(update={"outcomes": [*entry.outcomes, outcomes[prompt.id]]})
        by_id[prompt.id] = entry
    return sorted(by_id.values(), key=lambda entry: entry.id)


def harmful_entries(archive: list[ArchiveEntry]) -> list[ArchiveEntry]:
    return [entry for entry in archive if entry.prompt.label == "harmful"]


def elites(archive: list[ArchiveEntry], per_cell: int) -> list[ArchiveEntry]:
    """Per cell, the ``per_cell`` fittest attacks against the latest policy they met."""
    cells: dict[tuple[str, str, str], list[ArchiveEntry]] = defaultdict(list)
    for entry in harmful_entries(archive):
        if latest_outcome(entry) is not None:
            cells[cell_of(entry.prompt)].append(entry)
    kept = []
    for members in cells.values():
        members.sort(key=lambda e: (-fitness(latest_outcome(e)), e.id))  # type: ignore[arg-type]
        kept += members[:per_cell]
    return kept


def select_parents(
    archive: list[ArchiveEntry], policy: str, count: int, per_cell: int, min_fitness: float
) -> list[ArchiveEntry]:
    """Elites that met ``policy`` and reached ``min_fitness``, fittest first, spread over cells.

    One elite per cell is taken before any cell gives a second, so a single
    successful cell cannot use the whole budget.
    """
    candidates = [
        entry
        for entry in elites(archive, per_cell)
        if (outcome := latest_outcome(entry)) is not None
        and outcome.policy == policy
        and fitness(outcome) >= min_fitness
    ]
    candidates.sort(key=lambda e: (-fitness(latest_outcome(e)), e.id))  # type: ignore[arg-type]
    chosen: list[ArchiveEntry] = []
    taken: Counter[tuple[str, str, str]] = Counter()
    for level in range(per_cell):
        for entry in candidates:
            if len(chosen) >= count:
                return chosen
            cell = cell_of(entry.prompt)
            if taken[cell] == level and entry not in chosen:
                chosen.append(entry)
                taken[cell] += 1
    return chosen


def cell_counts(archive: list[ArchiveEntry]) -> Counter[tuple[str, str, str]]:
    """How many harmful attacks each cell holds (fresh seeds go where this is low)."""
    return Counter(cell_of(entry.prompt) for entry in harmful_entries(archive))
